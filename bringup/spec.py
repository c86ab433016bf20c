"""What a stack declares: the input model of bringup, validated once at the edge.

A cluster is built in Python, or loaded from a plain YAML file or from the ``bringup:cluster`` key
of a Pulumi stack file (read within bounds by :mod:`bringup.declaration`). Every problem is
reported as one line that names the field path, the value and what was expected
(:class:`SpecError`); nothing downstream re-checks what is checked here.

>>> cluster = load_cluster_text('''
... name: demo
... site: {name: lab}
... racks: [{sku: hgx-h100, count: 1, hall: 1, row: 1, rack: 1}]
... fabrics: []
... ''')
>>> cluster.racks[0].units
4
"""

from __future__ import annotations

import functools
import ipaddress
import re
import typing
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bringup.catalog import LinkLayer, Role, Thresholds, load_catalog
from bringup.declaration import (
    MAX_PROBLEMS,
    key_text,
    read_declaration_file,
    read_declaration_text,
    shown,
)
from bringup.declaration import SpecError as SpecError

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            "expected a DNS label (RFC 1123): lowercase letters, digits and '-', "
            "1 to 63 characters, starting and ending with a letter or digit"
        )
    return value


def _short_label(value: str) -> str:
    _dns_label(value)
    if len(value) > 16:
        raise ValueError("expected at most 16 characters: it prefixes every generated name")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
ShortLabel = Annotated[str, AfterValidator(_short_label)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_value(cls, value: object, info: ValidationInfo) -> object:
        """Refuse what pydantic would quietly convert: a boolean for a number (``count: true``
        is 1), a number written as text (``count: "4"``, as likely a slip as meant), and text
        that does not fit on one line (it would reach files and shells)."""
        if isinstance(value, bool | str) and info.field_name is not None:
            number = _numbers(cls).get(info.field_name)
            if number is not None:
                kind = "a boolean" if isinstance(value, bool) else "text"
                raise ValueError(f"expected {number}, not {kind}")
        if isinstance(value, str) and not value.isprintable():
            raise ValueError("expected one line of printable text, without control characters")
        return value


@functools.cache
def _numbers(model: type[BaseModel]) -> dict[str, str]:
    """The model's number fields (int or float, optional or not), each with what it expects."""
    numbers = {}
    for name, field in model.model_fields.items():
        kinds = typing.get_args(field.annotation) or (field.annotation,)
        if bool in kinds or str in kinds:  # a boolean or text is one of its own values
            continue
        if float in kinds:
            numbers[name] = "a number"
        elif int in kinds:
            numbers[name] = "an integer"
    return numbers


class Site(_Model):
    """Where the cluster stands; its name prefixes every node, rack and BMC name."""

    name: ShortLabel = Field(description="Site code, e.g. 'sjc1'.")
    description: str = ""


class NvlinkOverride(_Model):
    """Partition of a rack-scale NVLink domain (NMX partitions)."""

    domain_trays: int = Field(
        gt=0, description="Compute trays per NVLink/IMEX domain; must divide the rack's trays."
    )


class RackGroup(_Model):
    """A run of identical racks standing side by side in one row."""

    sku: str = Field(description="Catalog SKU id, e.g. 'hgx-h100', 'gb200-nvl72'.")
    count: int = Field(ge=1, le=999, description="Racks in the run.")
    hall: int = Field(ge=1, le=99, description="Data hall number.")
    row: int = Field(ge=1, le=999, description="Row number in the hall.")
    rack: int = Field(ge=1, le=999, description="Position of the first rack in the row.")
    units: int | None = Field(
        default=None, ge=1, le=64, description="Nodes per rack (HGX, CPU); NVL72 racks are fixed."
    )
    su: int = Field(default=1, ge=1, le=4096, description="Scalable unit the racks belong to.")
    fabrics: tuple[DnsLabel, ...] | None = Field(
        default=None, description="Fabrics the nodes attach to; default: every declared fabric."
    )
    nvlink: NvlinkOverride | None = None

    @field_validator("sku")
    @classmethod
    def _known_sku(cls, value: str) -> str:
        skus = load_catalog().skus
        if value not in skus:
            raise ValueError(f"expected one of the catalog SKUs: {', '.join(sorted(skus))}")
        return value

    @model_validator(mode="after")
    def _fill_units(self) -> RackGroup:
        sku = load_catalog().sku(self.sku)
        if self.units is None:
            object.__setattr__(self, "units", sku.rack.units_per_rack)
        elif sku.rack.fixed and self.units != sku.rack.units_per_rack:
            raise ValueError(
                f"units: {self.sku} racks hold exactly {sku.rack.units_per_rack} trays, "
                f"got {self.units}"
            )
        if self.nvlink is not None:
            if sku.nvlink is None or sku.nvlink.scope != "rack":
                raise ValueError(f"nvlink: {self.sku} has no rack-scale NVLink domain to partition")
            if sku.rack.units_per_rack % self.nvlink.domain_trays:
                raise ValueError(
                    f"nvlink.domain_trays: {self.nvlink.domain_trays} does not divide the "
                    f"{sku.rack.units_per_rack} trays of a {self.sku} rack"
                )
        return self

    @property
    def unit_count(self) -> int:
        """Nodes per rack after defaults are applied."""
        assert self.units is not None  # filled by the validator
        return self.units


class FabricKind(StrEnum):
    """Link layer of a fabric: InfiniBand or Ethernet (RoCE / Spectrum-X)."""

    INFINIBAND = "infiniband"
    ETHERNET = "ethernet"


class IpoibMode(StrEnum):
    """How IPoIB carries IP over an InfiniBand port: unreliable datagrams, whose MTU is the
    InfiniBand MTU less IPoIB's 4-byte header (at most 4092), or reliable connections, which
    carry up to 65520 bytes (the kernel's ipoib documentation; NVIDIA DOCA-OFED "IP over
    InfiniBand")."""

    DATAGRAM = "datagram"
    CONNECTED = "connected"


MTU_LIMITS: dict[tuple[LinkLayer, IpoibMode | None], int] = {
    (LinkLayer.INFINIBAND, IpoibMode.DATAGRAM): 4092,
    (LinkLayer.INFINIBAND, IpoibMode.CONNECTED): 65520,
    (LinkLayer.ETHERNET, None): 9216,  # the switches' largest frame (Spectrum's 9216)
}
"""The largest interface MTU a host's port takes, by link layer and IPoIB mode."""


class Appliance(_Model):
    """A fabric appliance that takes a node slot in an SU (e.g. the UFM appliance)."""

    name: DnsLabel
    su: int = Field(default=1, ge=1, description="SU whose last node slot it takes.")
    ports: int = Field(ge=1, le=16, description="Ports it cables to the fabric, on rails 1..n.")


class Fabric(_Model):
    """One physical network: a rail-optimized fat tree per plane (or ToRs for OOB)."""

    name: DnsLabel
    kind: FabricKind
    role: Role
    switch: str = Field(description="Catalog switch model id, e.g. 'qm9700'.")
    speed_gbps: int = Field(gt=0, description="Speed of one port on this fabric, per plane.")
    planes: int = Field(default=1, ge=1, le=8, description="Independent planes per NIC port.")
    nodes_per_su: int = Field(gt=0, le=4096, description="Node slots per scalable unit.")
    design_sus: int | None = Field(
        default=None,
        ge=1,
        description="SUs the upper tiers are built for; default: the highest SU.",
    )
    max_oversubscription: int = Field(
        default=1, ge=1, le=8, description="Highest leaf down:up ratio allowed; 1 = non-blocking."
    )
    cidr: ipaddress.IPv4Network = Field(description="Address space of the whole fabric.")
    appliances: tuple[Appliance, ...] = ()
    tors_per_rack: int = Field(default=1, ge=1, le=4, description="OOB only: ToRs per rack.")
    ipoib_mode: IpoibMode | None = Field(
        default=None,
        description="InfiniBand only: the hosts' IPoIB mode, datagram (the default) or connected.",
    )
    mtu: int | None = Field(
        default=None,
        ge=1280,
        description="The hosts' interface MTU on this fabric; default by link layer and role "
        "(IPoIB datagram 4092, connected 65520; RoCE rails 9000; in-band 1500).",
    )

    @field_validator("cidr", mode="before")
    @classmethod
    def _cidr_text(cls, value: object) -> object:
        if not isinstance(value, str | ipaddress.IPv4Network):
            raise ValueError("expected an IPv4 network in CIDR notation such as 10.128.0.0/14")
        return value

    @field_validator("switch")
    @classmethod
    def _known_switch(cls, value: str) -> str:
        switches = load_catalog().switches
        if value not in switches:
            raise ValueError(f"expected one of the catalog switches: {', '.join(sorted(switches))}")
        return value

    @model_validator(mode="after")
    def _switch_fits(self) -> Fabric:
        switch = load_catalog().switch(self.switch)
        if switch.link_layer.value != self.kind.value:
            raise ValueError(
                f"switch: {self.switch} is an {switch.link_layer.value} switch, "
                f"but the fabric kind is {self.kind.value}"
            )
        if switch.mode(self.speed_gbps) is None:
            speeds = ", ".join(str(m.speed_gbps) for m in switch.modes)
            raise ValueError(
                f"speed_gbps: {self.switch} has no ports at {self.speed_gbps} Gb/s; "
                f"it offers {speeds}"
            )
        if self.role != Role.OOB and self.tors_per_rack != 1:
            raise ValueError("tors_per_rack: only an oob fabric has per-rack ToRs")
        if self.role == Role.OOB and (self.planes != 1 or self.appliances):
            raise ValueError("planes: an oob fabric has one plane and no appliances")
        if self.ipoib_mode is not None and self.kind != FabricKind.INFINIBAND:
            raise ValueError(
                f"ipoib_mode: {self.ipoib_mode.value} is an IPoIB mode, and {self.name} is an "
                f"{self.kind.value} fabric"
            )
        limit = MTU_LIMITS[(self.link_layer, self.ipoib)]
        if self.mtu is not None and self.mtu > limit:
            how = f"IPoIB in {self.ipoib.value} mode" if self.ipoib else "an Ethernet port"
            raise ValueError(f"mtu: {self.mtu} is over the {limit} bytes {how} carries")
        return self

    @property
    def ipoib(self) -> IpoibMode | None:
        """The IPoIB mode of the hosts' ports: the declared one, datagram by default; None on
        Ethernet."""
        if self.kind != FabricKind.INFINIBAND:
            return None
        return self.ipoib_mode or IpoibMode.DATAGRAM

    @property
    def link_layer(self) -> LinkLayer:
        """The fabric's link layer as the catalog names it."""
        return LinkLayer(self.kind.value)


class StorageKind(StrEnum):
    """Client protocol of a storage system."""

    NFS = "nfs"
    LUSTRE = "lustre"
    WEKA = "wekafs"
    GPFS = "gpfs"
    BEEGFS = "beegfs"


class StorageSystem(_Model):
    """A shared file system every attached node mounts."""

    name: DnsLabel
    kind: StorageKind
    export: str = Field(min_length=1, description="What the client mounts, e.g. '10.3.0.10:/data'.")
    mount: str = Field(description="Absolute mount point on the nodes.")
    fabric: DnsLabel | None = Field(default=None, description="Storage fabric it is reached over.")
    read_gbs: float = Field(default=0, ge=0, description="Expected fio read floor per node, GB/s.")
    write_gbs: float = Field(
        default=0, ge=0, description="Expected fio write floor per node, GB/s."
    )
    options: str = Field(default="defaults", description="Mount options.")

    @field_validator("mount")
    @classmethod
    def _mount_point(cls, value: str) -> str:
        parts = value.split("/")[1:]
        if not value.startswith("/") or value != value.strip() or (value != "/" and "" in parts):
            raise ValueError(
                "expected an absolute path such as /mnt/data, without '//' or a final '/'"
            )
        if {".", ".."} & set(parts):
            raise ValueError("expected a path without '.' or '..' components, such as /mnt/data")
        if value == "/" or parts[0] in SYSTEM_DIRECTORIES:
            raise ValueError(
                "expected a mount point outside the system's own directories "
                f"(/ and /{', /'.join(sorted(SYSTEM_DIRECTORIES))}), such as /mnt/data"
            )
        return value


SYSTEM_DIRECTORIES = frozenset(
    {"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "run"}
    | {"sbin", "sys", "tmp", "usr", "var"}
)
"""Top-level directories no share may be mounted on or under: the operating system's programs,
libraries, configuration and state (bin, lib*, sbin, usr, etc, var, boot), the kernel's and the
init system's virtual file systems (proc, sys, dev, run), the node's scratch space (tmp), and
root's home, which holds the SSH key bringup logs in with. "/" itself is refused too. Shares go
under /mnt, /data, /scratch, /home, /lustre, /opt or any other directory of the site's own."""


CONTROLLER_SUFFIX = "slurmctld"
"""The default Slurm controller's name is the scheduler's cluster name and this suffix."""


class Scheduler(_Model):
    """The workload scheduler the admitted nodes join.

    >>> Scheduler().controller_in("lab")
    'lab-slurmctld'
    """

    kind: Literal["slurm", "kubernetes"] = "slurm"
    cluster_name: DnsLabel | None = Field(default=None, description="Default: the stack name.")
    controller: DnsLabel | None = Field(
        default=None,
        description="Slurm: the controller's host name (SlurmctldHost); it must be the name "
        "slurmctld's host calls itself. Default: '<cluster_name>-slurmctld'.",
    )
    controller_address: ipaddress.IPv4Address | None = Field(
        default=None,
        description="Slurm: the address the nodes reach the controller at. Default: its name, "
        "resolved by the nodes.",
    )
    imex: Literal["host", "dra-driver"] = Field(
        default="host",
        description="Who runs IMEX on the trays of a rack-scale NVLink domain (NVL72): 'host', "
        "the nvidia-imex service bringup configures on every tray; or 'dra-driver' (Kubernetes), "
        "NVIDIA's DRA driver, which starts IMEX daemons of its own for each ComputeDomain, so "
        "the host's service is stopped and disabled.",
    )
    clique_label: Literal["bringup", "dra-driver"] | None = Field(
        default=None,
        description="Kubernetes: who sets the nvidia.com/gpu.clique node label on the trays of "
        "a rack-scale NVLink domain: 'bringup', from the plan; or 'dra-driver', NVIDIA's stack "
        "(GPU feature discovery, deployed with the DRA driver). Default: 'dra-driver' where it "
        "runs IMEX, else 'bringup'.",
    )
    kueue: bool = Field(
        default=False,
        strict=True,  # 1 or "yes" is as likely a slip as meant
        description="Kubernetes: render a Kueue Topology of the cluster (SU, rack, host) and a "
        "ResourceFlavor per SKU that uses it, for Kueue's topology-aware scheduling.",
    )

    @field_validator("controller_address", mode="before")
    @classmethod
    def _address_text(cls, value: object) -> object:
        if not isinstance(value, str | ipaddress.IPv4Address):
            raise ValueError("expected an IPv4 address such as 10.64.0.2")
        return value

    @model_validator(mode="after")
    def _controller_is_slurms(self) -> Scheduler:
        if self.kind != "slurm":
            declared = sorted({"controller", "controller_address"} & self.model_fields_set)
            if declared:
                raise ValueError(f"{declared[0]}: only a slurm scheduler has a controller")
        return self

    @model_validator(mode="after")
    def _kubernetes_only(self) -> Scheduler:
        """What only a Kubernetes cluster has: the DRA driver, node labels others set, Kueue.
        Each problem is its own line, naming the field and its value."""
        if self.kind == "kubernetes":
            return self
        problems = []
        if self.imex == "dra-driver":
            problems.append(f"imex: 'dra-driver' needs a kubernetes scheduler, got {self.kind!r}")
        if self.clique_label is not None:
            problems.append(
                f"clique_label: {self.clique_label!r} needs a kubernetes scheduler, "
                f"got {self.kind!r}"
            )
        if self.kueue:
            problems.append(f"kueue: true needs a kubernetes scheduler, got {self.kind!r}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def clique_labeller(self) -> Literal["bringup", "dra-driver"]:
        """Who sets ``nvidia.com/gpu.clique``: as declared, else NVIDIA's stack where its DRA
        driver runs IMEX (it places a ComputeDomain's daemons by that label), else bringup.

        >>> Scheduler(kind="kubernetes", imex="dra-driver").clique_labeller
        'dra-driver'
        """
        if self.clique_label is not None:
            return self.clique_label
        return "dra-driver" if self.imex == "dra-driver" else "bringup"

    def name_in(self, cluster: str) -> str:
        """The scheduler's name for the cluster: ``cluster_name``, else the cluster's name."""
        return self.cluster_name or cluster

    def controller_in(self, cluster: str) -> str:
        """The controller's host name: ``controller``, else ``<cluster name>-slurmctld``."""
        return self.controller or f"{self.name_in(cluster)}-{CONTROLLER_SUFFIX}"


class Breaker(_Model):
    """When the in-service health loop stops draining: more nodes failing at once than hardware
    fails, which says the check, a driver rollout or a shared service is at fault, not each node.

    Counts are of nodes bringup drained within the last `window_s` seconds, the failing node
    included; one failing node is always drained. Half or more of an NVLink domain failing is
    not held by `domain_trays`: the incident names the domain (switch trays, NVLink fabric).
    """

    window_s: int = Field(default=600, ge=60, le=86400, description="The window, in seconds.")
    cluster_share: float = Field(
        default=0.10, gt=0, le=1, description="Most of the cluster's nodes drained in the window."
    )
    sku_share: float = Field(
        default=0.25, gt=0, le=1, description="Most of one SKU's nodes drained in the window."
    )
    domain_trays: int = Field(
        default=4, ge=1, le=72, description="Most trays of one NVLink domain drained in the window."
    )


HEALTH_INTERVAL_S = 60
"""Slurm's HealthCheckInterval by default: each node checks itself once a minute, spread over the
minute (HealthCheckNodeState=CYCLE). A check costs about a second of one core (one pass of
nvidia-smi, ibstat and the daemons' status), under 0.02 % of a 112-core host; a fault on an idle
node is found within a minute, and a fault under a job sooner, by the job's epilog."""


class Health(_Model):
    """The in-service loop: each node's health check and the controller's watch that acts on it."""

    interval_s: int = Field(
        default=HEALTH_INTERVAL_S,
        ge=5,
        le=86400,
        description="Seconds between two health checks of a node (Slurm's HealthCheckInterval).",
    )
    port: int = Field(
        default=7070,
        ge=1024,
        le=65535,
        description="The TCP port `bringup watch` listens on, on the controller's address.",
    )
    breaker: Breaker = Breaker()


class AccessSpec(_Model):
    """How bringup reaches the nodes: over SSH as declared, or through the embedded lab.

    With ``via: lab`` the lab on this host gives every setting (its key, known_hosts and
    ssh_config); with ``via: ssh`` the declared ones apply, and Ansible's own SSH configuration
    where none is declared. Paths are relative to the project folder, or absolute.
    """

    via: Literal["ssh", "lab"] = "ssh"
    user: str = Field(default="root", min_length=1, description="The login user on the nodes.")
    private_key: str | None = Field(default=None, min_length=1, description="SSH private key.")
    known_hosts: str | None = Field(default=None, min_length=1, description="known_hosts file.")
    ssh_config: str | None = Field(default=None, min_length=1, description="ssh_config file.")

    @model_validator(mode="after")
    def _lab_alone(self) -> AccessSpec:
        declared = sorted(self.model_fields_set - {"via"})
        if self.via == "lab" and declared:
            raise ValueError(f"{declared[0]}: the lab gives its own settings; remove it")
        return self


class SoftwareOverride(_Model):
    """Per-SKU changes to the catalog's pinned software, checked against the compatibility table."""

    driver_branch: str | None = None
    driver: str | None = None
    cuda: str | None = None
    nvlsm: str | None = None
    doca_ofed: str | None = None
    dcgm: str | None = None


class SkuOverride(_Model):
    """Per-SKU changes a stack makes to the catalog."""

    software: SoftwareOverride | None = None
    # str is kept as it is (pydantic would turn "8" into 8.0), so that text for a number is refused
    thresholds: dict[str, float | int | bool | str] = Field(default_factory=dict)


CUDA_REPOSITORY = (
    "deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] "
    "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/ /"
)
"""NVIDIA's CUDA apt repository for Ubuntu 22.04 x86_64: drivers, fabric manager, IMEX, DCGM."""

_APT_SOURCE = re.compile(r"^deb (\[[^\]]+\] )?[a-z][a-z0-9+.-]*:\S+( \S+)+$")


def _apt_source(value: str) -> str:
    if not _APT_SOURCE.fullmatch(value):
        raise ValueError(
            "expected a one-line apt source: 'deb [options] URI suite [components]', "
            "e.g. 'deb [trusted=yes] file:/srv/repo ./'"
        )
    return value


class Cluster(_Model):
    """The whole declaration of one stack."""

    name: DnsLabel
    site: Site
    package_repository: Annotated[str, AfterValidator(_apt_source)] = Field(
        default=CUDA_REPOSITORY,
        description="The apt source line the nodes install NVIDIA's packages from "
        "(the lab's own repository in the lab stack).",
    )
    racks: tuple[RackGroup, ...] = Field(min_length=1)
    fabrics: tuple[Fabric, ...] = ()
    storage: tuple[StorageSystem, ...] = ()
    scheduler: Scheduler = Scheduler()
    health: Health = Health()
    access: AccessSpec = AccessSpec()
    overrides: dict[str, SkuOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Cluster:
        problems: list[str] = []
        fabric_names = [f.name for f in self.fabrics]
        problems += _duplicates("fabrics", fabric_names)
        problems += _duplicates("storage", [s.name for s in self.storage])
        problems += _overlapping_cidrs(self.fabrics)
        problems += _overlapping_racks(self.racks)
        controller = self.scheduler.controller_in(self.name)
        if self.scheduler.kind == "slurm" and not _DNS_LABEL.fullmatch(controller):
            problems.append(
                f"scheduler.controller: the default {controller!r} is not a DNS label "
                "(longer than 63 characters); declare one"
            )
        by_name = {f.name: f for f in self.fabrics}
        for i, group in enumerate(self.racks):
            problems += _rack_fabrics(i, group, by_name)
        for i, store in enumerate(self.storage):
            if store.fabric is not None and store.fabric not in by_name:
                problems.append(f"storage.{i}.fabric: unknown fabric {store.fabric!r}")
        for sku in self.overrides:
            if sku not in load_catalog().skus:
                problems.append(f"overrides.{key_text(sku)}: unknown SKU {shown(sku)}")
            else:
                problems += _threshold_overrides(sku, self.overrides[sku].thresholds)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def fabrics_of(self, group: RackGroup) -> tuple[Fabric, ...]:
        """The fabrics a rack group's nodes attach to, in declaration order."""
        if group.fabrics is None:
            return tuple(f for f in self.fabrics if _attaches(group.sku, f))
        return tuple(f for f in self.fabrics if f.name in group.fabrics)


def _threshold_overrides(sku: str, thresholds: dict[str, float | int | bool | str]) -> list[str]:
    """Unknown thresholds, booleans or text given for numeric ones (``gpu_count: true`` is 1), and
    values the catalog's own thresholds refuse: checked here, so that planning never meets them."""
    known, numbers = sorted(Thresholds.model_fields), _numbers(Thresholds)
    problems = []
    for name, value in thresholds.items():
        path = f"overrides.{sku}.thresholds.{key_text(name)}"
        if name not in known:
            problems.append(f"{path}: unknown threshold; known: {known}")
        elif isinstance(value, bool | str) and name in numbers:
            kind = "a boolean" if isinstance(value, bool) else "text"
            problems.append(f"{path}: got {shown(value)}; expected {numbers[name]}, not {kind}")
    if problems:
        return problems
    try:
        load_catalog().sku(sku).thresholds.overridden(dict(thresholds))
    except ValidationError as error:
        problems += [
            f"overrides.{sku}.thresholds.{'.'.join(key_text(p) for p in e['loc'])}: "
            f"got {shown(e.get('input'))}; {e['msg']}"
            for e in error.errors(include_url=False)
        ]
    return problems


def _attaches(sku_id: str, fabric: Fabric) -> bool:
    """Whether a SKU has ports for a fabric's role (used when a rack names no fabrics)."""
    return load_catalog().sku(sku_id).network(fabric.role) is not None


def _duplicates(field: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{field}.{i}.name: {name!r} is declared twice")
        seen.add(name)
    return problems


def _overlapping_cidrs(fabrics: tuple[Fabric, ...]) -> list[str]:
    problems = []
    for i, a in enumerate(fabrics):
        for b in fabrics[:i]:
            if a.cidr.overlaps(b.cidr):
                problems.append(
                    f"fabrics.{i}.cidr: {a.cidr} of {a.name!r} overlaps {b.cidr} of {b.name!r}"
                )
    return problems


def _overlapping_racks(groups: tuple[RackGroup, ...]) -> list[str]:
    taken: dict[tuple[int, int, int], int] = {}
    problems = []
    for i, g in enumerate(groups):
        for rack in range(g.rack, g.rack + g.count):
            where = (g.hall, g.row, rack)
            if where in taken:
                problems.append(
                    f"racks.{i}: hall {g.hall} row {g.row} rack {rack} is already "
                    f"taken by racks.{taken[where]}"
                )
                break
            taken[where] = i
    return problems


def _rack_fabrics(i: int, group: RackGroup, by_name: dict[str, Fabric]) -> list[str]:
    sku = load_catalog().sku(group.sku)
    problems = []
    names = group.fabrics if group.fabrics is not None else tuple(by_name)
    roles: dict[Role, str] = {}
    for name in names:
        fabric = by_name.get(name)
        if fabric is None:
            if group.fabrics is not None:
                problems.append(f"racks.{i}.fabrics: unknown fabric {name!r}")
            continue
        network = sku.network(fabric.role)
        if network is None:
            if group.fabrics is not None:
                problems.append(
                    f"racks.{i}.fabrics: {group.sku} has no {fabric.role.value} ports "
                    f"for fabric {name!r}"
                )
            continue
        if fabric.role in roles:
            problems.append(
                f"racks.{i}.fabrics: {name!r} and {roles[fabric.role]!r} are both "
                f"{fabric.role.value} fabrics; a node attaches to one fabric per role"
            )
        roles[fabric.role] = name
        if fabric.role != Role.OOB and fabric.planes * fabric.speed_gbps > network.speed_gbps:
            problems.append(
                f"racks.{i}: fabric {name!r} needs {fabric.planes} x {fabric.speed_gbps} Gb/s "
                f"per port, but {group.sku} {network.model} ports run at {network.speed_gbps} Gb/s"
            )
    return problems


def _format_errors(error: ValidationError) -> tuple[list[str], int]:
    """One line per problem for the first MAX_PROBLEMS errors, and how many more there are.

    A list whose items all failed is also too short once validated: that adds nothing, so it
    is left out where its items' own errors are reported.
    """
    errors = error.errors(include_url=False)
    failed_inside = {e["loc"][:i] for e in errors for i in range(len(e["loc"]))}
    errors = [e for e in errors if e["type"] != "too_short" or e["loc"] not in failed_inside]
    problems: list[str] = []
    for e in errors[:MAX_PROBLEMS]:
        path = ".".join(key_text(p) for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "value_error" and "\n" in message:
            problems += [_join(path, line) for line in message.splitlines()]
            continue
        field = _FIELD_FIRST.match(message)
        if e["type"] == "value_error" and field:
            problems.append(f"{_join(path, field[1])}: {field[2]}")
            continue
        value = "<missing>" if e["type"] == "missing" else shown(e.get("input"))
        problems.append(f"{path or '<root>'}: got {value}; {message}")
    return problems, max(0, len(errors) - MAX_PROBLEMS)


_FIELD_FIRST = re.compile(r"^(\S+?): (.*)$", re.DOTALL)
"""A validator's message that starts with the field it is about: ``units: ...``."""


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def parse_cluster(data: Any, source: str = "<input>") -> Cluster:
    """Validate plain data (as loaded from YAML or JSON) into a :class:`Cluster`."""
    if not isinstance(data, dict):
        raise SpecError(source, [f"<root>: got {shown(data)}; expected a mapping"])
    try:
        return Cluster.model_validate(data)
    except ValidationError as error:
        problems, unlisted = _format_errors(error)
        raise SpecError(source, problems, unlisted=unlisted) from None


def load_cluster_text(text: str, source: str = "<input>") -> Cluster:
    """Parse YAML text holding a cluster (plain, or a Pulumi stack file's config)."""
    return parse_cluster(read_declaration_text(text, source), source)


def load_cluster(path: Path) -> Cluster:
    """Load a cluster from a plain YAML file or a Pulumi stack file (``Pulumi.<stack>.yaml``)."""
    return load_cluster_text(read_declaration_file(path), str(path))
