"""Verdicts per node, differential attribution and NVLink domain policies (pure)."""

from __future__ import annotations

import pytest

from bringup.admit.verdict import (
    DomainPolicy,
    NodeVerdict,
    PolicyError,
    attribute,
    judge_domains,
    judge_node,
)
from bringup.validation.report import Finding, HostReport, TestOutcome

NIC_DOWN = Finding(
    "nic:n1/rail5",
    "nic.state",
    "Down",
    "Active",
    "ibstat mlx5_6",
    {"cable": "n1:mlx5_6/1", "leaf": "compute-p1-su01-r5-l1", "leaf_port": "1"},
)
NCCL_LOW = Finding("node:n1", "burn_in.nccl_busbw", "231.0 GB/s", ">= 460.0 GB/s")


def passed(module: str) -> TestOutcome:
    return TestOutcome(f"tests/validation/{module}.py::t[n1]", module, "passed")


def failed(module: str, *findings: Finding, message: str = "") -> TestOutcome:
    return TestOutcome(f"tests/validation/{module}.py::t[n1]", module, "failed", findings, message)


def test_a_node_whose_tests_all_pass_is_admitted() -> None:
    report = HostReport("n1", (passed("test_gpu"), passed("test_fabric")))
    assert judge_node("n1", report) == NodeVerdict("n1", "admitted")


def test_findings_of_failed_tests_make_the_quarantine() -> None:
    report = HostReport("n1", (passed("test_gpu"), failed("test_fabric", NIC_DOWN)))
    verdict = judge_node("n1", report)
    assert verdict.verdict == "quarantined"
    assert verdict.findings == (NIC_DOWN,)
    assert verdict.reason == "nic:n1/rail5 nic.state"


def test_a_failure_without_findings_still_names_the_node_and_test() -> None:
    report = HostReport("n1", (failed("test_gpu", message="AssertionError: boom\nmore"),))
    (finding,) = judge_node("n1", report).findings
    assert finding.component == "node:n1"
    assert finding.check.endswith("test_gpu.py::t[n1]")
    assert finding.observed == "AssertionError: boom"


@pytest.mark.parametrize(
    ("report", "verdict"),
    [
        (None, "unreachable"),
        (HostReport("n1", (), unreachable=True, message="ssh: connect refused"), "unreachable"),
        (HostReport("n1", ()), "quarantined"),  # nothing ran: never admitted by default
    ],
)
def test_unreachable_and_empty_reports(report: HostReport | None, verdict: str) -> None:
    assert judge_node("n1", report).verdict == verdict


def test_nic_down_at_both_ends_points_at_the_cable() -> None:
    report = HostReport("n1", (failed("test_fabric", NIC_DOWN),))
    verdict = attribute(judge_node("n1", report), report, far_end={"n1:mlx5_6/1": False}.get)
    assert verdict.findings[0].component == "cable:n1:mlx5_6/1"
    assert verdict.findings[0].check == "cable.continuity"
    assert "compute-p1-su01-r5-l1 port 1" in verdict.findings[0].evidence
    assert verdict.findings[1] == NIC_DOWN


@pytest.mark.parametrize("far", [True, None])
def test_nic_down_with_the_far_end_up_or_unknown_stays_on_the_nic(far: bool | None) -> None:
    report = HostReport("n1", (failed("test_fabric", NIC_DOWN),))
    verdict = attribute(judge_node("n1", report), report, far_end=lambda _: far)
    assert [f.component for f in verdict.findings] == ["nic:n1/rail5"]


def test_low_nccl_with_gpus_and_nvlinks_passing_points_at_the_nvlink_fabric() -> None:
    report = HostReport(
        "n1", (passed("test_gpu"), passed("test_nvlink"), failed("test_burn_in", NCCL_LOW))
    )
    verdict = attribute(judge_node("n1", report), report, domain="rack-7")
    assert verdict.findings[0].component == "nvlink-domain:rack-7"
    assert verdict.findings[0].observed == "231.0 GB/s"


def test_low_nccl_with_a_gpu_failing_stays_on_the_gpu() -> None:
    gpu = Finding("gpu:n1/3", "gpu.ecc_uncorrected", "4", "0", attributes={"serial": "165"})
    report = HostReport(
        "n1", (failed("test_gpu", gpu), passed("test_nvlink"), failed("test_burn_in", NCCL_LOW))
    )
    verdict = attribute(judge_node("n1", report), report, domain="rack-7")
    assert [f.component for f in verdict.findings] == ["gpu:n1/3", "node:n1"]


TRAYS = [f"t{i:02d}" for i in range(1, 19)]


def _verdicts(bad: set[str]) -> dict[str, NodeVerdict]:
    bad_finding = Finding("gpu:x/0", "gpu.count", "3", "4")
    return {
        t: NodeVerdict(t, "quarantined", (bad_finding,)) if t in bad else NodeVerdict(t, "admitted")
        for t in TRAYS
    }


def test_unit_policy_holds_the_whole_domain_for_one_bad_tray() -> None:
    verdicts, (domain,) = judge_domains(
        {"rack-7": TRAYS}, _verdicts({"t05"}), {}, DomainPolicy.parse("unit")
    )
    assert domain.status == "held"
    assert domain.faulty == ("t05",)
    assert all(v.verdict == "quarantined" for v in verdicts.values())
    held = verdicts["t01"].findings[0]
    assert (held.component, held.check) == ("nvlink-domain:rack-7", "domain.unit")
    assert held.observed == "17 of 18 nodes healthy"
    assert "t05" in held.evidence
    assert verdicts["t05"].findings[0].component == "gpu:x/0"  # its own finding kept


def test_quorum_policy_admits_the_healthy_trays_and_marks_the_domain_degraded() -> None:
    verdicts, (domain,) = judge_domains(
        {"rack-7": TRAYS}, _verdicts({"t05"}), {}, DomainPolicy.parse("quorum:16")
    )
    assert domain.status == "degraded"
    assert [t for t, v in verdicts.items() if v.verdict != "admitted"] == ["t05"]


def test_quorum_not_reached_holds_the_domain() -> None:
    verdicts, (domain,) = judge_domains(
        {"rack-7": TRAYS}, _verdicts({"t01", "t02", "t03"}), {}, DomainPolicy.parse("quorum:16")
    )
    assert domain.status == "held"
    assert verdicts["t04"].findings[0].check == "domain.quorum"


def test_members_outside_the_run_count_by_their_ledger_state() -> None:
    run = {t: NodeVerdict(t, "admitted") for t in TRAYS[:2]}
    prior = dict.fromkeys(TRAYS[2:], "admitted") | {"t18": "quarantined"}
    verdicts, (domain,) = judge_domains({"rack-7": TRAYS}, run, prior, DomainPolicy("unit"))
    assert domain.status == "held"
    assert domain.faulty == ("t18",)
    assert set(verdicts) == {"t01", "t02"}  # only this run's nodes get verdicts


def test_single_node_domains_and_untouched_domains_are_not_judged() -> None:
    _, domains = judge_domains(
        {"n1-nvl": ["n1"], "rack-7": TRAYS},
        {"n1": NodeVerdict("n1", "admitted")},
        {},
        DomainPolicy("unit"),
    )
    assert domains == []


@pytest.mark.parametrize("text", ["quorum", "quorum:0", "quorum:x", "all", ""])
def test_bad_policies_are_refused_with_the_value(text: str) -> None:
    with pytest.raises(PolicyError, match=repr(text).replace("[", r"\[")):
        DomainPolicy.parse(text)
