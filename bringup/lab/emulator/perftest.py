"""`ib_write_bw` (perftest) on one of the node's HCAs.

Layout: fixtures/real/perftest (the test banner with tab-separated pairs, the local/remote address
lines, GID lines on RoCE ports, the '#bytes #iterations BW peak BW average MsgRate' table and the
result row " %-7lu    %-7lu          %-7.2lf            %-7.2lf\\t\\t   %-7.6lf"). Run without a
server address it prints the server side (the 'Waiting for client' box) and returns at once:
the lab has no peer to wait for. Figures: performance.ib_write_bw_gbps, capped at 98.5 % of the
port's rate (a port trained at a lower rate gives a lower figure). A port that is not Active
fails as perftest does (' Port number 1 state is Down', exit 1).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._base import Env, Run, flag_value, nics

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import NicProfile, Profile

RULE = "-" * 87
PORT_STATES = {"Down": "Down", "Init": "Init", "Initializing": "Init", "Armed": "Armed"}


def _positional(args: Sequence[str]) -> list[str]:
    """Arguments that are not options nor option values (the server address)."""
    with_value = {
        "-d",
        "--ib-dev",
        "-i",
        "--ib-port",
        "-s",
        "--size",
        "-n",
        "--iters",
        "-D",
        "--duration",
        "-q",
        "--qp",
        "-x",
        "--gid-index",
        "-p",
        "--port",
        "-m",
        "--mtu",
        "--use_cuda",
        "-t",
        "--tx-depth",
        "-Q",
        "--cq-mod",
    }
    rest, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in with_value:
            skip = True
        elif not arg.startswith("-"):
            rest.append(arg)
    return rest


def bandwidth(profile: Profile, nic: NicProfile) -> float:
    """The average write bandwidth (Gb/s) this port sustains."""
    figure = float((profile.get("performance") or {}).get("ib_write_bw_gbps") or 0.0)
    cap = float(nic.get("rate_gbps") or 0) * 0.985
    return min(figure, cap) if figure else cap


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `ib_write_bw args`."""
    ports = nics(profile)
    device = flag_value(args, "-d", "--ib-dev") or (str(ports[0]["device"]) if ports else "")
    port = int(flag_value(args, "-i", "--ib-port") or 1)
    nic = next((n for n in ports if n["device"] == device and int(n["port"]) == port), None)
    if nic is None:
        return Run(
            "", f" IB device {device} not found\n Unable to find the Infiniband/RoCE device\n", 1
        )
    state = str(nic.get("state"))
    if state != "Active":
        shown = PORT_STATES.get(state, "Down")
        return Run("", f" Port number {port} state is {shown}\n Couldn't set the link layer\n", 1)
    gbits = "--report_gbits" in args
    size = int(flag_value(args, "-s", "--size") or 65536)
    iters = int(flag_value(args, "-n", "--iters") or 5000)
    server = not _positional(args)
    sizes = [2**k for k in range(1, 24)] if "-a" in args or "--all" in args else [size]
    lines = []
    if server:
        lines += [
            "",
            "************************************",
            "* Waiting for client to connect... *",
            "************************************",
        ]
    lines += [RULE, *banner(nic, device), RULE, *addresses(profile, nic), RULE]
    unit = "Gb/sec" if gbits else "MB/sec"
    lines.append(
        f" #bytes     #iterations    BW peak[{unit}]    BW average[{unit}]   MsgRate[Mpps]"
    )
    average = bandwidth(profile, nic)
    factor = 1.0 if gbits else 125e6 / 2**20  # Gb/s, or MiB/s as perftest's MB/sec
    for msg in sizes:
        achieved = average * msg / (msg + 64)  # small messages are bound by the message rate
        rate = achieved * 125e6 / msg / 1e6
        lines.append(result_row(msg, iters, achieved * factor * 1.0003, achieved * factor, rate))
    lines.append(RULE)
    return Run("\n".join(lines) + "\n")


def banner(nic: NicProfile, device: str) -> list[str]:
    """The test parameters block."""
    ethernet = nic.get("link_layer") == "Ethernet"
    lines = [
        "                    RDMA_Write BW Test",
        f" Dual-port       : OFF\t\tDevice         : {device}",
        " Number of qps   : 1\t\tTransport type : IB",
        " Connection type : RC\t\tUsing SRQ      : OFF",
        " PCIe relax order: ON",
        " ibv_wr* API     : ON",
        " TX depth        : 128",
        " CQ Moderation   : 1",
        " Mtu             : 4096[B]",
        f" Link type       : {'Ethernet' if ethernet else 'IB'}",
    ]
    if ethernet:
        lines.append(" GID index       : 3")
    tail = [" Max inline data : 0[B]", " rdma_cm QPs\t : OFF", " Data ex. method : Ethernet"]
    return [*lines, *tail]


def addresses(profile: Profile, nic: NicProfile) -> list[str]:
    """The local and remote queue pair lines (loopback: both ends are this port)."""
    seed = zlib.crc32(f"{profile.get('node')}/{nic['device']}".encode())
    lid = 0 if nic.get("link_layer") == "Ethernet" else int(nic.get("lid") or 0)
    ends = []
    for n, name in enumerate(("local", "remote")):
        qpn, psn = (seed >> (4 * n)) % 0x10000, (seed >> n) % 0x1000000
        rkey, vaddr = (seed >> (2 * n)) % 0x1000000, 0x7F0000000000 + (seed % 0x1000000) * 0x1000
        ends.append(
            f" {name} address: LID {lid:#06x} QPN {qpn:#06x} PSN {psn:#08x} "
            f"RKey {rkey:#08x} VAddr {vaddr:#016x}"
        )
        if nic.get("link_layer") == "Ethernet":
            octets = [int(x) for x in str(nic.get("address") or "0.0.0.0").split(".")]
            ends.append(
                " GID: 00:00:00:00:00:00:00:00:00:00:255:255:"
                + ":".join(f"{o:02d}" for o in octets)
            )
    return ends


def result_row(size: int, iters: int, peak: float, average: float, rate_mpps: float) -> str:
    """One result line: bytes, iterations, peak and average bandwidth, message rate."""
    return (
        f" {size:<7d}    {iters:<7d}          {peak:<7.2f}            {average:<7.2f}"
        f"\t\t   {rate_mpps:<7.6f}"
    )
