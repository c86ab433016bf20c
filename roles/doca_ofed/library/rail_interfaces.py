#!/usr/bin/python3
"""Ansible module: bring network interfaces to their planned IPv4 address, MTU and link state."""

from __future__ import annotations

import json

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: rail_interfaces
short_description: Bring interfaces to their planned IPv4 address, MTU and link state
description:
  - Reads the interfaces with one C(ip -j addr show) and changes only what differs from the
    plan, so a second run changes nothing. In check mode it reports the commands it would run.
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
  exclusive:
    description: Remove the interfaces' other global IPv4 addresses.
    type: bool
    default: true
author: bringup
"""

EXAMPLES = r"""
- name: Rails 1 and 2 of the compute fabric
  rail_interfaces:
    interfaces:
      - {name: ibp24s0, address: 10.128.0.1/26, mtu: 4092}
      - {name: ibp64s0, address: 10.128.0.65/26, mtu: 4092}
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
                },
            },
            "exclusive": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    rc, out, err = module.run_command(["ip", "-j", "addr", "show"])
    if rc != 0:
        module.fail_json(msg=f"ip -j addr show failed: {err.strip()}", commands=[])
    links = {link["ifname"]: link for link in json.loads(out or "[]")}
    missing = [i["name"] for i in module.params["interfaces"] if i["name"] not in links]
    if missing:
        module.fail_json(msg=f"interfaces not found: {', '.join(missing)}", commands=[])
    commands: list[list[str]] = []
    before, after = [], []
    for wanted in module.params["interfaces"]:
        name, address = wanted["name"], wanted["address"]
        link = links[name]
        planned = plan_commands(
            link, name, address, wanted["mtu"], wanted["state"], module.params["exclusive"]
        )
        if not planned:
            continue
        commands += planned
        mtu, state, present = observed(link)
        kept = [a for a in present if a == address or not module.params["exclusive"]]
        before.append(f"{name}: mtu {mtu} {state} {' '.join(sorted(present))}")
        after.append(
            f"{name}: mtu {wanted['mtu']} {wanted['state']} {' '.join(sorted({*kept, address}))}"
        )
    shown = [" ".join(c) for c in commands]
    if not module.check_mode:
        for command in commands:
            rc, _, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg=f"{' '.join(command)} failed: {err.strip()}", commands=shown)
    result: dict[str, object] = {"changed": bool(commands), "commands": shown}
    if commands and module._diff:
        result["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
