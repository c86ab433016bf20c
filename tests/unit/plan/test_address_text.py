"""The addresses written as text from the integer are the ones ipaddress writes, for every
fabric of every example stack, at the first, last and a middle slot of every plane and rail."""

from __future__ import annotations

from pathlib import Path

import pytest

from bringup.plan import make_plan
from bringup.spec import load_cluster

STACKS = sorted((Path(__file__).resolve().parents[3] / "stacks").glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.stem.removeprefix("Pulumi."))
def test_address_text_is_what_ipaddress_writes(path: Path) -> None:
    plan = make_plan(load_cluster(path))
    checked = 0
    for layout in plan.layouts.values():
        planes, rails = 1 << layout.plane_bits, 1 << layout.rail_bits
        last = (1 << layout.host_bits) - 2
        for plane in range(1, planes + 1):
            for rail in range(1, rails + 1):
                for su in (1, 2):
                    for slot in (1, last // 2, last):
                        text = layout.address_text(plane, rail, su, slot)
                        assert text == str(layout.address(plane, rail, su, slot))
                        checked += 1
                    gateway = layout.gateway(plane, rail, su)
                    assert layout.gateway_text(plane, rail, su) == (
                        str(gateway) if gateway else None
                    )
                    assert layout.prefix == layout.subnet(plane, rail, su).prefixlen
    assert checked > 0
