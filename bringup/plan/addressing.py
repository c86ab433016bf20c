"""Addresses: fixed bit fields, so that growth never renumbers (DOMAIN.md §4).

A tree fabric's address is ``cidr + su | plane (3 bits) | rail | slot``: the slot field is sized
for ``nodes_per_su`` (plus network, gateway and broadcast), the rail field for the fabric's rails,
the plane field for up to 8 planes, and the SU field, on top, takes what the CIDR leaves. No
field's position depends on how many SUs or planes exist, so adding either moves nothing. Each
(SU, plane, rail) block is one subnet: the leaf group's, routed at the leaf on Ethernet (gateway:
the last usable address), one IPoIB subnet on InfiniBand. OOB fabrics have no plane or rail
field: ``cidr + su | slot``.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from bringup.catalog import Role
from bringup.plan.fabric import FabricPlan
from bringup.plan.model import PlanError

PLANE_BITS = 3


@dataclass(frozen=True, slots=True)
class AddressLayout:
    """How one fabric's CIDR is cut."""

    fabric: str
    network: IPv4Network
    host_bits: int
    rail_bits: int
    plane_bits: int
    routed: bool  # Ethernet: the leaf routes each subnet and is its gateway

    def address(self, plane: int, rail: int, su: int, slot: int) -> IPv4Address:
        """Address of the endpoint in `slot` of `su` on `plane` / `rail`."""
        return self.network.network_address + (self._block(plane, rail, su) + slot)

    def subnet(self, plane: int, rail: int, su: int) -> IPv4Network:
        """The subnet that address lives in."""
        base = int(self.network.network_address) + self._block(plane, rail, su)
        return IPv4Network((base, 32 - self.host_bits))

    def gateway(self, plane: int, rail: int, su: int) -> IPv4Address | None:
        """Routed subnets: the leaf's address, the last usable one; else None."""
        if not self.routed:
            return None
        last = self._block(plane, rail, su) + (1 << self.host_bits) - 2
        return self.network.network_address + last

    @property
    def prefix(self) -> int:
        """Prefix length of every subnet of the layout (one per SU, plane and rail)."""
        return 32 - self.host_bits

    def address_text(self, plane: int, rail: int, su: int, slot: int) -> str:
        """:meth:`address` as dotted text, computed on the integer: a 100k-GPU plan.json
        writes 250,000 of them, and :mod:`ipaddress` objects made half its cost."""
        return dotted(self.subnet_base(plane, rail, su) + slot)

    def subnet_base(self, plane: int, rail: int, su: int) -> int:
        """The subnet's network address as an integer: the address of slot n is this plus n
        (the slot is the layout's lowest field), for a writer that keeps it per subnet."""
        return self._base + self._block(plane, rail, su)

    def gateway_text(self, plane: int, rail: int, su: int) -> str | None:
        """:meth:`gateway` as dotted text, or None."""
        if not self.routed:
            return None
        return dotted(self.subnet_base(plane, rail, su) + (1 << self.host_bits) - 2)

    @property
    def _base(self) -> int:
        return int(self.network.network_address)

    def _block(self, plane: int, rail: int, su: int) -> int:
        index = ((su - 1) << self.plane_bits | (plane - 1)) << self.rail_bits | (rail - 1)
        return index << self.host_bits

    @property
    def su_capacity(self) -> int:
        """SUs the CIDR holds."""
        free = 32 - self.network.prefixlen - self.plane_bits - self.rail_bits - self.host_bits
        return 1 << free if free >= 0 else 0

    @property
    def scheme(self) -> str:
        """One line that records the design choice, for the summary."""
        per = "SU, plane and rail" if self.plane_bits or self.rail_bits else "SU"
        return f"{self.network}: one /{32 - self.host_bits} per {per}"


def dotted(address: int) -> str:
    """An IPv4 address in dotted-quad text, as ``str(IPv4Address(address))`` writes it.

    >>> dotted(167772161)
    '10.0.0.1'
    """
    return f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"


def plan_layout(fabric: FabricPlan) -> AddressLayout:
    """Cut `fabric`'s CIDR; PlanError when the design's SUs do not fit in it."""
    spec = fabric.spec
    tree = spec.role != Role.OOB
    layout = AddressLayout(
        fabric=spec.name,
        network=spec.cidr,
        host_bits=(spec.nodes_per_su + 2).bit_length(),  # network, slots, gateway, broadcast
        rail_bits=(fabric.rails - 1).bit_length() if tree else 0,
        plane_bits=PLANE_BITS if tree else 0,
        routed=spec.kind.value == "ethernet",
    )
    design = spec.design_sus or max(fabric.built_sus, default=1)
    if layout.su_capacity < design:
        used = layout.plane_bits + layout.rail_bits + layout.host_bits
        need = 32 - used - (design - 1).bit_length()
        raise PlanError(
            [
                f"fabrics.{spec.name}.cidr: {spec.cidr} holds {layout.su_capacity} SUs of "
                f"{spec.nodes_per_su} slots x {fabric.rails} rails x 8 planes, "
                f"not {design}; use a /{need} or larger"
                if tree
                else f"fabrics.{spec.name}.cidr: {spec.cidr} holds {layout.su_capacity} SUs of "
                f"{spec.nodes_per_su} slots, not {design}; use a /{need} or larger"
            ]
        )
    return layout
