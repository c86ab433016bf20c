"""Provisioning: a dynamic resource that converges one rack's nodes with the provision playbook.

Its inputs (:class:`ProvisioningInputs`) are the rack's hosts and two hashes: of the variables
rendered for those hosts and of the roles and playbooks. `up` converges the racks whose inputs
changed and only those, and the racks with a node whose own record (the role `provisioned`,
read back before the run: bringup.provision.markers) says it no longer holds what it was
converged to: the `stale` input names them and why. The provider carries the stack's Access
(pickled with it, not an input: a new key path converges nothing). The outputs are the per-host
results and when the rack was converged; a rack with a failed or unreachable host fails its
resource with a message naming each host and task, while the other racks go on converging.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult
from pydantic import Field

from bringup.access import Access
from bringup.infra.inputs import Inputs, Props
from bringup.provision.runner import ProvisionRequest, run_in_process
from bringup.workspace import Workspace

DIFF_KEYS = ("hosts", "vars_hash", "roles_hash", "playbook", "inventory")


class ProvisioningInputs(Inputs):
    """The inputs of one rack's Provisioning resource."""

    stack: str
    rack: str
    hosts: tuple[str, ...]
    inventory: str
    """The inventory's hosts.yml, relative to the project."""
    playbook: str
    """The playbook, relative to the repository."""
    vars_hash: str
    """Hash of the variables rendered for the rack's nodes (and the groups they read)."""
    roles_hash: str
    """Hash of roles/ and playbooks/."""
    stale: dict[str, str] = Field(default_factory=dict)
    """Nodes found not to hold what they were converged to (re-imaged, replaced, never
    converged, unreachable), with why: the rack is converged again."""

    @property
    def marker(self) -> str:
        """What each node records it was converged to (the role `provisioned`)."""
        return f"{self.vars_hash}:{self.roles_hash}"


STALE: dict[str, dict[str, str]] = {}
"""Resource name -> {node: why it is converged again}, found by this process's program."""


class ProvisioningProvider(ResourceProvider):
    """Runs the playbook for the hosts of one Provisioning resource."""

    serialize_as_secret_always = False

    def __init__(self, access: Access) -> None:
        super().__init__()
        self.access = access

    def create(self, props: Props) -> CreateResult:
        """Converge the rack."""
        inputs = ProvisioningInputs.of(props)
        return CreateResult(id_=f"{inputs.stack}/{inputs.rack}", outs=self._converge(inputs))

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Converge again when the hosts, their variables or the roles changed, or a node no
        longer holds what it was converged to."""
        changed = any(olds.get(k) != news.get(k) for k in DIFF_KEYS)
        return DiffResult(changes=changed or bool(news.get("stale")))

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        """Converge the rack again."""
        return UpdateResult(outs=self._converge(ProvisioningInputs.of(news)))

    def delete(self, _id: str, props: Props) -> None:
        """Nothing to undo: a node keeps what it was given until it is reprovisioned."""

    def _converge(self, inputs: ProvisioningInputs) -> Props:
        workspace = Workspace.here()
        stack = workspace.stack(inputs.stack)
        request = ProvisionRequest(
            playbook=workspace.repository / inputs.playbook,
            inventory=workspace.root / inputs.inventory,
            private_data_dir=stack.runs / inputs.rack,
            hosts=inputs.hosts,
            access=self.access,
            extra_vars={"provisioned_marker": inputs.marker},
            repository=workspace.repository,
        )
        try:
            result = run_in_process(request)
        except RuntimeError as error:
            raise RuntimeError(f"rack {inputs.rack}: {error}") from None
        hosts = {
            h: r.model_dump(include={"status", "changed", "failed_task", "message"})
            for h, r in result.hosts.items()
        }
        bad = [
            f"{h} {r.status}"
            + (f" at '{r.failed_task}'" if r.failed_task else "")
            + f": {r.message}"
            for h, r in sorted(result.hosts.items())
            if r.status in ("failed", "unreachable")
        ]
        missing = sorted(set(inputs.hosts) - set(hosts))
        if not hosts:
            output = (result.artifacts / "stdout").read_text(errors="replace")[-1500:]
            raise RuntimeError(
                f"rack {inputs.rack}: the playbook did not run ({result.status}): {output.strip()}"
            )
        if bad or missing:
            detail = "; ".join(bad + [f"{h} not reached by the play" for h in missing])
            raise RuntimeError(f"rack {inputs.rack}: {detail} (artifacts: {result.artifacts})")
        converged = datetime.now(UTC).isoformat(timespec="seconds")
        return {**inputs.props(), "results": hosts, "converged": converged}


class Provisioning(Resource, module="bringup", name="Provisioning"):
    """One rack (or SU) converged by the provision playbook."""

    results: pulumi.Output[Props]
    converged: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        inputs: ProvisioningInputs,
        access: Access,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Converge `inputs.hosts`, reaching them as `access` says."""
        props = {**inputs.props(), "results": None, "converged": None}
        super().__init__(ProvisioningProvider(access), name, props, opts)


def text_hash(texts: list[str]) -> str:
    """sha256 over some rendered texts, in the order given."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()
