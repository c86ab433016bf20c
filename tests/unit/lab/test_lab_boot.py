"""Booting lab nodes (marked `root`): a slow or loaded host still boots every node, and a boot
that cannot finish says which node, which step and what is missing.

The boot script writes the anchor's pid file just before it execs chroot; on a loaded host the
script can stall in between, and a command entering the anchor then runs on the host's root,
where the node's sshd config does not exist. The first test widens that window on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bringup.lab import hosts
from bringup.lab.lab import Lab
from bringup.lab.system import LabError
from bringup.plan import make_plan
from bringup.spec import load_cluster
from bringup.workspace import Workspace

from .conftest import ssh

pytestmark = pytest.mark.root

STACKS = Path(__file__).resolve().parents[3] / "stacks"
PLAN = make_plan(load_cluster(STACKS / "Pulumi.lab.yaml"))
FIRST = PLAN.nodes[0].name


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(Workspace(tmp_path / "project"), "lab")
    lab.down()
    yield lab
    lab.down()


def _reachable(lab: Lab) -> dict[str, str]:
    """Each node's hostname as it answers over SSH right after `up` (or the ssh error)."""
    answers = {}
    for record in lab.state()["nodes"]:
        out = ssh(lab.known_hosts, lab.key, record["management"], "hostname", check=False)
        answers[record["name"]] = out.stdout.strip() if out.returncode == 0 else out.stderr
    return answers


def test_a_boot_script_stalled_before_its_chroot_still_boots(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded host, made certain: the script sleeps between the pid file and the chroot."""
    stalled = hosts._BOOT.replace('exec chroot "$R"', 'sleep 1; exec chroot "$R"')
    assert stalled != hosts._BOOT
    monkeypatch.setattr(hosts, "_BOOT", stalled)
    lab.up(PLAN, 2)
    assert _reachable(lab) == {n.name: n.name for n in PLAN.nodes[:2]}


def test_nodes_boot_and_answer_beside_cpu_hogs(lab: Lab) -> None:
    """Every node answers SSH as soon as `up` returns, with every core busy several times over."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(4 * (os.cpu_count() or 1))
    ]
    try:
        lab.up(PLAN, 6)
        answers = _reachable(lab)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert answers == {n.name: n.name for n in PLAN.nodes[:6]}


def test_a_boot_script_that_fails_names_the_node_the_step_and_its_output(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = hosts._BOOT.replace(
        "set -e\n", "set -e\necho 'mount: overlay: no such device'\nexit 3\n"
    )
    monkeypatch.setattr(hosts, "_BOOT", failing)
    with pytest.raises(LabError) as error:
        lab.up(PLAN, 1)
    message = str(error.value)
    assert f"node {FIRST}: boot step 'anchor'" in message
    assert "the boot script exited (3), no anchor.pid" in message
    assert "mount: overlay: no such device" in message


def test_an_anchor_outside_the_node_root_is_named_with_what_is_missing(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    unrooted = hosts._BOOT.replace('exec chroot "$R" /bin/sleep', "exec /bin/sleep")
    assert unrooted != hosts._BOOT
    monkeypatch.setattr(hosts, "_BOOT", unrooted)
    monkeypatch.setattr(hosts, "ANCHOR_TIMEOUT", 1.0)
    with pytest.raises(LabError) as error:
        lab.up(PLAN, 1)
    message = str(error.value)
    assert f"node {FIRST}: boot step 'anchor'" in message
    assert f"/{hosts.SSHD_CONFIG} missing from the node's root" in message


def test_an_sshd_that_cannot_start_is_retried_then_named(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = hosts._sshd_config
    monkeypatch.setattr(hosts, "_sshd_config", lambda node: config(node) + "NoSuchOption yes\n")
    with pytest.raises(LabError) as error:
        lab.up(PLAN, 1)
    message = str(error.value)
    assert f"node {FIRST}: boot step 'sshd' ({hosts.SSHD_ATTEMPTS} attempts)" in message
    assert "sshd exited (255) before it listened" in message
    assert "NoSuchOption" in message  # sshd's own complaint, from the node's /var/log/sshd.log
