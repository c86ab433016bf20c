"""nvidia-imex: the real daemon start-up log; `nvidia-imex-ctl -N` from its documented format.

No real `nvidia-imex-ctl -N` capture exists in fixtures/real; NODE_STATUS follows the output
shown in NVIDIA's IMEX documentation and cloud operators' guides (legend, timestamp,
"Node #i - address - STATUS - Version: v", the "Nodes From\\To" matrix, "Domain State").
"""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.imex import parse_imex_log, parse_imex_node_status

from .conftest import real

NODE_STATUS = """Connectivity Table Legend:
I - Invalid - Node wasn't reachable, no connection status available
N - Never Connected
R - Recovering - Connection was lost, but clean up has not yet been triggered.
D - Disconnected - Connection was lost, and clean up has been triggreed.
A - Authenticating - If GSSAPI enabled, client has initiated mutual authentication.
!V! - Version mismatch, communication disabled.
!M! - Node map mismatch, communication disabled.
C - Connected - Ready for operation

5/4/2026 06:08:10.580
Nodes:
Node #0   - 10.20.0.11      - READY                - Version: 580.159.04
Node #1   - 10.20.0.12      - READY                - Version: 580.159.04
Node #2   - 10.20.0.13      - UNAVAILABLE          - Version: 580.159.04

 Nodes From\\To  0   1   2
       0        C   C   I
       1        C   C   I
       2        N   N   C

Domain State: DEGRADED
"""


def test_daemon_startup_log() -> None:
    log = parse_imex_log(
        real("imex/nvidia-imex_daemon-startup-log_580.159.04_EXCERPT_dra-driver-pr1465.log")
    )
    assert log.version == "580.159.04"
    assert log.config["IMEX library communication bind port"] == "50000"
    assert log.config["Logging file name/path"] == ""
    assert log.config["Authentication and Encryption enabled"] == "0"
    assert [entry.message for entry in log.problems] == [
        "failed to open IMEX log file  errno = No such file or directory",
        "failed to chmod IMEX log file  errno = No such file or directory",
    ]
    assert log.log.banners == ("IMEX Log initializing at: 9/18/2026 06:40:33.561",)
    assert log.log.entries[-1].message == (
        "Treating node config entry 'compute-domain-daemon-7555db58d7-0001' as a host name."
    )


def test_node_status_degraded_domain() -> None:
    status = parse_imex_node_status(NODE_STATUS)
    assert [(n.index, n.address, n.status) for n in status.nodes] == [
        (0, "10.20.0.11", "READY"),
        (1, "10.20.0.12", "READY"),
        (2, "10.20.0.13", "UNAVAILABLE"),
    ]
    assert status.nodes[0].version == "580.159.04"
    assert status.timestamp == "5/4/2026 06:08:10.580"
    assert status.domain_state == "DEGRADED"
    assert status.unconnected() == ((0, 2, "I"), (1, 2, "I"), (2, 0, "N"), (2, 1, "N"))
    assert status.legend["!M!"] == "Node map mismatch, communication disabled."
    assert not status.healthy


def test_node_status_healthy_domain() -> None:
    text = (
        "Nodes:\nNode #0   - 10.0.0.1   - READY\n\n"
        " Nodes From\\To  0\n       0        C\nDomain State: UP\n"
    )
    status = parse_imex_node_status(text)
    assert status.healthy
    assert status.nodes[0].version is None


def test_node_status_short_matrix_row_names_its_line() -> None:
    text = NODE_STATUS.replace("       2        N   N   C", "       2        N   N")
    with pytest.raises(ParseError, match="expected 3 codes") as raised:
        parse_imex_node_status(text)
    assert raised.value.lineno == 20


def test_garbage_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="Node #i") as raised:
        parse_imex_node_status("\nIMEX daemon is not running\n")
    assert raised.value.lineno == 2
    with pytest.raises(ParseError, match="no log entry"):
        parse_imex_log("IMEX Log initializing at: 9/18/2026 06:40:33.561\n")
