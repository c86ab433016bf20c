"""The contract from plan to validation: what one node must show, as one frozen, typed model.

Everything here is read off the plan; nothing is measured. Render dumps a node's
:class:`NodeExpectation` into its host_vars as ``bringup_expected``; the validation suite, the
roles' variables and the lab's emulated hardware read the same model back, so no later layer
derives an expectation of its own. Dump and load are lossless (a test renders every node of the
example stacks and reads it back equal).

>>> from pathlib import Path
>>> from bringup.plan import make_plan
>>> from bringup.spec import load_cluster
>>> plan = make_plan(load_cluster(Path("stacks/Pulumi.lab.yaml")))
>>> e = node_expectation(plan, plan.node("lab-h1-r01-k01-n1"))
>>> e.gpu_count, e.services[:2], e.nics[0].label
(8, ('nvidia-dcgm', 'nvidia-fabricmanager'), 'rail1')
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue

from bringup.catalog import LinkLayer, Role, Sku, Thresholds, load_catalog
from bringup.catalog.model import Gpu, Network, Package, Port, Software
from bringup.plan.cabling import node_cable
from bringup.plan.fabric import Endpoint, FabricPlan
from bringup.plan.model import Node, NodeKind
from bringup.plan.plan import Plan
from bringup.spec import IpoibMode, StorageKind


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_M = TypeVar("_M", bound=BaseModel)


def _built(cls: type[_M], **values: object) -> _M:
    """An instance made of values the plan already validated, every field given: what
    pydantic's model_construct does, without its per-field alias and default handling, which
    doubles the cost of a 100k-GPU plan's half a million NICs. The round-trip test proves
    the result equal to a validated model."""
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


class Position(_Model):
    """Where the node stands: hall, row, rack in the row, slot (tray) in the rack."""

    hall: int
    row: int
    rack: int
    slot: int


class ImexPeer(_Model):
    """A node of the same IMEX domain, by name and in-band address."""

    name: str
    address: str | None


ImexOwner = Literal["host", "dra-driver"]
"""Who runs IMEX on a domain's trays: the host's nvidia-imex service, or NVIDIA's DRA driver,
which starts daemons of its own per ComputeDomain (the stack's ``scheduler.imex``)."""


class NvlinkExpectation(_Model):
    """The NVLink domain the node's GPUs belong to."""

    domain: str
    generation: int
    links_per_gpu: int
    link_speed_mbps: int
    domain_gpus: int
    switch_trays: tuple[str, ...]
    imex: bool
    """The domain runs IMEX (the trays of an NVL72 rack), whoever owns the daemons."""
    imex_owner: ImexOwner = "host"  # what an expectation rendered before the field ran
    imex_peers: tuple[ImexPeer, ...]


class NicExpectation(_Model):
    """One planned NIC port: its fabric, plane and rail, address, and the cable to its leaf."""

    fabric: str
    role: Role
    plane: int
    rail: int
    device: str
    port: int
    netdev: str
    model: str
    link_layer: LinkLayer
    rate_gbps: int
    mtu: int
    ipoib_mode: IpoibMode | None
    address: str
    prefix: int
    gateway: str | None
    table: int
    cable: str
    leaf: str
    leaf_port: int

    @property
    def subnet(self) -> IPv4Network:
        """The rail's subnet, which its address is in."""
        return IPv4Interface(f"{self.address}/{self.prefix}").network

    @property
    def label(self) -> str:
        """The port's name in component ids: ``rail<n>`` on the compute fabric, else role and
        rail, with the plane when it is not the first (``rail2-p3``, ``storage1``)."""
        base = f"rail{self.rail}" if self.role == Role.COMPUTE else f"{self.role}{self.rail}"
        return base if self.plane == 1 else f"{base}-p{self.plane}"

    @property
    def attributes(self) -> dict[str, str]:
        """What an operator needs to find the port and its cable."""
        return {
            "device": self.device,
            "netdev": self.netdev,
            "cable": self.cable,
            "leaf": self.leaf,
            "leaf_port": str(self.leaf_port),
        }


class BmcExpectation(_Model):
    """The node's BMC on the out-of-band fabric."""

    fabric: str
    address: str
    prefix: int
    cable: str
    tor: str
    tor_port: int


class MountExpectation(_Model):
    """A shared filesystem the node mounts, with its fio floors."""

    name: str
    kind: StorageKind
    export: str
    mount: str
    options: str
    read_gbs: float
    write_gbs: float


IMEX_SERVICE = "nvidia-imex"
"""The host's IMEX daemon, as systemd and the package name it."""

# The daemons a node's planned software runs, in the order the suite checks them.
_SERVICES: tuple[tuple[str, str], ...] = (
    ("dcgm", "nvidia-dcgm"),
    ("fabric_manager", "nvidia-fabricmanager"),
    ("nvlsm", "nvidia-nvlsm"),
    ("imex", IMEX_SERVICE),
)


class NodeExpectation(_Model):
    """Everything one node must show once provisioned and admitted."""

    name: str
    kind: NodeKind
    sku: str
    rack: str
    position: Position
    su: int
    management_address: str | None
    gpu: Gpu | None
    nvlink: NvlinkExpectation | None
    nics: tuple[NicExpectation, ...]
    bmc: BmcExpectation | None
    software: Software | None
    mounts: tuple[MountExpectation, ...]
    thresholds: Thresholds

    @property
    def gpu_count(self) -> int:
        """GPUs planned in the node (0 on a CPU node)."""
        return self.gpu.count if self.gpu else 0

    @property
    def links_per_gpu(self) -> int:
        """NVLinks planned per GPU (0 without NVLink)."""
        return self.nvlink.links_per_gpu if self.nvlink else 0

    @property
    def packages(self) -> tuple[Package, ...]:
        """The pinned packages of the node's SKU."""
        return self.software.packages if self.software else ()

    @property
    def imex(self) -> bool:
        """The node's NVLink domain runs IMEX (an NVL72 tray), on the host or not."""
        return bool(self.software and self.software.imex)

    @property
    def host_imex(self) -> bool:
        """The host runs the IMEX daemon: its domain runs IMEX and leaves it to the host."""
        return self.imex and (self.nvlink is None or self.nvlink.imex_owner == "host")

    @property
    def services(self) -> tuple[str, ...]:
        """The daemons this node must run, as its planned software needs them; not IMEX where
        NVIDIA's DRA driver runs it."""
        if self.software is None:
            return ()
        return tuple(
            unit
            for key, unit in _SERVICES
            if getattr(self.software, key) and (key != "imex" or self.host_imex)
        )

    @property
    def stopped_services(self) -> tuple[str, ...]:
        """The daemons this node must not run: the host's IMEX where the DRA driver runs
        IMEX in daemons of its own (two would claim the driver's one IMEX session)."""
        return (IMEX_SERVICE,) if self.imex and not self.host_imex else ()

    def threshold(self, key: str) -> float | None:
        """A numeric threshold, None where the catalog sets none for this SKU."""
        value = getattr(self.thresholds, key)
        return None if value is None else float(value)

    def to_json(self) -> dict[str, JsonValue]:
        """Plain data (JSON types), as rendered into host_vars."""
        return self.model_dump(mode="json")


def netdev_name(link_layer: LinkLayer, port: Port, plane: int, multifunction: bool) -> str:
    """Predictable interface name of a ConnectX port, e.g. ``ibp24s0``, ``enP2p3s0f1np1``.

    systemd names a port by PCI domain (when not 0), bus, slot 0 and, on a multi-function
    adapter, its function. A port split over planes shows one more function per extra plane;
    the first plane keeps the port's own name, so adding a plane renames nothing.
    """
    function = port.pci_function + plane - 1
    domain = f"P{port.pci_domain}" if port.pci_domain else ""
    suffix = f"f{function}" if multifunction or function else ""
    if link_layer == LinkLayer.INFINIBAND:
        return f"ib{domain}p{port.pci_bus}s0{suffix}"
    return f"en{domain}p{port.pci_bus}s0{suffix}np{function if suffix else 0}"


# Interface MTU by link layer and network role, where the fabric declares none. IPoIB in datagram
# mode runs at the 4K InfiniBand MTU less the 4-byte IPoIB header, in connected mode at its largest,
# 65520 (NVIDIA MLNX_OFED/DOCA-OFED "IPoIB" documentation). RoCE compute and storage rails carry
# jumbo frames (NVIDIA's RoCE and Spectrum-X guides set 9000 on hosts, 9216 on switches). The
# in-band network reaches services outside the cluster and keeps Ethernet's 1500.
_MTU = {
    (LinkLayer.INFINIBAND, None): 4092,
    (LinkLayer.ETHERNET, Role.COMPUTE): 9000,
    (LinkLayer.ETHERNET, Role.STORAGE): 9000,
    (LinkLayer.ETHERNET, None): 1500,
}


def interface_mtu(link_layer: LinkLayer, role: Role, ipoib: IpoibMode | None = None) -> int:
    """The MTU a NIC's interface runs at when its fabric declares none: by link layer and IPoIB
    mode, and for Ethernet by network role.

    >>> interface_mtu(LinkLayer.INFINIBAND, Role.COMPUTE)
    4092
    >>> interface_mtu(LinkLayer.INFINIBAND, Role.COMPUTE, IpoibMode.CONNECTED)
    65520
    """
    if ipoib == IpoibMode.CONNECTED:
        return 65520
    return _MTU.get((link_layer, role)) or _MTU[(link_layer, None)]


# The first routing table of each network role's rails: a rail's table is this plus 100 per plane
# after the first and its rail number (compute plane 2, rail 3: 1103), so adding a rail, a plane
# or a fabric of another role renumbers no table. Each table is also its source rule's priority,
# ahead of the main table's 32766.
_TABLE_BASE = {Role.COMPUTE: 1000, Role.STORAGE: 2000, Role.INBAND: 3000}


def rail_table(role: Role, plane: int, rail: int) -> int:
    """The routing table (and rule priority) of a rail: traffic from the rail's address looks
    its routes up there, so it leaves by that rail and not by whichever interface the main table
    picks.

    >>> [rail_table(Role.COMPUTE, 1, 1), rail_table(Role.COMPUTE, 2, 3)]
    [1001, 1103]
    """
    return _TABLE_BASE[role] + (plane - 1) * 100 + rail


def node_expectation(plan: Plan, node: Node) -> NodeExpectation:
    """Everything `node` must show once provisioned and admitted."""
    return Expectations(plan).of(node)


class Expectations:
    """The expectations of a plan's nodes, for callers that want many: what nodes share (an
    NVLink domain with its IMEX peers, a SKU's ports) is built once.

    >>> # files = [Expectations(plan).of(n) for n in plan.nodes_in(rack)]
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._domains: dict[str, NvlinkExpectation | None] = {}
        self._netdevs: dict[tuple[str, str, int, int], str] = {}

    def of(self, node: Node) -> NodeExpectation:
        """Everything `node` must show once provisioned and admitted."""
        plan = self.plan
        sku = load_catalog().sku(node.sku)
        # Built without re-validation: every part comes from the validated spec, catalog and
        # plan.
        return _built(
            NodeExpectation,
            name=node.name,
            kind=node.kind,
            sku=sku.id,
            rack=node.rack,
            position=_built(
                Position,
                hall=node.position.hall,
                row=node.position.row,
                rack=node.position.rack,
                slot=node.slot,
            ),
            su=node.su,
            management_address=management_address(plan, node),
            gpu=sku.gpu,
            nvlink=self._nvlink(node, sku),
            nics=self._nics(node, sku),
            bmc=_bmc(plan, node),
            software=plan.software.get(sku.id),
            mounts=_mounts(plan, node),
            thresholds=plan.thresholds[sku.id],
        )

    def _nvlink(self, node: Node, sku: Sku) -> NvlinkExpectation | None:
        if sku.nvlink is None or node.nvlink_domain is None:
            return None
        if node.nvlink_domain not in self._domains:
            self._domains[node.nvlink_domain] = _nvlink(self.plan, node.nvlink_domain, sku)
        return self._domains[node.nvlink_domain]

    def _nics(self, node: Node, sku: Sku) -> tuple[NicExpectation, ...]:
        nics: list[NicExpectation] = []
        for fp in self.plan.fabrics:
            e = fp.by_name.get(node.name)
            network = sku.network(fp.spec.role)
            if e is None or network is None or fp.tree is None:
                continue
            for plane in fp.planes:
                for rail in range(1, e.ports + 1):
                    port = network.ports[rail - 1]
                    key = (sku.id, fp.spec.role.value, rail, plane)
                    if key not in self._netdevs:
                        multifunction = _shares_bus(sku, port)
                        self._netdevs[key] = netdev_name(
                            fp.spec.link_layer, port, plane, multifunction
                        )
                    nics.append(_nic(self.plan, fp, network, e, plane, rail, self._netdevs[key]))
        return tuple(nics)


def management_address(plan: Plan, node: Node) -> str | None:
    """The node's in-band address (rail 1 of its in-band fabric), or None without one."""
    fp = plan.fabric_for(node, Role.INBAND)
    if fp is None:
        return None
    e = fp.by_name[node.name]
    return plan.layouts[fp.name].address_text(1, 1, e.su, e.slot)


def _nvlink(plan: Plan, name: str, sku: Sku) -> NvlinkExpectation | None:
    if sku.nvlink is None:
        return None
    domain = plan.domain_by_name[name]
    peers = tuple(
        _built(ImexPeer, name=peer, address=management_address(plan, plan.node(peer)))
        for peer in domain.nodes
    )
    return _built(
        NvlinkExpectation,
        domain=domain.name,
        generation=sku.nvlink.generation,
        links_per_gpu=sku.nvlink.links_per_gpu,
        link_speed_mbps=sku.nvlink.link_speed_mbps,
        domain_gpus=domain.gpus,
        switch_trays=domain.switch_trays,
        imex=domain.imex,
        imex_owner=plan.cluster.scheduler.imex,
        imex_peers=peers if domain.imex else (),
    )


def _nic(
    plan: Plan,
    fp: FabricPlan,
    network: Network,
    e: Endpoint,
    plane: int,
    rail: int,
    netdev: str,
) -> NicExpectation:
    port = network.ports[rail - 1]
    layout = plan.layouts[fp.name]
    spec = fp.spec
    link_layer = spec.link_layer
    cable = node_cable(fp, e, plane, rail)
    return _built(
        NicExpectation,
        fabric=fp.name,
        role=fp.spec.role,
        plane=plane,
        rail=rail,
        device=port.device,
        port=plane,
        netdev=netdev,
        model=network.model,
        link_layer=link_layer,
        rate_gbps=fp.spec.speed_gbps,
        mtu=spec.mtu or interface_mtu(link_layer, spec.role, spec.ipoib),
        ipoib_mode=spec.ipoib,
        address=layout.address_text(plane, rail, e.su, e.slot),
        prefix=layout.prefix,
        gateway=layout.gateway_text(plane, rail, e.su),
        table=rail_table(spec.role, plane, rail),
        cable=cable.id,
        leaf=cable.b_device,
        leaf_port=int(cable.b_port),
    )


def _shares_bus(sku: Sku, port: Port) -> bool:
    """Whether another port of the system sits on the same adapter (a multi-function device)."""
    return any(
        (p.pci_domain, p.pci_bus) == (port.pci_domain, port.pci_bus) and p != port
        for network in sku.networks
        for p in network.ports
    )


def _bmc(plan: Plan, node: Node) -> BmcExpectation | None:
    fp = plan.fabric_for(node, Role.OOB)
    if fp is None:
        return None
    e = fp.by_name[node.name]
    layout = plan.layouts[fp.name]
    cable = plan.cables.cable_at(node.name, "bmc")
    assert cable is not None
    return _built(
        BmcExpectation,
        fabric=fp.name,
        address=layout.address_text(1, 1, e.su, e.slot),
        prefix=layout.prefix,
        cable=cable.id,
        tor=cable.b_device,
        tor_port=int(cable.b_port),
    )


def _mounts(plan: Plan, node: Node) -> tuple[MountExpectation, ...]:
    return tuple(
        _built(
            MountExpectation,
            name=store.name,
            kind=store.kind,
            export=store.export,
            mount=store.mount,
            options=store.options,
            read_gbs=store.read_gbs,
            write_gbs=store.write_gbs,
        )
        for store in plan.storage_of(node)
    )
