"""`ibstat`, `ibstatus`, `ibv_devinfo` and `perfquery` for the node's NIC ports.

Layouts: fixtures/real/infiniband -- ibstat (tab-indented, CAs in name order, InfiniBand and
Ethernet link layers, Down/Disabled ports), ibstatus (8-space indent, 17-column keys, blank line
after each port), ibv_devinfo (tab-aligned as rdma-core prints it; the captures are transcribed
with spaces), perfquery -x (keys dotted to column 33). Plain `perfquery` (no -x) and the extra
lines of `ibv_devinfo -v` follow infiniband-diags' and rdma-core's documented output, for which
the lab has no capture. A port that is not up reports the rate the HCA falls back to (10 on
InfiniBand, 40 on Ethernet, as the Down ports of the captures).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._base import Env, Run, flag_value, nics

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import NicProfile, Profile

PHYS_STATE = {"Sleep": 1, "Polling": 2, "Disabled": 3, "LinkUp": 5, "LinkErrorRecovery": 6}
PORT_STATE = {"Down": 1, "Initializing": 2, "Init": 2, "Armed": 3, "Active": 4}
RATE_NAME = {
    10: "4X SDR",
    40: "4X QDR",
    56: "4X FDR",
    100: "4X EDR",
    200: "4X HDR",
    400: "4X NDR",
    800: "4X XDR",
}
LANE_SPEED = {
    100: ("25.0 Gbps", 32),
    200: ("50.0 Gbps", 64),
    400: ("100.0 Gbps", 128),
    800: ("200.0 Gbps", 256),
}
BOARD_IDS = {"4129": "MT_0000000838", "4119": "MT_0000000425"}  # ibv_devinfo captures
IB_CAPABILITY = "0xa751e848"  # CX-7 InfiniBand port (ibstat captures)
ETH_CAPABILITY = "0x00010000"
COUNTERS = (
    ("SymbolErrorCounter", "symbol_errors"),
    ("LinkErrorRecoveryCounter", "link_error_recovery"),
    ("LinkDownedCounter", "link_downed"),
    ("PortRcvErrors", "port_rcv_errors"),
    ("PortRcvRemotePhysicalErrors", "port_rcv_remote_physical_errors"),
    ("PortRcvSwitchRelayErrors", "port_rcv_switch_relay_errors"),
    ("PortXmitDiscards", "port_xmit_discards"),
    ("PortXmitConstraintErrors", "port_xmit_constraint_errors"),
    ("PortRcvConstraintErrors", "port_rcv_constraint_errors"),
)
DATA = (
    ("PortXmitData", "port_xmit_data"),
    ("PortRcvData", "port_rcv_data"),
    ("PortXmitPkts", "port_xmit_pkts"),
    ("PortRcvPkts", "port_rcv_pkts"),
)


def _active(nic: NicProfile) -> bool:
    return str(nic.get("state")) == "Active"


def _ib(nic: NicProfile) -> bool:
    return str(nic.get("link_layer")) == "InfiniBand"


def _rate(nic: NicProfile) -> int:
    if _active(nic):
        return int(nic.get("rate_gbps") or 0)
    return 10 if _ib(nic) else 40


def _lid(nic: NicProfile) -> int:
    return int(nic.get("lid") or 0) if _ib(nic) and _active(nic) else 0


def _sm_lid(nic: NicProfile) -> int:
    return int(nic.get("sm_lid") or 0) if _ib(nic) and _active(nic) else 0


def _by_device(profile: Profile) -> dict[str, list[NicProfile]]:
    devices: dict[str, list[NicProfile]] = {}
    for nic in nics(profile):
        devices.setdefault(str(nic["device"]), []).append(nic)
    return devices


def _pid(profile: Profile) -> int:
    """A stable stand-in for the process id that the diags' error lines carry."""
    return 1000 + zlib.crc32(str(profile.get("node", "")).encode()) % 900000


def ibstat(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """`ibstat [-l] [ca [port]]`."""
    devices = _by_device(profile)
    positional = [a for a in args if not a.startswith("-")]
    if "-l" in args or "--list_of_cas" in args:
        return Run("".join(f"{name}\n" for name in devices))
    if positional and positional[0] not in devices:
        return Run(
            "",
            (
                f"ibpanic: [{_pid(profile)}] main: stat of IB device "
                f"'{positional[0]}' failed: No such file or directory\n"
            ),
            255,
        )
    chosen = {positional[0]: devices[positional[0]]} if positional else devices
    port = int(positional[1]) if len(positional) > 1 and positional[1].isdigit() else None
    lines = []
    for name, ports in chosen.items():
        first = ports[0]
        lines += [
            f"CA '{name}'",
            f"\tCA type: {first.get('ca_type', 'MT4129')}",
            f"\tNumber of ports: {len(ports)}",
            f"\tFirmware version: {first.get('firmware', '')}",
            "\tHardware version: 0",
            f"\tNode GUID: {first['node_guid']}",
            f"\tSystem image GUID: {first['node_guid']}",
        ]
        for nic in ports:
            if port is None or int(nic["port"]) == port:
                lines += _ibstat_port(nic)
    return Run("\n".join(lines) + "\n")


def _ibstat_port(nic: NicProfile) -> list[str]:
    return [
        f"\tPort {nic['port']}:",
        f"\t\tState: {nic.get('state', 'Down')}",
        f"\t\tPhysical state: {nic.get('physical_state', 'Disabled')}",
        f"\t\tRate: {_rate(nic)}",
        f"\t\tBase lid: {_lid(nic)}",
        "\t\tLMC: 0",
        f"\t\tSM lid: {_sm_lid(nic)}",
        f"\t\tCapability mask: {IB_CAPABILITY if _ib(nic) else ETH_CAPABILITY}",
        f"\t\tPort GUID: {nic['port_guid']}",
        f"\t\tLink layer: {nic.get('link_layer', 'InfiniBand')}",
    ]


def _gid(nic: NicProfile) -> str:
    guid = f"{int(str(nic['port_guid']), 16):016x}"
    return "fe80:0000:0000:0000:" + ":".join(guid[i : i + 4] for i in range(0, 16, 4))


def ibstatus(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """`ibstatus [devices]`: one block per port."""
    wanted = [a for a in args if not a.startswith("-")]
    blocks = []
    for nic in nics(profile):
        if wanted and nic["device"] not in wanted:
            continue
        state = str(nic.get("state", "Down"))
        phys = str(nic.get("physical_state", "Disabled"))
        rate = _rate(nic)
        rows = [
            ("default gid", _gid(nic)),
            ("base lid", hex(_lid(nic))),
            ("sm lid", hex(_sm_lid(nic))),
            ("state", f"{PORT_STATE.get(state, 1)}: {state.upper()}"),
            ("phys state", f"{PHYS_STATE.get(phys, 3)}: {phys}"),
            ("rate", f"{rate} Gb/sec ({RATE_NAME.get(rate, '4X')})"),
            ("link_layer", str(nic.get("link_layer", "InfiniBand"))),
        ]
        head = f"Infiniband device '{nic['device']}' port {nic['port']} status:"
        blocks.append("\n".join([head] + [f"        {k + ':':<17}{v}" for k, v in rows]) + "\n")
    return Run("\n".join(blocks) + "\n" if blocks else "")


def _colon_guid(guid: object) -> str:
    text = f"{int(str(guid), 16):016x}"
    return ":".join(text[i : i + 4] for i in range(0, 16, 4))


def ibv_devinfo(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """`ibv_devinfo [-d dev] [-i port] [-v]`."""
    devices = _by_device(profile)
    device = flag_value(args, "-d", "--ib-dev")
    if device is not None and device not in devices:
        return Run("", f"IB device '{device}' wasn't found\n", 255)
    port_text = flag_value(args, "-i", "--ib-port")
    verbose = "-v" in args or "--verbose" in args
    blocks = []
    for name, ports in devices.items():
        if device is not None and name != device:
            continue
        first = ports[0]
        part = str(first.get("ca_type", "MT4129")).removeprefix("MT")
        lines = [
            f"hca_id:\t{name}",
            "\ttransport:\t\t\tInfiniBand (0)",
            f"\tfw_ver:\t\t\t\t{first.get('firmware', '')}",
            f"\tnode_guid:\t\t\t{_colon_guid(first['node_guid'])}",
            f"\tsys_image_guid:\t\t\t{_colon_guid(first['node_guid'])}",
            "\tvendor_id:\t\t\t0x02c9",
            f"\tvendor_part_id:\t\t\t{part}",
            "\thw_ver:\t\t\t\t0x0",
            f"\tboard_id:\t\t\t{_board_id(part)}",
            f"\tphys_port_cnt:\t\t\t{len(ports)}",
        ]
        if verbose:
            lines += [
                "\tmax_mr_size:\t\t\t0xffffffffffffffff",
                "\tpage_size_cap:\t\t\t0xfffffffffffff000",
                "\tmax_qp:\t\t\t\t131072",
                "\tmax_cq:\t\t\t\t16777216",
            ]
        for nic in ports:
            if port_text is None or str(nic["port"]) == port_text:
                lines += _devinfo_port(nic, verbose)
        blocks.append("\n".join(lines) + "\n")
    return Run("\n".join(blocks) + "\n" if blocks else "")


def _board_id(part: str) -> str:
    """The PSID of a card: the captured one for CX-7 and CX-5, a stable stand-in otherwise."""
    return BOARD_IDS.get(part) or f"MT_{zlib.crc32(part.encode()) % 10**10:010d}"


def _devinfo_port(nic: NicProfile, verbose: bool) -> list[str]:
    state = str(nic.get("state", "Down"))
    port_state = {
        "Active": "PORT_ACTIVE",
        "Down": "PORT_DOWN",
        "Init": "PORT_INIT",
        "Armed": "PORT_ARMED",
    }.get(state, "PORT_DOWN")
    lines = [
        f"\t\tport:\t{nic['port']}",
        f"\t\t\tstate:\t\t\t{port_state} ({PORT_STATE.get(state, 1)})",
        "\t\t\tmax_mtu:\t\t4096 (5)",
        "\t\t\tactive_mtu:\t\t4096 (5)",
        f"\t\t\tsm_lid:\t\t\t{_sm_lid(nic)}",
        f"\t\t\tport_lid:\t\t{_lid(nic)}",
        "\t\t\tport_lmc:\t\t0x00",
        f"\t\t\tlink_layer:\t\t{nic.get('link_layer', 'InfiniBand')}",
    ]
    if verbose:
        phys = str(nic.get("physical_state", "Disabled"))
        speed, code = LANE_SPEED.get(_rate(nic), ("10.0 Gbps", 8))
        lines += [
            "\t\t\tmax_msg_sz:\t\t0x40000000",
            f"\t\t\tport_cap_flags:\t\t{IB_CAPABILITY if _ib(nic) else ETH_CAPABILITY}",
            "\t\t\tactive_width:\t\t4X (2)",
            f"\t\t\tactive_speed:\t\t{speed} ({code})",
            f"\t\t\tphys_state:\t\t{_phys_name(phys)} ({PHYS_STATE.get(phys, 3)})",
        ]
    return lines


def _phys_name(phys: str) -> str:
    return {
        "LinkUp": "LINK_UP",
        "Disabled": "DISABLED",
        "Polling": "POLLING",
        "Sleep": "SLEEP",
    }.get(phys, phys.upper())


def perfquery(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """`perfquery [-x] [-C ca] [-P port] [lid [port]]`: the port's PMA counters."""
    ports = nics(profile)
    positional = [a for a in args if not a.startswith("-") and a not in _option_values(args)]
    ca, ca_port = flag_value(args, "-C", "--Ca"), flag_value(args, "-P", "--Port")
    if positional:
        lid = int(positional[0], 0)
        chosen = [n for n in ports if _lid(n) == lid and _ib(n)]
        if len(positional) > 1:
            chosen = [n for n in chosen if str(n["port"]) == positional[1]]
    else:
        chosen = [n for n in ports if n["device"] == ca] if ca else ports[:1]
        if ca_port:
            chosen = [n for n in chosen if str(n["port"]) == ca_port]
    pid = _pid(profile)
    if not chosen or not _ib(chosen[0]):
        where = f"'{ca}' port '{ca_port or 0}'" if ca else "'(null)' port '0'"
        return Run(
            "",
            (
                f"ibwarn: [{pid}] mad_rpc_open_port: can't open UMAD port ({where})\n"
                f"perfquery: iberror: failed: Failed to open {where}\n"
            ),
            255,
        )
    nic = chosen[0]
    extended = "-x" in args or "--extended" in args
    return Run(render_perfquery(nic, extended))


def _option_values(args: Sequence[str]) -> set[str]:
    return {args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-C", "--Ca", "-P", "--Port")}


def render_perfquery(nic: NicProfile, extended: bool) -> str:
    """The counter dump of one port (perfquery's layout, keys dotted to column 33)."""
    counters = nic.get("counters") or {}

    def value(key: str) -> int:
        return int(counters.get(key) or 0)

    lid, port = _lid(nic), nic["port"]
    if extended:
        head = (
            f"# Port extended counters: Lid {lid} port {port} (CapMask: 0x5A00 CapMask2: 0x0000000)"
        )
        rows = [("PortSelect", str(port)), ("CounterSelect", "0x0000")]
        rows += [(name, str(value(key))) for name, key in DATA]
        rows += [
            ("PortUnicastXmitPkts", str(value("port_xmit_pkts"))),
            ("PortUnicastRcvPkts", str(value("port_rcv_pkts"))),
            ("PortMulticastXmitPkts", "0"),
            ("PortMulticastRcvPkts", "0"),
            ("CounterSelect2", "0x00000000"),
        ]
        rows += [(name, str(value(key))) for name, key in COUNTERS]
        rows += [
            ("LocalLinkIntegrityErrors", "0"),
            ("ExcessiveBufferOverrunErrors", "0"),
            ("VL15Dropped", "0"),
            ("PortXmitWait", str(value("port_xmit_wait"))),
            ("QP1Dropped", "0"),
        ]
    else:
        head = f"# Port counters: Lid {lid} port {port} (CapMask: 0x5A00)"
        rows = [("PortSelect", str(port)), ("CounterSelect", "0x0000")]
        rows += [(name, str(value(key))) for name, key in COUNTERS]
        rows += [
            ("CounterSelect2", "0x00"),
            ("LocalLinkIntegrityErrors", "0"),
            ("ExcessiveBufferOverrunErrors", "0"),
            ("VL15Dropped", "0"),
        ]
        rows += [(name, str(value(key))) for name, key in DATA]
        rows.append(("PortXmitWait", str(value("port_xmit_wait"))))
    return "\n".join([head] + [f"{name + ':':.<33}{text}" for name, text in rows]) + "\n"
