"""The hosts.yml inventory: every node with its address, and the groups it belongs to.

Every group name is a DNS label. Groups that only gather other groups do it through
``children``: a system class holds its SKU groups, an SU its rack groups, a scheduler partition
its SKU groups. Every node is in exactly one rack group and one SKU group.

>>> from bringup.render.hosts import sku_group
>>> sku_group("hgx-h100")
'sku-hgx-h100'
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pydantic import JsonValue

from bringup.catalog import SystemClass, load_catalog
from bringup.plan import Plan
from bringup.plan.expectation import management_address


@dataclass(frozen=True, slots=True)
class Group:
    """One inventory group: the hosts it lists and the groups nested in it, both sorted."""

    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()

    def inventory(self) -> dict[str, JsonValue]:
        """The group as an Ansible YAML inventory writes it (empty keys left out)."""
        data: dict[str, JsonValue] = {}
        if self.hosts:
            data["hosts"] = {host: {} for host in self.hosts}
        if self.children:
            data["children"] = {child: {} for child in self.children}
        return data


def sku_group(sku: str) -> str:
    """Group of the nodes of one SKU."""
    return f"sku-{sku}"


def rack_group(rack: str) -> str:
    """Group of the nodes of one rack."""
    return f"rack-{rack}"


def su_group(su: int) -> str:
    """Group of the racks of one scalable unit, numbered as the plan's switch names do."""
    return f"su-{su:02d}"


def nvlink_group(domain: str) -> str:
    """Group of the trays of one rack-scale NVLink domain."""
    return f"nvl-{domain}"


def plane_group(fabric: str, plane: int) -> str:
    """Group of the nodes cabled to one plane of a fabric."""
    return f"fabric-{fabric}-p{plane}"


def partition_group(sku: str | None) -> str:
    """Group of a scheduler partition: one per GPU SKU, ``partition-cpu`` for CPU nodes."""
    return f"partition-{sku or 'cpu'}"


def inventory_groups(plan: Plan) -> dict[str, Group]:
    """Every group of the plan by name, sorted by name."""
    catalog = load_catalog()
    hosts: dict[str, list[str]] = defaultdict(list)
    children: dict[str, set[str]] = defaultdict(set)
    for system_class in SystemClass:
        children[system_class.value] = set()  # present even when empty: playbooks target them
    for node in plan.nodes:
        hosts[sku_group(node.sku)].append(node.name)
        hosts[rack_group(node.rack)].append(node.name)
    for rack in plan.racks:
        children[su_group(rack.su)].add(rack_group(rack.name))
    for sku_id in sorted({n.sku for n in plan.nodes}):
        sku = catalog.sku(sku_id)
        children[sku.system_class.value].add(sku_group(sku_id))
        children[partition_group(sku_id if sku.gpu else None)].add(sku_group(sku_id))
    for domain in plan.domains:
        if len(domain.nodes) > 1:
            hosts[nvlink_group(domain.name)].extend(domain.nodes)
    for fp in plan.fabrics:
        if not fp.is_tree:
            continue
        members = [e.name for e in fp.endpoints if e.name in plan.by_name]  # not appliances
        for plane in fp.planes:
            hosts[plane_group(fp.name, plane)].extend(members)
    names = sorted(set(hosts) | set(children))
    return {
        name: Group(tuple(sorted(hosts.get(name, ()))), tuple(sorted(children.get(name, ()))))
        for name in names
    }


def all_group(plan: Plan) -> dict[str, JsonValue]:
    """The ``all`` group of hosts.yml: every node (with its management address) and every group."""
    hosts: dict[str, JsonValue] = {}
    for node in plan.nodes:
        address = management_address(plan, node)
        hosts[node.name] = {"ansible_host": address} if address is not None else {}
    groups = inventory_groups(plan)
    return {
        "hosts": dict(sorted(hosts.items())),
        "children": {name: group.inventory() for name, group in groups.items()},
    }
