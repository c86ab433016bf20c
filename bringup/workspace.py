"""Every path bringup reads or writes for a project and its stacks, in one place.

A project is a folder (the repository checkout, or any folder a test or a site uses) that holds
the stack declarations, the rendered inventories and bringup's state:

    stacks/Pulumi.<stack>.yaml      declarations (or any folder given with --stacks-dir)
    inventory/<stack>/              rendered inventory (hosts.yml, group_vars/, host_vars/…)
    .state/pulumi/                  the engine's local backend; .state/pulumi-home its home
    .state/workspace/<stack>/       the engine's project folder, with a copy of the stack config
    .state/artifacts/<stack>/       content-addressed store of the stack's rendered files
    .state/secrets/<stack>/         the cluster's MUNGE key (munge.key, 0600), from stack config
    .state/logs/                    engine logs of failed operations, internal errors (bounded)
    .state/engine/bin/              the engine's wrappers: the CLI and the dynamic providers
    .state/runs/<stack>/            ansible-runner's folders (artifacts of each playbook run)
    .state/admission/<stack>/       burn-in outputs and suite reports of admission runs
    .state/incidents/<stack>/<id>/  the evidence bundle of each in-service incident
    .state/drills/<stack>/          the summary of each `bringup lab drill` (<time>-<fault>.json)
    .state/ledger.sqlite3           the admission ledger (unless BRINGUP_LEDGER_URL is set)

The lab keeps its own folder beside these (bringup.lab owns it). What ships with bringup (roles/,
playbooks/, the validation suite, the engine built into .tools/) lives in the `repository`, which
is the project itself for a checkout and another folder for tests and benchmarks.

A stack name is checked once, here: it becomes a folder name, so it is a plain name, never a path.

>>> ws = Workspace(Path("/srv/site"))
>>> ws.stack("lab").inventory
PosixPath('/srv/site/inventory/lab')
>>> try:
...     ws.stack("../etc")
... except WorkspaceError as error:
...     print(str(error)[:40])
stack '../etc': expected a name of lette
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bringup.errors import BringupError

REPOSITORY = Path(__file__).resolve().parents[1]
"""The folder bringup ships with: roles/, playbooks/, templates/, tests/validation, .tools/."""
ROOT_VARIABLE = "BRINGUP_ROOT"
"""Names the project folder for processes the engine starts (dynamic providers)."""

_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class WorkspaceError(BringupError):
    """A stack name or project path that bringup cannot use."""


def check_stack_name(name: str) -> str:
    """`name` when it is a plain stack name; WorkspaceError naming it otherwise."""
    if not _STACK_NAME.fullmatch(name) or ".." in name:
        raise WorkspaceError(
            f"stack {name!r}: expected a name of letters, digits, '-', '_' and '.' "
            "(e.g. gb200-su), not a path"
        )
    return name


@dataclass(frozen=True)
class Workspace:
    """The paths of one project; `repository` is where bringup's own files are."""

    root: Path
    repository: Path = REPOSITORY
    stacks: Path = field(default=Path(), compare=False)
    """Folder of Pulumi.<stack>.yaml files (default: the project's stacks/)."""

    def __post_init__(self) -> None:
        if self.stacks == Path():
            object.__setattr__(self, "stacks", self.root / "stacks")

    @classmethod
    def here(cls) -> Workspace:
        """The project of this process: ``$BRINGUP_ROOT``, else the working directory."""
        return cls(Path(os.environ.get(ROOT_VARIABLE) or os.getcwd()).absolute())

    @property
    def state(self) -> Path:
        """bringup's state folder (git-ignored)."""
        return self.root / ".state"

    @property
    def ledger(self) -> Path:
        """The SQLite ledger."""
        return self.state / "ledger.sqlite3"

    @property
    def logs(self) -> Path:
        """Logs kept for the user to read: failed engine operations, internal errors."""
        return self.state / "logs"

    @property
    def engine_bin(self) -> Path:
        """The wrappers the engine runs: its CLI and the dynamic providers' host."""
        return self.state / "engine" / "bin"

    @property
    def pulumi_backend(self) -> Path:
        """The engine's local file backend."""
        return self.state / "pulumi"

    @property
    def pulumi_home(self) -> Path:
        """PULUMI_HOME of the engine runs."""
        return self.state / "pulumi-home"

    @property
    def tools(self) -> Path:
        """Where scripts/build-pulumi builds the engine (``<repository>/.tools``)."""
        return self.repository / ".tools"

    @property
    def slurm(self) -> SlurmInstall:
        """The Slurm scripts/build-slurm builds into .tools/slurm."""
        return SlurmInstall(self.tools)

    @property
    def kubernetes(self) -> KubernetesInstall:
        """The kube-apiserver and etcd scripts/build-kubernetes builds into .tools/kubernetes."""
        return KubernetesInstall(self.tools)

    def stack_file(self, name: str) -> Path:
        """The declaration of stack `name`."""
        return self.stacks / f"Pulumi.{check_stack_name(name)}.yaml"

    def known_stacks(self) -> list[str]:
        """Names of the stacks declared in the stacks folder."""
        return sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in self.stacks.glob("Pulumi.*.yaml")
        )

    def stack(self, name: str) -> StackPaths:
        """The paths of stack `name` (checked: a plain name, never a path)."""
        return StackPaths(self, check_stack_name(name))

    def digest(self, *folders: str) -> str:
        """sha256 over every file (path and bytes) under `folders` of the repository, sorted."""
        digest = hashlib.sha256()
        for folder in folders:
            for path in sorted((self.repository / folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    relative = str(path.relative_to(self.repository)).encode()
                    digest.update(relative + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class StackPaths:
    """The paths of one stack of a project."""

    workspace: Workspace
    name: str

    @property
    def inventory_dir(self) -> str:
        """The inventory folder relative to the project (what resources record)."""
        return f"inventory/{self.name}"

    @property
    def inventory(self) -> Path:
        """The rendered inventory folder."""
        return self.workspace.root / self.inventory_dir

    @property
    def hosts_file(self) -> Path:
        """The inventory's hosts.yml: what Ansible and testinfra are given."""
        return self.inventory / "hosts.yml"

    @property
    def engine(self) -> Path:
        """The engine's project folder for this stack."""
        return self.workspace.state / "workspace" / self.name

    @property
    def runs(self) -> Path:
        """ansible-runner's private data folders of this stack's playbook runs."""
        return self.workspace.state / "runs" / self.name

    @property
    def admission(self) -> Path:
        """Burn-in outputs and suite reports of this stack's admission runs."""
        return self.workspace.state / "admission" / self.name

    @property
    def incidents(self) -> Path:
        """The evidence bundles of the stack's incidents, one folder each."""
        return self.workspace.state / "incidents" / self.name

    @property
    def drills(self) -> Path:
        """The JSON summaries of the stack's drills, one file each, named by time and fault."""
        return self.workspace.state / "drills" / self.name

    @property
    def artifacts_dir(self) -> str:
        """The stack's blob store relative to the project (what resources record): a store per
        stack, so that one stack's `up` never prunes what another is writing."""
        return f".state/artifacts/{self.name}"

    @property
    def artifacts(self) -> Path:
        """The stack's content-addressed store of rendered files."""
        return self.workspace.root / self.artifacts_dir

    @property
    def munge_key_file(self) -> str:
        """The cluster's MUNGE key file relative to the project (what the MungeKey resource
        records), written from the stack's secret config."""
        return f".state/secrets/{self.name}/munge.key"


SLURM_VERSION = "24.11.5"
KUBERNETES_VERSION = "v1.37.2"
"""The Kubernetes release scripts/build-kubernetes builds (its version stamp)."""
KUEUE_VERSION = "v0.17.0"
"""The Kueue release whose CRDs scripts/build-kubernetes keeps beside the build."""
"""The Slurm release scripts/build-slurm builds (topology/block with BlockSizes needs 24.05+)."""


@dataclass(frozen=True, slots=True)
class SlurmInstall:
    """The Slurm scripts/build-slurm stages under ``<tools>/slurm`` (configured for ``/usr``
    like SchedMD's packages): the lab packages it for its nodes, and this host runs the
    controller and the client tools from it, finding the library through LD_LIBRARY_PATH and
    the plugins through slurm.conf's PluginDir."""

    tools: Path

    @property
    def dir(self) -> Path:
        """``.tools/slurm``: the build folder, the staging tree and the version stamp."""
        return self.tools / "slurm"

    @property
    def version(self) -> str:
        """The Slurm release built."""
        return SLURM_VERSION

    @property
    def root(self) -> Path:
        """The staging tree: usr/bin, usr/sbin, usr/lib/slurm as a package installs them."""
        return self.dir / "root"

    @property
    def plugin_dir(self) -> Path:
        """The staged plugins (and libslurmfull)."""
        return self.root / "usr" / "lib" / "slurm"

    def built(self) -> bool:
        """Whether scripts/build-slurm has built this release."""
        stamp = self.dir / "version"
        return (self.root / "usr/sbin/slurmctld").exists() and (
            stamp.exists() and stamp.read_text().strip() == SLURM_VERSION
        )

    def program(self, name: str) -> Path:
        """A staged program: a client tool (usr/bin) or a daemon (usr/sbin)."""
        for folder in ("usr/bin", "usr/sbin"):
            path = self.root / folder / name
            if path.exists():
                return path
        return self.root / "usr/bin" / name

    def env(self, conf: Path | None = None) -> dict[str, str]:
        """The environment a staged program runs in: this process's, the staged library first,
        and SLURM_CONF when `conf` is given."""
        env = dict(os.environ)
        libraries = [str(self.plugin_dir), str(self.root / "usr/lib")]
        if env.get("LD_LIBRARY_PATH"):
            libraries.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(libraries)
        if conf is not None:
            env["SLURM_CONF"] = str(conf)
        return env


@dataclass(frozen=True)
class KubernetesInstall:
    """kube-apiserver and etcd as scripts/build-kubernetes builds them into
    ``<tools>/kubernetes/bin``: the lab's Kubernetes stacks run them on this host."""

    tools: Path

    @property
    def bin(self) -> Path:
        """The built programs and their version stamp."""
        return self.tools / "kubernetes" / "bin"

    @property
    def crds(self) -> Path:
        """Kueue's Topology and ResourceFlavor CRDs, as its release ships them."""
        return self.tools / "kubernetes" / "crds"

    def program(self, name: str) -> Path:
        """``kube-apiserver`` or ``etcd``."""
        return self.bin / name

    def built(self) -> bool:
        """Whether scripts/build-kubernetes has built this release and kept Kueue's CRDs."""
        stamps = {self.bin / ".version": KUBERNETES_VERSION, self.crds / ".version": KUEUE_VERSION}
        programs = all(self.program(n).exists() for n in ("kube-apiserver", "etcd"))
        return programs and all(
            p.exists() and p.read_text().strip() == v for p, v in stamps.items()
        )
