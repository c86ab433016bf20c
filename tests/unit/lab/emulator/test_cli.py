"""The command-line path: `python -m` with $BRINGUP_LAB_PROFILE, and the package as the .deb ships
it (renamed `emulator`, standard library only, run without site-packages)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import bringup.lab.emulator as emulator
from bringup.lab.emulator import TOOLS, run_tool

from .conftest import Profile, profile_of

PACKAGE = Path(emulator.__file__).resolve().parent
Writer = Callable[[Profile], dict[str, str]]

COMMANDS = {
    "nvidia-smi": ["-q", "-i", "0"],
    "dcgmi": ["diag", "-r", "1"],
    "ibstat": [],
    "ibstatus": [],
    "ibv_devinfo": [],
    "perfquery": ["-x"],
    "all_reduce_perf": ["-b", "8", "-e", "128M", "-f", "2", "-g", "4"],
    "nvbandwidth": ["-t", "host_to_device_memcpy_ce"],
    "ib_write_bw": ["-d", "mlx5_0", "--report_gbits", "10.0.0.2"],
    "nvidia-imex-ctl": ["-N"],
    "openibd": ["stop"],  # start reloads the node's ports: tests/unit/lab/emulator/test_openibd.py
}


def _python(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env={**os.environ, **env}, cwd=cwd, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


def test_every_tool_has_a_cli_test() -> None:
    assert sorted(COMMANDS) == sorted(TOOLS)


@pytest.mark.parametrize("tool", sorted(COMMANDS))
def test_cli_prints_what_the_function_returns(tool: str, write_profile: Writer) -> None:
    env = write_profile(profile_of("gb200-nvl72"))
    done = _python(["-m", "bringup.lab.emulator", tool, *COMMANDS[tool]], env)
    expected = run_tool(tool, COMMANDS[tool], env)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected.stdout, expected.stderr)
    assert done.stdout


def test_cli_keeps_the_tools_exit_status(write_profile: Writer) -> None:
    profile = profile_of("hgx-h100")
    profile["gpus"][0]["present"] = False
    done = _python(["-m", "bringup.lab.emulator", "nvidia-smi", "-L"], write_profile(profile))
    assert done.returncode == 15
    assert done.stdout.startswith("Unable to determine the device handle for GPU0000:18:00.0")


def test_missing_profile_and_unknown_tool(tmp_path: Path) -> None:
    env = {"BRINGUP_LAB_PROFILE": str(tmp_path / "absent.json")}
    done = _python(["-m", "bringup.lab.emulator", "ibstat"], env)
    assert done.returncode == 1
    assert "cannot read the hardware profile" in done.stderr
    assert _python(["-m", "bringup.lab.emulator", "nvidia-bogus"], env).returncode == 2


def test_runs_as_the_deb_ships_it(tmp_path: Path, write_profile: Writer) -> None:
    shutil.copytree(PACKAGE, tmp_path / "lib" / "emulator",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    env = {**write_profile(profile_of("hgx-h100")), "PYTHONPATH": str(tmp_path / "lib")}
    done = _python(["-S", "-m", "emulator", "nvidia-smi", "-L"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 8
    assert done.stdout.startswith("GPU 0: NVIDIA H100")


def test_imports_are_relative_or_standard_library() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", (path.name, name)


def test_output_is_deterministic(write_profile: Writer) -> None:
    env = write_profile(profile_of("hgx-b200"))
    for tool, args in COMMANDS.items():
        assert run_tool(tool, args, env) == run_tool(tool, args, env), tool
