"""Slurm's configuration of a plan: slurm.conf, gres.conf, topology.conf and cgroup.conf.

What a site changes (where the controller runs, its paths, cgroups or not) is a
:class:`SlurmSite`; everything else comes from the plan and the catalog:

- nodes: one ``NodeName`` line per SKU and SU, hostlist-compressed, with ``NodeAddr`` the
  in-band management address of each node (Slurm pairs the two lists by position), the host's
  sockets, cores, threads and memory from the catalog, ``Gres=gpu:<n>`` and ``Feature=<sku>``.
  ``RealMemory`` keeps :data:`MEMORY_RESERVE` of the installed memory back for the operating
  system: a node whose slurmd finds less memory than configured is drained ("Low RealMemory").
  No ``State=``: bringup's Slurm adapter holds a new node (drained, with a reason of its own)
  until it is admitted, and ``ReturnToService=0`` keeps a node that went down out until bringup,
  which revalidates it first, resumes it.
- partitions: one per GPU SKU (named after it), ``gpu`` over every GPU node (the default), and
  ``cpu`` over the CPU nodes, as the inventory's ``partition-*`` groups (bringup/render/hosts.py).
  A partition lists node sets (``NodeSet=sku-<sku> Feature=<sku>``), not the nodes themselves,
  which keeps the file small at 25,000 nodes. Jobs get CPUs and memory per GPU (or per CPU) by
  default, in proportion to the node, so that a job that asks for GPUs only leaves the rest of
  the node to others. MaxTime is a week: training runs checkpoint and requeue well within it,
  and a node that a job never leaves is a node that never gets its health checks.
- topology: the plan's (:func:`bringup.plan.scheduler.slurm_topology`).

>>> from pathlib import Path
>>> from bringup.plan import make_plan
>>> from bringup.spec import load_cluster
>>> cluster = load_cluster(Path("stacks/Pulumi.lab.yaml"))
>>> files = render_slurm_files(make_plan(cluster), SlurmSite.of(cluster))
>>> sorted(files)
['cgroup.conf', 'gres.conf', 'slurm.conf', 'topology.conf']
>>> [line for line in files["slurm.conf"].splitlines() if line.startswith("SlurmctldHost")]
['SlurmctldHost=lab-slurmctld']
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bringup.catalog import Sku, load_catalog
from bringup.plan import Plan
from bringup.plan.expectation import management_address
from bringup.plan.model import Node
from bringup.plan.scheduler import hostlist, slurm_topology
from bringup.render.environment import template
from bringup.render.hosts import partition_group, sku_group
from bringup.spec import Cluster

MEMORY_RESERVE = 0.05
"""Share of a node's installed memory not offered to jobs: the kernel's own reservations
(a 2 TiB DGX H100 shows about 2,015 GiB), the OS, slurmd, the NVIDIA daemons and the page cache
of the node's own services. A fixed fraction rather than a fixed amount, as those grow with
the node; it also absorbs memory figures that are the vendor's and not yet a capture's."""

REQUEUE_EXIT = 85
"""The exit status that puts a batch job back in the queue (slurm.conf's RequeueExit): what a
training job's batch script returns when a step failed under it, so that it resumes from its
checkpoint on healthy nodes rather than ending."""

GPU_PARTITION = "gpu"
"""The partition of every GPU node, whatever its SKU: the default one."""

_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")  # a host's short name
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_PATH = re.compile(r"^/[A-Za-z0-9._/+@-]*$")


class SiteError(ValueError):
    """A SlurmSite value that would not make a valid slurm.conf; names the field and value."""


@dataclass(frozen=True, slots=True)
class SlurmSite:
    """Where and how Slurm runs: production defaults; the lab passes its own.

    >>> SlurmSite(controller="ctl", controller_address="10.64.0.9").controller_host
    'ctl(10.64.0.9)'
    """

    controller: str
    """SlurmctldHost name: the name the controller's host calls itself."""
    controller_address: str | None = None
    """The address the nodes reach the controller at; None: they resolve its name."""
    controller_port: int = 6817
    """SlurmctldPort."""
    plugin_dir: str | None = None
    """PluginDir (a colon list of folders); None: the compiled-in default."""
    state_dir: str = "/var/spool/slurmctld"
    """StateSaveLocation of the controller."""
    spool_dir: str = "/var/spool/slurmd"
    """SlurmdSpoolDir of the nodes."""
    log_dir: str = "/var/log/slurm"
    """Folder of slurmctld.log and slurmd.log."""
    run_dir: str = "/run/slurm"
    """Folder of the pid files."""
    controller_log_dir: str | None = None
    """Folder of slurmctld.log when not `log_dir` (a controller whose folders the nodes lack)."""
    controller_run_dir: str | None = None
    """Folder of slurmctld's pid file when not `run_dir`."""
    slurm_user: str = "slurm"
    """SlurmUser: the user slurmctld runs as."""
    cgroup: bool = True
    """False: proctrack/linuxproc, task/none and CgroupPlugin=disabled (network namespaces)."""
    config_overrides: bool = False
    """SlurmdParameters=config_overrides: nodes take the configured hardware, not their own."""
    gpu_device: str = "/dev/nvidia"
    """Prefix of the GPU device files in gres.conf (``<prefix>0`` …)."""
    auth_socket: str | None = None
    """MUNGE socket (AuthInfo=socket=…); None: munged's default."""
    mail_program: str = "/bin/true"
    """MailProg: none by default (slurmctld logs an error at every start without a mailer)."""
    health_program: str = "/usr/local/sbin/bringup-health"
    """HealthCheckProgram, installed on every node by the health_check role."""
    epilog: str = "/usr/local/sbin/bringup-epilog"
    """Epilog: the same health check after every job, so a part that failed a job is found
    before the job's requeue lands on the node again (it always exits 0: an epilog that fails
    makes Slurm drain the node under a reason of its own)."""
    health_interval_s: int = 60
    """HealthCheckInterval (the stack's ``health.interval_s``)."""
    health_node_state: str = "ANY,CYCLE"
    """HealthCheckNodeState: every node, each at its own moment of the interval, so the checks
    of a cluster do not all land on the controller's watch in the same second."""
    requeue_wait_s: int = 30
    """How long a requeued job waits before it may start again (AuthInfo's cred_expire; 120 s
    by default). A job requeued after a fault restarts within this on healthy nodes; 30 s still
    gives a job step's credential time to reach a busy node."""
    sched_interval_s: int | None = None
    """SchedulerParameters' sched_interval: how often the main loop looks at every pending job
    (None: Slurm's 60 s). A requeued job waits for it once its requeue wait is over: no event
    wakes the scheduler then."""
    future_nodes: bool = False
    """State=FUTURE on every node: defined, but neither contacted nor scheduled until made
    available (``scontrol update … State=…``); for a controller run without its nodes."""

    def __post_init__(self) -> None:
        problem = next(self._problems(), None)
        if problem is not None:
            raise SiteError(problem)

    def _problems(self) -> Iterator[str]:
        if not _NAME.fullmatch(self.controller):
            yield f"controller: got {self.controller!r}; expected a host's short name"
        if self.controller_address is not None:
            try:
                ipaddress.IPv4Address(self.controller_address)
            except ValueError:
                yield (
                    f"controller_address: got {self.controller_address!r}; expected an IPv4 address"
                )
        if isinstance(self.controller_port, bool) or not 0 < self.controller_port < 65536:
            yield f"controller_port: got {self.controller_port!r}; expected a port, 1 to 65535"
        paths = {
            "plugin_dir": self.plugin_dir,
            "state_dir": self.state_dir,
            "spool_dir": self.spool_dir,
            "log_dir": self.log_dir,
            "run_dir": self.run_dir,
            "controller_log_dir": self.controller_log_dir,
            "controller_run_dir": self.controller_run_dir,
            "gpu_device": self.gpu_device,
            "auth_socket": self.auth_socket,
            "mail_program": self.mail_program,
            "health_program": self.health_program,
            "epilog": self.epilog,
        }
        for field, value in paths.items():
            # PluginDir alone is a list, of folders joined by ':'
            parts = value.split(":") if field == "plugin_dir" and value is not None else [value]
            if not all(p is None or _PATH.fullmatch(p) for p in parts):
                yield (
                    f"{field}: got {value!r}; expected an absolute path of letters, digits "
                    "and ._+@-/ (slurm.conf has no quoting)"
                )
        if not re.fullmatch(r"[A-Z_]+(,[A-Z_]+)*", self.health_node_state):
            yield f"health_node_state: got {self.health_node_state!r}; expected e.g. ANY,CYCLE"
        for field, number in (
            ("health_interval_s", self.health_interval_s),
            ("requeue_wait_s", self.requeue_wait_s),
            ("sched_interval_s", self.sched_interval_s or 60),
        ):
            if isinstance(number, bool) or not 0 < number <= 86400:
                yield f"{field}: got {number!r}; expected seconds, 1 to 86400"
        if not _USER.fullmatch(self.slurm_user):
            yield f"slurm_user: got {self.slurm_user!r}; expected a user name"

    @classmethod
    def of(cls, cluster: Cluster) -> SlurmSite:
        """Production defaults for `cluster`, with the controller its scheduler section names."""
        scheduler = cluster.scheduler
        address = scheduler.controller_address
        return cls(
            controller=scheduler.controller_in(cluster.name),
            controller_address=str(address) if address is not None else None,
            health_interval_s=cluster.health.interval_s,
        )

    @property
    def auth_info(self) -> str:
        """The AuthInfo value: the MUNGE socket, when not the default, and cred_expire."""
        socket = f"socket={self.auth_socket}," if self.auth_socket else ""
        return f"{socket}cred_expire={self.requeue_wait_s}"

    @property
    def controller_host(self) -> str:
        """The SlurmctldHost value: ``name`` or ``name(address)``."""
        address = f"({self.controller_address})" if self.controller_address else ""
        return f"{self.controller}{address}"


@dataclass(frozen=True, slots=True)
class NodeLine:
    """One NodeName line: nodes of one SKU (in one SU) that share every setting."""

    sku: Sku
    names: tuple[str, ...]
    addresses: tuple[str, ...] | None  # one per name, in the same order; None: resolve names

    def render(self, state: str | None = None) -> str:
        """The slurm.conf line."""
        host = self.sku.host
        parts = [f"NodeName={hostlist(self.names)}"]
        if self.addresses is not None:
            parts.append(f"NodeAddr={hostlist(self.addresses)}")
        parts += [
            f"Sockets={host.sockets}",
            f"CoresPerSocket={host.cores_per_socket}",
            f"ThreadsPerCore={host.threads_per_core}",
            f"RealMemory={real_memory_mib(self.sku)}",
        ]
        if self.sku.gpus_per_unit:
            parts.append(f"Gres=gpu:{self.sku.gpus_per_unit}")
        parts.append(f"Feature={self.sku.id}")
        if state is not None:
            parts.append(f"State={state}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: the node sets (SKUs) it spans and its defaults per GPU or per CPU."""

    name: str
    skus: tuple[Sku, ...]
    default: bool

    def render(self) -> str:
        """The slurm.conf line."""
        parts = [
            f"PartitionName={self.name}",
            f"Nodes={','.join(node_set(s.id) for s in self.skus)}",
        ]
        if self.default:
            parts.append("Default=YES")
        parts.append("MaxTime=7-00:00:00")
        if all(s.gpus_per_unit for s in self.skus):
            per_gpu = [
                (s.host.cpus // s.gpus_per_unit, _per(s, s.gpus_per_unit)) for s in self.skus
            ]
            parts.append(f"DefCpuPerGPU={min(c for c, _ in per_gpu)}")
            parts.append(f"DefMemPerGPU={min(m for _, m in per_gpu)}")
        else:
            parts.append(f"DefMemPerCPU={min(_per(s, s.host.cpus) for s in self.skus)}")
        parts.append("State=UP")
        return " ".join(parts)


def real_memory_mib(sku: Sku) -> int:
    """RealMemory of a node of `sku` in MiB: its installed memory less :data:`MEMORY_RESERVE`."""
    return int(sku.host.memory_gib * 1024 * (1 - MEMORY_RESERVE))


def node_set(sku: str) -> str:
    """The NodeSet of the nodes of one SKU: named as its inventory group."""
    return sku_group(sku)


def partition_name(sku: str | None) -> str:
    """The partition of one GPU SKU, or of every CPU node (None): the inventory's partition
    group without its ``partition-`` prefix (``hgx-h100``, ``cpu``)."""
    return partition_group(sku).removeprefix("partition-")


def node_lines(plan: Plan) -> list[NodeLine]:
    """The NodeName lines of `plan`: one per SKU and SU (and per kind of address), in the
    plan's order, so that each stays a few hostlist ranges long."""
    catalog = load_catalog()
    groups: dict[tuple[str, int, bool], list[tuple[Node, str | None]]] = {}
    for node in plan.nodes:
        address = management_address(plan, node)
        groups.setdefault((node.sku, node.su, address is not None), []).append((node, address))
    lines = []
    for (sku, _, addressed), members in groups.items():
        names = tuple(node.name for node, _ in members)
        addresses = tuple(a for _, a in members if a is not None) if addressed else None
        lines.append(NodeLine(catalog.sku(sku), names, addresses))
    return lines


def partitions(plan: Plan) -> list[Partition]:
    """One partition per GPU SKU, ``gpu`` over all of them (the default), ``cpu`` over the
    SKUs without GPUs (the default when there are no GPU nodes)."""
    catalog = load_catalog()
    skus = [catalog.sku(s) for s in sorted({n.sku for n in plan.nodes})]
    gpu = tuple(s for s in skus if s.gpus_per_unit)
    cpu = tuple(s for s in skus if not s.gpus_per_unit)
    found = [Partition(partition_name(s.id), (s,), default=False) for s in gpu]
    if gpu:
        found.append(Partition(GPU_PARTITION, gpu, default=True))
    if cpu:
        found.append(Partition(partition_name(None), cpu, default=not gpu))
    return found


def gres_lines(lines: list[NodeLine], site: SlurmSite) -> list[str]:
    """gres.conf: the GPU device files of each NodeName line's nodes."""
    out = []
    for line in lines:
        count = line.sku.gpus_per_unit
        if count:
            files = f"{site.gpu_device}[0-{count - 1}]" if count > 1 else f"{site.gpu_device}0"
            out.append(f"NodeName={hostlist(line.names)} Name=gpu File={files}")
    return out


def render_slurm_files(plan: Plan, site: SlurmSite) -> dict[str, str]:
    """slurm.conf, gres.conf, topology.conf and cgroup.conf by file name."""
    cluster = plan.cluster
    topology = slurm_topology(plan)
    lines = node_lines(plan)
    skus = sorted({line.sku.id for line in lines})
    header = {"cluster": cluster.name}
    slurm_conf = template("inventory/slurm/slurm.conf.j2").render(
        header,
        cluster_name=cluster.scheduler.name_in(cluster.name),
        site=site,
        controller_host=site.controller_host,
        plugins=_plugins(site),
        topology_plugin=topology.plugin,
        gpus=any(line.sku.gpus_per_unit for line in lines),
        nodes=[line.render("FUTURE" if site.future_nodes else None) for line in lines],
        node_sets=[f"NodeSet={node_set(s)} Feature={s}" for s in skus],
        partitions=[p.render() for p in partitions(plan)],
        requeue_exit=REQUEUE_EXIT,
    )
    return {
        "cgroup.conf": template("inventory/slurm/cgroup.conf.j2").render(header, site=site),
        "gres.conf": template("inventory/slurm/gres.conf.j2").render(
            header, lines=gres_lines(lines, site)
        ),
        "slurm.conf": slurm_conf,
        "topology.conf": template("inventory/slurm/topology.conf.j2").render(
            header, topology=topology.render()
        ),
    }


def _per(sku: Sku, count: int) -> int:
    """MiB of RealMemory per one of `count` GPUs or CPUs."""
    return real_memory_mib(sku) // count


def _plugins(site: SlurmSite) -> dict[str, str]:
    if site.cgroup:
        return {"proctrack": "proctrack/cgroup", "task": "task/cgroup,task/affinity"}
    return {"proctrack": "proctrack/linuxproc", "task": "task/none"}
