"""How bringup reaches a stack's nodes: SSH settings, Ansible's environment, the far end of cables.

An :class:`Access` is produced in exactly one place per source and handed to whatever needs to
reach nodes (provisioning, admission, the engine's resources); none of them looks for files of
its own. The source is chosen by the stack's declaration (``access.via``):

- ``ssh`` (the default): a site's nodes, reached with the declared user, key, known_hosts and
  ssh_config, or Ansible's own SSH configuration where nothing is declared
  (:func:`site_access`);
- ``lab``: the embedded lab on this host, which produces its key, known_hosts, ssh_config and
  overrides (``bringup.lab.lab.lab_access``).

Far-end adapters say whether the switch end of a cable is up; they sit in :data:`FAR_ENDS` by
name (``none``, ``lab``; later ``ufm``), and an Access carries the name, not the adapter, so that
it crosses process boundaries as plain JSON. Registries hold import paths, as testinfra's
backends do: an adapter's module is imported only when it is used. The scheduler is reached the
same way: :class:`SchedulerAccess` names an adapter of ``bringup.scheduler.adapter.ADAPTERS`` and
the environment its client tools run in. A site's is the declared scheduler's own (the system's
tools and configuration); the lab gives its own.

>>> a = Access(private_key=Path("/k"))
>>> a.ansible_env()["ANSIBLE_PRIVATE_KEY_FILE"], a.far_end_view()("cable-1")
('/k', None)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol, cast

from pydantic import Field, JsonValue

from bringup.errors import BringupError
from bringup.spec import AccessSpec, Scheduler
from bringup.wire import Wire
from bringup.workspace import Workspace

FarEnd = Callable[[str], bool | None]
"""Whether the far end of a cable (by cable id) is up; None when the fabric cannot say."""

FAR_ENDS: Mapping[str, str] = {
    "none": "bringup.access:no_far_end",
    "lab": "bringup.lab.far_end:lab_far_end",
}
"""Far-end adapters by name: "module:function" returning a FarEnd."""

SOURCES: Mapping[str, str] = {
    "ssh": "bringup.access:site_access",
    "lab": "bringup.lab.lab:lab_access",
}
"""Who produces a stack's Access, by the declaration's ``access.via``: "module:function" of
(workspace, stack, declaration) returning an Access."""


class AccessError(BringupError):
    """An Access that cannot be produced or used."""


class StagedSlurm(Protocol):
    """A Slurm build staged outside the system's folders (``bringup.workspace.SlurmInstall``)."""

    def program(self, name: str) -> Path:
        """The path of one of its programs."""
        ...

    def env(self, conf: Path | None = None) -> dict[str, str]:
        """The environment its programs run in, with SLURM_CONF when `conf` is given."""
        ...


STAGED_VARIABLES = ("LD_LIBRARY_PATH", "SLURM_CONF")
"""What a staged Slurm's environment adds that its client tools need; nothing else of this
process's environment goes into an Access (it crosses into other processes and the engine's
state)."""


class SchedulerAccess(Wire):
    """How bringup reaches the stack's scheduler: an adapter by name, and its tools' environment.

    >>> SchedulerAccess.slurm(Path("/etc/slurm-lab/slurm.conf")).env
    {'SLURM_CONF': '/etc/slurm-lab/slurm.conf'}
    """

    adapter: str = "none"
    """The scheduler adapter, a name of ``bringup.scheduler.adapter.ADAPTERS``."""
    env: dict[str, str] = Field(default_factory=dict)
    """What the client tools' environment adds to this process's (SLURM_CONF, LD_LIBRARY_PATH)."""
    bin_dir: Path | None = None
    """Where the client tools are (scontrol, sinfo); None: found on PATH."""
    context: str | None = None
    """Kubernetes: the kubeconfig's context (None: its current one)."""

    @classmethod
    def declared(cls, scheduler: Scheduler) -> SchedulerAccess:
        """A site's scheduler as its declaration names it, driven with the system's tools and
        configuration (Slurm's slurm.conf; the kubeconfig kubectl would read)."""
        return cls.slurm() if scheduler.kind == "slurm" else cls.kubernetes()

    @classmethod
    def kubernetes(
        cls, kubeconfig: Path | None = None, context: str | None = None
    ) -> SchedulerAccess:
        """Kubernetes through a kubeconfig (None: KUBECONFIG, else ~/.kube/config, as kubectl
        reads them) and one of its contexts (None: its current one)."""
        env = {} if kubeconfig is None else {"KUBECONFIG": str(kubeconfig)}
        return cls(adapter="kubernetes", env=env, context=context)

    @classmethod
    def slurm(cls, conf: Path | None = None, install: StagedSlurm | None = None) -> SchedulerAccess:
        """Slurm through its client tools: the system's (PATH, its own SLURM_CONF) unless
        `install` names a staged build; `conf` picks the slurm.conf they read."""
        if install is None:
            return cls(adapter="slurm", env={} if conf is None else {"SLURM_CONF": str(conf)})
        staged = install.env(conf)
        return cls(
            adapter="slurm",
            env={k: staged[k] for k in STAGED_VARIABLES if k in staged},
            bin_dir=install.program("scontrol").parent,
        )


class Access(Wire):
    """How to reach one stack's nodes from this controller (JSON across processes)."""

    source: Literal["ssh", "lab"] = "ssh"
    user: str = "root"
    private_key: Path | None = None
    known_hosts: Path | None = None
    ssh_config: Path | None = None
    """An ssh_config for testinfra (``--ssh-config``) and plain ``ssh -F``."""
    extra_vars: dict[str, JsonValue] = Field(default_factory=dict)
    """What playbook runs add to the rendered inventory's variables."""
    far_end: str = "none"
    """The far-end adapter, a name of FAR_ENDS."""
    scheduler: SchedulerAccess = SchedulerAccess()
    """The scheduler admission holds and releases nodes in."""
    node_python: list[str] = Field(default_factory=list)
    """The command that runs bringup's Python on a node, for the jobs of fleet-scale admission
    (``<command> -m bringup.admit.on_node``); empty: this controller's interpreter, at the same
    path on the nodes (a site installs bringup there, or shares it)."""

    def ansible_env(self) -> dict[str, str]:
        """Ansible's environment for these settings: strict host-key checking, always."""
        # A connection master whose host went away (a lab node recreated at the same address, a
        # node rebooted) must not hang the next task: keepalives end it within 30 s, which a
        # loaded controller still answers in time.
        args = [
            "-o ControlMaster=auto",
            "-o ControlPersist=60s",
            "-o ServerAliveInterval=10",
            "-o ServerAliveCountMax=3",
            "-o StrictHostKeyChecking=yes",
        ]
        if self.known_hosts is not None:
            args.append(f"-o UserKnownHostsFile={self.known_hosts}")
        env = {
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_SSH_ARGS": " ".join(args),
            "ANSIBLE_REMOTE_USER": self.user,
        }
        if self.private_key is not None:
            env["ANSIBLE_PRIVATE_KEY_FILE"] = str(self.private_key)
        return env

    def far_end_view(self) -> FarEnd:
        """The far-end adapter's view, read now."""
        factory = cast(Callable[[], FarEnd], load(FAR_ENDS, self.far_end, "far-end adapter"))
        return factory()


def no_far_end() -> FarEnd:
    """No view of the fabric: attribution never blames a cable."""
    return lambda _cable: None


def site_access(workspace: Workspace, stack: str, declared: AccessSpec) -> Access:
    """A site's Access, as its declaration says (paths relative to the project)."""

    def path(value: str | None) -> Path | None:
        return None if value is None else workspace.root / value

    return Access(
        source="ssh",
        user=declared.user,
        private_key=path(declared.private_key),
        known_hosts=path(declared.known_hosts),
        ssh_config=path(declared.ssh_config),
    )


def stack_access(
    workspace: Workspace, stack: str, declared: AccessSpec, scheduler: Scheduler | None = None
) -> Access:
    """The Access of `stack`, from the source its declaration names. A site (``via: ssh``)
    reaches the declared `scheduler` with the system's tools; the lab gives its own."""
    produce = cast(
        Callable[[Workspace, str, AccessSpec], Access], load(SOURCES, declared.via, "source")
    )
    access = produce(workspace, workspace.stack(stack).name, declared)
    if declared.via == "ssh" and scheduler is not None:
        return access.model_copy(update={"scheduler": SchedulerAccess.declared(scheduler)})
    return access


def load(registry: Mapping[str, str], name: str, what: str) -> object:
    """The registered object `name`, its module imported now."""
    if name not in registry:
        raise AccessError(f"{what} {name!r}: expected one of {', '.join(sorted(registry))}")
    module, _, attribute = registry[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
