"""Admission: a dynamic resource that burns in, validates and judges one rack's nodes.

It follows the rack's Provisioning resource. Its inputs (:class:`AdmissionInputs`) are the
rack's hosts, its NVLink domains, the policy and DCGM level, the hash of the provisioning
results (a new converge means a new judgement), the hash of the validation suite, and the
latest repair mark of each of its nodes in the ledger (`bringup repaired`), so that a preview
shows why a rack is judged again. `up` judges again the racks whose inputs changed. Quarantine
is an outcome, not an error: the resource succeeds with the admitted, quarantined and
unreachable nodes and their findings as outputs; only a run that cannot judge at all fails it.
"""

from __future__ import annotations

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult
from pydantic import Field

from bringup.access import Access
from bringup.admit.admission import AdmissionRequest, admit_in_process
from bringup.admit.verdict import DomainPolicy
from bringup.infra.inputs import Inputs, Props
from bringup.workspace import Workspace

DIFF_KEYS = (
    "hosts",
    "domains",
    "policy",
    "dcgm_level",
    "provisioned_hash",
    "suite_hash",
    "repairs",
)


class AdmissionInputs(Inputs):
    """The inputs of one rack's Admission resource (but the provisioning hash, an output of the
    rack's Provisioning, which :class:`Admission` adds)."""

    stack: str
    rack: str
    hosts: tuple[str, ...]
    inventory: str
    """The inventory's hosts.yml, relative to the project."""
    domains: dict[str, tuple[str, ...]]
    """The rack's NVLink domains of several nodes: domain -> members."""
    policy: str
    dcgm_level: int
    suite_hash: str
    repairs: dict[str, str]
    """Node -> its latest repair mark in the ledger, for the rack's nodes ever repaired."""
    states: dict[str, str] = Field(default_factory=dict)
    """Node -> its state in the ledger when the program ran ('unknown' when it has none)."""
    provisioned_hash: str = ""


def outdated(olds: Props, news: AdmissionInputs) -> dict[str, str]:
    """The nodes whose recorded verdict the ledger no longer holds: node -> 'recorded, now'."""
    verdicts = olds.get("verdicts")
    if not isinstance(verdicts, dict) or not news.states:
        return {}
    recorded = dict.fromkeys(verdicts.get("admitted") or (), "admitted")
    recorded |= dict.fromkeys(verdicts.get("quarantined") or {}, "quarantined")
    recorded |= dict.fromkeys(verdicts.get("unreachable") or (), "unreachable")
    return {
        node: f"{recorded.get(node, 'not judged')}, now {news.states[node]}"
        for node in news.hosts
        if node in news.states and news.states[node] != recorded.get(node)
    }


class AdmissionProvider(ResourceProvider):
    """Runs `python -m bringup.admit` for the hosts of one Admission resource."""

    serialize_as_secret_always = False

    def __init__(self, access: Access) -> None:
        super().__init__()
        self.access = access

    def create(self, props: Props) -> CreateResult:
        """Judge the rack."""
        inputs = AdmissionInputs.of(props)
        return CreateResult(id_=f"{inputs.stack}/{inputs.rack}", outs=self._judge(inputs))

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Judge again when an input changed (hosts, policy, provisioning, suite, a repair), or
        when the ledger no longer holds the verdicts this resource recorded."""
        changed = any(olds.get(k) != news.get(k) for k in DIFF_KEYS)
        return DiffResult(changes=changed or bool(outdated(olds, AdmissionInputs.of(news))))

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        """Judge the rack again."""
        return UpdateResult(outs=self._judge(AdmissionInputs.of(news)))

    def delete(self, _id: str, props: Props) -> None:
        """The ledger keeps the history; nothing to undo."""

    def _judge(self, inputs: AdmissionInputs) -> Props:
        workspace = Workspace.here()
        stack = workspace.stack(inputs.stack)
        request = AdmissionRequest(
            stack=stack.name,
            hosts=inputs.hosts,
            inventory=workspace.root / inputs.inventory,
            work=stack.admission,
            domains=inputs.domains,
            policy=DomainPolicy.parse(inputs.policy),
            dcgm_level=inputs.dcgm_level,
            burn_in=True,
            access=self.access,
            repository=workspace.repository,
        )
        try:
            result = admit_in_process(request, workspace.ledger)
        except RuntimeError as error:
            raise RuntimeError(f"rack {inputs.rack}: {error}") from None
        return {**inputs.props(), "verdicts": result.summary()}


class Admission(Resource, module="bringup", name="Admission"):
    """One rack's nodes judged: admitted, quarantined with findings, or unreachable."""

    verdicts: pulumi.Output[Props]

    def __init__(
        self,
        name: str,
        inputs: AdmissionInputs,
        provisioned_hash: pulumi.Input[str],
        access: Access,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Judge `inputs.hosts` after their provisioning (`provisioned_hash`), reaching them
        as `access` says."""
        props = {**inputs.props(), "provisioned_hash": provisioned_hash, "verdicts": None}
        super().__init__(AdmissionProvider(access), name, props, opts)
