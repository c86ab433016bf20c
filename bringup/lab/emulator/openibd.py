"""`openibd`: DOCA-OFED's init script, which loads and unloads the host's RDMA stack.

`start` loads the stack as the emulated driver would. It reads /etc/infiniband/openib.conf
(`SET_IPOIB_CM=yes|no|auto`) and the ib_ipoib module options in /etc/modprobe.d. Every
InfiniBand port of the profile comes up in connected mode where both allow it: SET_IPOIB_CM is
yes and `ipoib_enhanced=0` (enhanced IPoIB, the default of ConnectX-4 and later, runs datagram
mode only); otherwise in datagram mode. It comes up at that mode's default MTU (65520 or 2044)
and without addresses, as netdevs recreated by a driver load are. `stop` unloads, `restart` does
both (`start` does nothing while loaded), and `status` exits 0 while loaded and 3 when not, as
LSB says.

Each load is logged to openibd.log under $BRINGUP_LAB_LOG_DIR (default /var/log) with the
settings it read, so the lab's tests can tell a restart that happened from one that did not;
while loaded, openibd.loaded under $BRINGUP_LAB_RUN_DIR (default /run) holds the same line. The
mode lives in the netdev's `mode`
attribute under $BRINGUP_LAB_SYSFS_NET (default /sys/class/net), which the lab's boot gives each
InfiniBand netdev of a node.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ._base import Env, Run

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import Profile

OPENIB_CONF = "/etc/infiniband/openib.conf"
MODPROBE_GLOB = "/etc/modprobe.d/*.conf"
MTU = {"connected": 65520, "datagram": 2044}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def setting(text: str, key: str, default: str) -> str:
    """The value of `key` in an openib.conf text (shell assignments; the last one counts).

    >>> setting("SET_IPOIB_CM=auto\\nSET_IPOIB_CM=yes\\n", "SET_IPOIB_CM", "auto")
    'yes'
    """
    found = re.findall(rf"^\s*{key}=\"?([^\"\s#]*)\"?", text, flags=re.MULTILINE)
    return found[-1] if found else default


def enhanced(modprobe_texts: Sequence[str]) -> bool:
    """Whether ib_ipoib loads in enhanced mode: its default, unless an options line says 0.

    >>> enhanced(["options ib_ipoib ipoib_enhanced=0\\n"]), enhanced([""])
    (False, True)
    """
    value = "1"
    for text in modprobe_texts:
        for words in (line.split() for line in text.splitlines()):
            if words[:2] == ["options", "ib_ipoib"]:
                for word in words[2:]:
                    if word.startswith("ipoib_enhanced="):
                        value = word.split("=", 1)[1]
    return value != "0"


def mode_of(cm: str, enhanced_ipoib: bool) -> str:
    """The IPoIB mode a port comes up in after a load.

    >>> mode_of("yes", False), mode_of("yes", True), mode_of("auto", False)
    ('connected', 'datagram', 'datagram')
    """
    return "connected" if cm == "yes" and not enhanced_ipoib else "datagram"


def _state(env: Env) -> str:
    return os.path.join(env.get("BRINGUP_LAB_RUN_DIR") or "/run", "openibd.loaded")


def _load(profile: Profile, env: Env) -> Run:
    sysfs = env.get("BRINGUP_LAB_SYSFS_NET", "/sys/class/net")
    cm = setting(_read(OPENIB_CONF), "SET_IPOIB_CM", "auto")
    modprobe = [_read(path) for path in sorted(glob.glob(MODPROBE_GLOB))]
    mode = mode_of(cm, enhanced(modprobe))
    ports = [n["netdev"] for n in profile["nics"] if n["link_layer"] == "InfiniBand"]
    for netdev in ports:
        if not os.path.exists(os.path.join(sysfs, netdev, "mode")):
            continue  # a port the lab did not make (a cut one) or not on this node
        with open(os.path.join(sysfs, netdev, "mode"), "w", encoding="utf-8") as handle:
            handle.write(mode)
        subprocess.run(["ip", "addr", "flush", "dev", netdev], check=False)
        subprocess.run(["ip", "link", "set", "dev", netdev, "mtu", str(MTU[mode])], check=False)
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    line = f"{stamp} loaded: SET_IPOIB_CM={cm} enhanced={int(enhanced(modprobe))} mode={mode}\n"
    log = os.path.join(env.get("BRINGUP_LAB_LOG_DIR") or "/var/log", "openibd.log")
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(line)
    with open(_state(env), "w", encoding="utf-8") as handle:
        handle.write(line)
    return Run(
        f"Loading HCA driver and Access Layer: [  OK  ] ({len(ports)} IPoIB ports, {mode})\n"
    )


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """`openibd start|stop|restart|force-reload|status`."""
    action = args[0] if args else ""
    state = _state(env)
    if action == "status":
        loaded = os.path.exists(state)
        return Run(
            "HCA driver loaded\n" if loaded else "HCA driver is not loaded\n",
            "",
            0 if loaded else 3,
        )
    if action == "stop":
        if os.path.exists(state):
            os.unlink(state)
        return Run("Unloading HCA driver: [  OK  ]\n")
    if action == "start" and os.path.exists(state):
        return Run("HCA driver already loaded\n")
    if action in ("start", "restart", "force-reload"):
        return _load(profile, env)
    return Run("", "usage: openibd {start|stop|restart|force-reload|status}\n", 3)
