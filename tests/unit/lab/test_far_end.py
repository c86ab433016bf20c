"""The lab's far-end adapter, reached as the Access names it: the host end of each cable's veth."""

from __future__ import annotations

import json
import subprocess

import pytest

from bringup.access import Access, AccessError
from bringup.lab import far_end as lab_module


def test_lab_far_end_reads_the_cable_from_the_host_end_alias(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    links = [
        {"ifname": "bv0n1", "ifalias": "n1:mlx5_0/1 -> leaf-1:1", "flags": ["BROADCAST", "UP"]},
        {"ifname": "bv0n2", "ifalias": "n1:mlx5_4/1 -> leaf-3:1", "flags": ["BROADCAST"]},
        {"ifname": "eth0", "ifalias": "n1:mlx5_9/1", "flags": ["UP"]},  # not a lab port
    ]
    done = subprocess.CompletedProcess([], 0, json.dumps(links), "")
    monkeypatch.setattr(lab_module.subprocess, "run", lambda *a, **k: done)
    far_end = Access(far_end="lab").far_end_view()  # through the registry, by name
    assert far_end("n1:mlx5_0/1") is True
    assert far_end("n1:mlx5_4/1") is False
    assert far_end("n1:mlx5_9/1") is None


def test_no_far_end_says_nothing_and_an_unknown_adapter_is_named() -> None:
    assert Access().far_end_view()("any-cable") is None
    with pytest.raises(AccessError, match="far-end adapter 'ufm'"):
        Access(far_end="ufm").far_end_view()
