"""The collection script, run for real by a local shell, and the splitting of its output."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bringup.validation.collect import (
    SSH_UNREACHABLE,
    collection_script,
    judge_run,
    parse_outputs,
    planned_sections,
    write_section,
)
from bringup.validation.expected import read_expectation
from bringup.validation.node import Node
from tests.unit.validation.conftest import CPU, DRA_PLAN, HGX, TRAY, host_vars


def run_locally(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)


def test_sections_follow_the_expectations() -> None:
    hgx = collection_script(read_expectation(host_vars(HGX)).expected)
    cpu = collection_script(read_expectation(host_vars(CPU)).expected)
    assert "nvidia-smi -q -x" in hgx
    assert "nvidia-smi" not in cpu
    assert hgx.count("perfquery -x") == 8  # one per compute rail; Ethernet ports have none
    assert "svc nvidia-fabricmanager" in hgx
    assert "fabricmanager" not in cpu


def test_rules_routes_and_modes_are_asked_where_planned() -> None:
    hgx = read_expectation(host_vars(HGX)).expected
    names = [s.name for s in planned_sections(hgx)]
    assert names.count("ip-rule") == names.count("ip-route") == 1  # for every rail at once
    assert [n for n in names if n.startswith("ipoib-mode:")] == [
        f"ipoib-mode:{nic.netdev}" for nic in hgx.nics if nic.role == "compute"
    ]
    assert "cat /sys/class/net/ibp24s0/mode" in collection_script(hgx)
    cpu = read_expectation(host_vars(CPU)).expected  # Ethernet rails only: no mode
    assert not any(s.kind == "ipoib-mode" for s in planned_sections(cpu))
    assert {"ip-rule", "ip-route"} <= {s.name for s in planned_sections(cpu)}
    unrailed = cpu.model_copy(update={"nics": ()})  # no rails: nothing to ask
    assert {s.name for s in planned_sections(unrailed)}.isdisjoint({"ip-rule", "ip-route"})


def test_where_the_dra_driver_runs_imex_the_host_s_state_is_asked_and_not_its_domain() -> None:
    lab = collection_script(read_expectation(host_vars(TRAY)).expected)
    dra = collection_script(read_expectation(host_vars(TRAY, DRA_PLAN)).expected)
    assert "svc nvidia-imex" in lab
    assert "nvidia-imex-ctl -N" in lab
    assert "svc nvidia-imex" in dra  # to see it running where it must not
    assert "nvidia-imex-ctl" not in dra  # the driver's daemons answer in their pods


def test_script_runs_and_every_section_comes_back(tmp_path: Path) -> None:
    variables = host_vars(CPU)
    (shared,) = variables["bringup_expected"]["mounts"]
    variables["bringup_expected"]["mounts"] = [
        {**shared, "mount": str(tmp_path)},
        {**shared, "mount": "/nonexistent"},
    ]
    expected = read_expectation(variables).expected
    done = run_locally(collection_script(expected))
    outputs = judge_run(CPU, done.returncode, done.stdout, done.stderr)
    assert not outputs.unreachable
    assert outputs.rc("clock") == 0
    assert len(outputs.text("clock").split()) == 3
    assert outputs.rc(write_section(str(tmp_path))) == 0
    assert outputs.rc(write_section("/nonexistent")) != 0
    assert list(tmp_path.iterdir()) == []  # the probe file is removed
    assert str(tmp_path) not in outputs.text("mounts")  # a plain folder is no mount
    node = Node(expected, outputs)  # this machine's ip prints what the checks read
    assert (outputs.rc("ip-rule"), outputs.rc("ip-route")) == (0, 0)
    assert {"local", "main"} <= {rule.table for rule in node.rules}
    assert "main" in {route.table for route in node.routes}
    assert "/" in node.mount_options


def test_output_is_kept_verbatim() -> None:
    script = "s() { printf '\\n@@bringup:begin %s\\n' \"$1\"; ( eval \"$2\" ) 2>&1; " \
             "printf '\\n@@bringup:end %s %d\\n' \"$1\" \"$?\"; }\n" \
             "s a 'printf \"x\\n\\ny\"'\ns b 'echo oops; exit 3'\n"  # fmt: skip
    outputs = parse_outputs("h", run_locally(script).stdout)
    assert outputs.text("a") == "x\n\ny"
    assert (outputs.text("b"), outputs.rc("b")) == ("oops\n", 3)
    assert (outputs.text("c"), outputs.rc("c")) == ("", -1)


def test_cut_off_output_keeps_what_arrived() -> None:
    outputs = parse_outputs("h", "@@bringup:begin a\npartial")
    assert (outputs.text("a"), outputs.rc("a")) == ("partial", -1)


def test_ssh_failure_is_unreachable() -> None:
    refused = "ssh: connect to host 10.0.0.1 port 22: Connection refused\n"
    outputs = judge_run("n1", SSH_UNREACHABLE, "", refused)
    assert outputs.unreachable
    assert "Connection refused" in outputs.message


def test_script_exit_255_after_output_is_not_unreachable() -> None:
    outputs = judge_run("n1", SSH_UNREACHABLE, "@@bringup:begin a\nx\n@@bringup:end a 0\n", "")
    assert not outputs.unreachable


def test_the_kernel_log_grep_keeps_every_driver_event() -> None:
    """What the node's grep keeps of a kernel log parses to the events of the whole log."""
    from bringup.parsers.xid import parse_xid_log
    from bringup.validation.collect import _DRIVER_EVENTS
    from bringup.workspace import REPOSITORY

    logs = sorted((REPOSITORY / "tests" / "fixtures" / "field" / "xid").glob("*.log"))
    assert logs
    for log in logs:
        kept = run_locally(f"grep -aE {_DRIVER_EVENTS} {log}").stdout

        def events(text: str) -> list[tuple[object, ...]]:  # line numbers differ, of course
            return [(e.kind, e.pci_address, e.xid, e.message) for e in parse_xid_log(text)]

        assert events(kept) == events(log.read_text()), log.name
        assert any(e.kind == "fallen-off-bus" for e in parse_xid_log(kept)), log.name
