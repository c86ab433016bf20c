"""bringup's pulumi-language-python without the engine: the command line and environment a run
gets, the interpreter Pulumi.yaml names, and the process the engine starts and ends."""

from __future__ import annotations

import doctest
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from bringup.infra import language_host
from bringup.infra.language_host import (
    Interpreter,
    LanguageHostError,
    run_arguments,
    run_environment,
)


def _request(**fields: object) -> language_pb2.RunRequest:
    info = language_pb2.ProgramInfo(
        root_directory="/srv/site", program_directory="/srv/site", entry_point="."
    )
    return language_pb2.RunRequest(info=info, **fields)


def test_a_run_passes_the_executor_every_flag_the_go_host_passes() -> None:
    request = _request(
        monitor_address="127.0.0.1:5",
        project="bringup",
        stack="lab",
        pwd="/srv/site",
        dryRun=True,
        parallel=16,
        organization="organization",
        args=["extra"],
    )
    assert run_arguments(request, Path("/b/exec"), "127.0.0.1:4") == [
        "/b/exec",
        "--monitor", "127.0.0.1:5",
        "--engine", "127.0.0.1:4",
        "--project", "bringup",
        "--root_directory", "/srv/site",
        "--stack", "lab",
        "--pwd", "/srv/site",
        "--dry_run", "true",
        "--parallel", "16",
        "--organization", "organization",
        ".",
        "extra",
    ]  # fmt: skip


def test_an_update_is_not_a_dry_run_and_parallel_is_always_given() -> None:
    args = run_arguments(_request(stack="lab"), Path("/b/exec"), "")
    assert args[args.index("--dry_run") + 1] == "false"
    assert args[args.index("--parallel") + 1] == "0"  # the executor reads it unconditionally
    assert "--engine" not in args  # no empty flag


def test_the_config_and_its_secret_keys_reach_the_executor_environment() -> None:
    request = _request(
        config={"bringup:cluster": '{"name": "lab"}', "bringup:mungeKey": "c2VjcmV0"},
        configSecretKeys=["bringup:mungeKey"],
    )
    env = run_environment(request, {"PATH": "/bin"})
    assert json.loads(env["PULUMI_CONFIG"]) == {
        "bringup:cluster": '{"name": "lab"}',
        "bringup:mungeKey": "c2VjcmV0",
    }
    assert json.loads(env["PULUMI_CONFIG_SECRET_KEYS"]) == ["bringup:mungeKey"]
    assert env["PATH"] == "/bin"


def test_the_virtualenv_is_the_projects_and_activated() -> None:
    python = Interpreter.of("/srv/site", {"toolchain": "pip", "virtualenv": ".venv"})
    assert python.python == Path("/srv/site/.venv/bin/python")
    env = python.environment({"PATH": "/bin", "PYTHONHOME": "/x", "VIRTUAL_ENV": "/other"})
    assert env == {"PATH": f"/srv/site/.venv/bin{os.pathsep}/bin", "VIRTUAL_ENV": "/srv/site/.venv"}


def test_a_missing_virtualenv_and_another_toolchain_are_named() -> None:
    with pytest.raises(LanguageHostError, match=re.escape("/nowhere/.venv")):
        Interpreter.of("/nowhere", {"virtualenv": ".venv"}).check()
    with pytest.raises(LanguageHostError, match="toolchain: 'uv'"):
        Interpreter.of("/srv/site", {"toolchain": "uv"})


HOST = [sys.executable, "-m", "bringup.infra.language_host", "--use-executor", "/x/exec"]
ENGINE = "127.0.0.1:1"  # nothing answers there: the host never calls the engine by itself


def _running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie left for its new parent to reap does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_the_host_announces_its_port_serves_and_ends_quietly_on_sigint() -> None:
    host = subprocess.Popen(
        [*HOST, ENGINE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert host.stdout is not None
    port = int(host.stdout.readline())
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = language_pb2_grpc.LanguageRuntimeStub(channel)
        assert stub.GetPluginInfo(empty_pb2.Empty()).version
        stub.Handshake(language_pb2.LanguageHandshakeRequest(engine_address=ENGINE))
        options = struct_pb2.Struct()
        options.update({"virtualenv": "no-such-venv"})
        info = language_pb2.ProgramInfo(root_directory="/nowhere", options=options)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Run(language_pb2.RunRequest(info=info))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "/nowhere/no-such-venv" in str(refused.value.details())
    host.send_signal(signal.SIGINT)  # how the engine ends its plugins
    _, err = host.communicate(timeout=10)
    assert host.returncode == 0
    assert "Traceback" not in err


def test_the_host_ends_when_the_engine_that_started_it_is_gone() -> None:
    # a Python process stands for the engine: it starts the host, waits for its port, says its
    # pid and is gone, as an engine killed outright is
    engine = (
        "import subprocess;"
        f"host = subprocess.Popen({[*HOST, ENGINE]!r}, stdout=subprocess.PIPE);"
        "host.stdout.readline();"
        "print(host.pid)"
    )
    started = subprocess.run(
        [sys.executable, "-c", engine], capture_output=True, text=True, check=True, timeout=60
    )
    pid = int(started.stdout)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.2)
    try:
        assert not _running(pid)
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_modules_examples_hold() -> None:
    assert doctest.testmod(language_host).failed == 0
