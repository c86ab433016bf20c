"""The lab's far-end adapter: whether the switch end of a cable is up, as the lab's wiring shows.

A node sees only its own end of a cable. On a real fabric the switch's end comes from the
subnet manager, UFM or the switch; in the lab the switch port is the host end of the node's
veth, whose alias names the cable. An administratively down host end is a port with no light,
which is what a cut cable looks like from the switch. Registered as ``lab`` in
bringup.access.FAR_ENDS.
"""

from __future__ import annotations

import json
import subprocess

from bringup.access import FarEnd
from bringup.lab.layout import VETH_PREFIX


def lab_far_end() -> FarEnd:
    """Far-end state of the lab's cables, read once from the host's links."""
    result = subprocess.run(
        ["ip", "-j", "-d", "link", "show"], capture_output=True, text=True, check=False
    )
    ports: dict[str, bool] = {}
    if result.returncode == 0 and result.stdout.strip():
        for link in json.loads(result.stdout):
            alias = link.get("ifalias")
            if alias and str(link.get("ifname", "")).startswith(VETH_PREFIX):
                # "<cable id> -> <leaf>:<port>"
                ports[str(alias).split(" -> ")[0]] = "UP" in link.get("flags", [])

    def far_end(cable: str) -> bool | None:
        return ports.get(cable)

    return far_end
