#!/usr/bin/python3
"""Ansible module: bring network interfaces to their planned IPv4 address, MTU, link state,
IPoIB mode and rail routing (a table and a source rule per rail)."""

from __future__ import annotations

import ipaddress
import json
import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: rail_interfaces
short_description: Bring interfaces to their planned address, MTU, link state, mode and routes
description:
  - Reads the interfaces with one C(ip -j addr show), the rules with one C(ip -j rule show)
    and the routes of every table with one C(ip -j route show table all), and changes only what
    differs from the plan, so a second run changes nothing. In check mode it reports the
    commands it would run.
  - A rail with a I(table) gets a rule sending traffic from its address to that table, and a
    table holding its subnet (and, where its leaf routes, a default route through the leaf), so
    that what a multi-rail node sends from a rail's address leaves by that rail.
  - An IPoIB interface's mode is written to its C(mode) attribute in sysfs before its MTU
    (connected mode's MTU is refused in datagram mode).
options:
  interfaces:
    description: The planned interfaces.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The interface (netdev) name.
        type: str
        required: true
      address:
        description: The planned IPv4 address with its prefix length, e.g. 10.128.0.1/26.
        type: str
        required: true
      mtu:
        description: The planned MTU.
        type: int
        required: true
      state:
        description: The administrative link state.
        type: str
        choices: [up, down]
        default: up
      ipoib_mode:
        description: The IPoIB mode of an InfiniBand interface; not set on Ethernet.
        type: str
        choices: [datagram, connected]
      table:
        description: The rail's routing table, also its source rule's priority.
        type: int
      gateway:
        description: The rail's gateway (its leaf, on a routed fabric), the table's default.
        type: str
  exclusive:
    description: >-
      Remove the interfaces' other global IPv4 addresses, other routes from the rails' tables and
      other rules for the rails' addresses or tables.
    type: bool
    default: true
  sysfs_net:
    description: Where the interfaces' sysfs attributes are.
    type: str
    default: /sys/class/net
author: bringup
"""

EXAMPLES = r"""
- name: Rails 1 and 2 of the compute fabric
  rail_interfaces:
    interfaces:
      - {name: ibp24s0, address: 10.128.0.1/26, mtu: 4092, ipoib_mode: datagram, table: 1001}
      - {name: ibp64s0, address: 10.128.0.65/26, mtu: 4092, ipoib_mode: datagram, table: 1002}
"""

RETURN = r"""
commands:
  description: The ip commands run (or, in check mode, that would run), in order.
  type: list
  elements: str
  returned: always
"""


def observed(link: dict) -> tuple[int, str, list[str]]:
    """(MTU, administrative state, global IPv4 addresses) of one entry of ``ip -j addr``."""
    present = [
        f"{a['local']}/{a['prefixlen']}"
        for a in link.get("addr_info", [])
        if a.get("family") == "inet" and a.get("scope") == "global"
    ]
    return int(link.get("mtu", 0)), "up" if "UP" in link.get("flags", []) else "down", present


def plan_commands(
    link: dict, name: str, address: str, mtu: int, state: str, exclusive: bool
) -> list[list[str]]:
    """The ip commands that bring `link` (one entry of ``ip -j addr``) to the planned state."""
    commands: list[list[str]] = []
    current_mtu, current_state, present = observed(link)
    if current_mtu != mtu:
        commands.append(["ip", "link", "set", "dev", name, "mtu", str(mtu)])
    if current_state != state:
        commands.append(["ip", "link", "set", "dev", name, state])
    if address not in present:
        commands.append(["ip", "addr", "add", address, "dev", name])
    if exclusive:
        commands += [
            ["ip", "addr", "del", other, "dev", name] for other in present if other != address
        ]
    return commands


def subnet(address: str) -> str:
    """The network of an address with its prefix length: 10.128.0.0/26 for 10.128.0.1/26."""
    return str(ipaddress.ip_interface(address).network)


def wanted_routes(name: str, address: str, gateway: str | None) -> list[tuple[str, ...]]:
    """The routes of a rail's table, as (destination, gateway, device, source) tuples."""
    local = address.split("/")[0]
    routes = [(subnet(address), "", name, local)]
    if gateway:
        routes.append(("default", gateway, name, ""))
    return routes


def route_key(route: dict) -> tuple[str, ...]:
    """One entry of ``ip -j route show table N`` as a tuple comparable with wanted_routes."""
    return (
        route.get("dst", ""),
        route.get("gateway", ""),
        route.get("dev", ""),
        route.get("prefsrc", ""),
    )


def route_argv(route: tuple[str, ...], table: int, verb: str) -> list[str]:
    """``ip route add|del`` of one route of `table`."""
    dst, gateway, dev, source = route
    argv = ["ip", "route", verb, dst]
    if gateway:
        argv += ["via", gateway]
    argv += ["dev", dev]
    if source:
        argv += ["src", source, "scope", "link"]
    return [*argv, "table", str(table)]


def rule_commands(rules: list[dict], address: str, table: int, exclusive: bool) -> list[list[str]]:
    """The ``ip rule`` commands that leave exactly one rule for the rail: from its address to
    its table, at the table's number as priority."""
    local = address.split("/")[0]
    commands: list[list[str]] = []
    found = False
    for rule in rules:
        source = rule.get("src", "")
        if rule.get("srclen", 32) != 32:
            source = f"{source}/{rule['srclen']}"
        mine = source == local or rule.get("table") == str(table)
        if not mine:
            continue
        if (source, rule.get("table"), rule.get("priority")) == (local, str(table), table):
            found = True
        elif exclusive:
            commands.append(
                ["ip", "rule", "del", "priority", str(rule["priority"]), "from", source,
                 "lookup", str(rule.get("table", ""))]
            )  # fmt: skip
    if not found:
        commands.append(
            ["ip", "rule", "add", "from", local, "lookup", str(table), "priority", str(table)]
        )
    return commands


def routing_commands(
    table_routes: list[dict], name: str, address: str, gateway: str | None, table: int,
    exclusive: bool,
) -> list[list[str]]:  # fmt: skip
    """The ``ip route`` commands that leave the rail's table as planned."""
    wanted = wanted_routes(name, address, gateway)
    present = [route_key(r) for r in table_routes]
    commands = [route_argv(r, table, "add") for r in wanted if r not in present]
    if exclusive:
        commands += [route_argv(r, table, "del") for r in present if r not in wanted]
    return commands


def read_mode(sysfs_net: str, name: str) -> str | None:
    """The IPoIB mode the interface runs in, or None where it has no such attribute."""
    try:
        with open(os.path.join(sysfs_net, name, "mode"), encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interfaces": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "address": {"type": "str", "required": True},
                    "mtu": {"type": "int", "required": True},
                    "state": {"type": "str", "choices": ["up", "down"], "default": "up"},
                    "ipoib_mode": {"type": "str", "choices": ["datagram", "connected"]},
                    "table": {"type": "int"},
                    "gateway": {"type": "str"},
                },
            },
            "exclusive": {"type": "bool", "default": True},
            "sysfs_net": {"type": "str", "default": "/sys/class/net"},
        },
        supports_check_mode=True,
    )
    exclusive, sysfs_net = module.params["exclusive"], module.params["sysfs_net"]

    def read_json(argv: list[str]) -> list[dict]:
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg=f"{' '.join(argv)} failed: {err.strip()}", commands=[])
        return json.loads(out or "[]")

    links = {link["ifname"]: link for link in read_json(["ip", "-j", "addr", "show"])}
    missing = [i["name"] for i in module.params["interfaces"] if i["name"] not in links]
    if missing:
        module.fail_json(msg=f"interfaces not found: {', '.join(missing)}", commands=[])
    rules = read_json(["ip", "-j", "-4", "rule", "show"])
    # every table at once: showing one with no route yet is an error
    routes = read_json(["ip", "-j", "-4", "route", "show", "table", "all"])
    # (interface, mode) writes first: connected mode's MTU is refused in datagram mode
    modes: list[tuple[str, str]] = []
    commands: list[list[str]] = []
    routing: list[list[str]] = []
    before, after = [], []
    for wanted in module.params["interfaces"]:
        name, address, table = wanted["name"], wanted["address"], wanted["table"]
        link = links[name]
        mode = wanted["ipoib_mode"]
        current_mode = read_mode(sysfs_net, name) if mode else None
        if mode and current_mode is None:
            module.fail_json(
                msg=f"{name}: no IPoIB mode in {sysfs_net}/{name}/mode: not an IPoIB interface",
                commands=[],
            )
        if mode and current_mode != mode:
            modes.append((name, mode))
        planned = plan_commands(link, name, address, wanted["mtu"], wanted["state"], exclusive)
        commands += planned
        table_routes: list[dict] = []
        rail_routing: list[list[str]] = []
        if table is not None:
            table_routes = [r for r in routes if r.get("table") == str(table)]
            rail_routing = rule_commands(rules, address, table, exclusive) + routing_commands(
                table_routes, name, address, wanted["gateway"], table, exclusive
            )
            routing += rail_routing
        if not (planned or rail_routing or (mode and current_mode != mode)):
            continue
        mtu, state, present = observed(link)
        kept = [a for a in present if a == address or not exclusive]
        shown_mode = f" {current_mode}" if mode else ""
        wanted_mode = f" {mode}" if mode else ""
        in_force = " ".join(sorted(",".join(filter(None, route_key(r))) for r in table_routes))
        planned_routes = " ".join(
            sorted(
                ",".join(filter(None, r)) for r in wanted_routes(name, address, wanted["gateway"])
            )
        )
        in_table = f" table {table}: {in_force}" if table is not None else ""
        in_plan = f" table {table}: {planned_routes}" if table is not None else ""
        before.append(
            f"{name}:{shown_mode} mtu {mtu} {state} {' '.join(sorted(present))}{in_table}"
        )
        after.append(
            f"{name}:{wanted_mode} mtu {wanted['mtu']} {wanted['state']} "
            f"{' '.join(sorted({*kept, address}))}{in_plan}"
        )
    mode_writes = [f"write {mode} to {sysfs_net}/{name}/mode" for name, mode in modes]
    shown = mode_writes + [" ".join(c) for c in commands + routing]
    if not module.check_mode:
        for name, mode in modes:
            try:
                with open(os.path.join(sysfs_net, name, "mode"), "w", encoding="utf-8") as handle:
                    handle.write(mode)
            except OSError as exc:
                module.fail_json(msg=f"{name}: writing {mode} to its mode: {exc}", commands=shown)
        for command in commands + routing:
            rc, _, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg=f"{' '.join(command)} failed: {err.strip()}", commands=shown)
    result: dict[str, object] = {"changed": bool(shown), "commands": shown}
    if shown and module._diff:
        result["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
