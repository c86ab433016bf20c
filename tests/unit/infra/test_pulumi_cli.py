"""`pulumi` as users type it (marked `engine`): Pulumi.yaml's program on the lab stack, compared
with `bringup up`'s.

The engine is the one a user gets: scripts/build-pulumi's, with bringup's Python language host
beside it, or a Pulumi installation on PATH with its own. Each command runs from the root of a
project laid out as the repository is (Pulumi.yaml, __main__.py, stacks/, .venv), as the README
tells users, and the module's tests take the stack one step further: login, stack init, config
(the MUNGE key as a secret), preview, up, a second up, destroy. A second project made by
`bringup up` is what the results are compared with: the same resources with the same inputs,
the same outputs, the same files, and a `pulumi preview` of that project's stack that changes
nothing.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bringup.infra.engine import Engine
from bringup.lab import PASSPHRASE as LAB_PASSPHRASE
from bringup.spec import load_cluster
from bringup.workspace import REPOSITORY, Workspace

pytestmark = pytest.mark.engine

BUILT = REPOSITORY / ".tools" / "bin"
KEY = secrets.token_bytes(1024)  # a MUNGE key, as mungekey makes it
KEY_TEXT = base64.b64encode(KEY).decode()
KEY_FILE = ".state/secrets/lab/munge.key"
MUNGE_KEY = "lab-munge-key"


@dataclass(frozen=True)
class Project:
    """A project folder as a user has it, and the environment their shell gives `pulumi`."""

    root: Path
    env: dict[str, str]

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS` from the project's root; fails the test with its output if it fails."""
        done = self.run(*args)
        assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def state(self) -> dict[str, Any]:
        """The stack's checkpoint in the file backend."""
        path = self.root / ".state/pulumi/.pulumi/stacks/bringup/lab.json"
        checkpoint: dict[str, Any] = json.loads(path.read_text())["checkpoint"]
        return checkpoint

    def files(self) -> dict[str, bytes]:
        """Every file of the stack's inventory, by path."""
        folder = self.root / "inventory" / "lab"
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }


def _project(root: Path, passphrase: str) -> Project:
    """`root` laid out as the repository: its Pulumi.yaml, program, lab stack and virtualenv."""
    (root / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py", "stacks/Pulumi.lab.yaml"):
        shutil.copyfile(REPOSITORY / name, root / name)
    (root / ".venv").symlink_to(Path(sys.prefix))  # the environment these tests run in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "BRINGUP_"))}
    if (BUILT / "pulumi").exists():  # what scripts/build-pulumi built, as the README says
        env["PATH"] = os.pathsep.join([str(BUILT), env.get("PATH", "")])
    elif shutil.which("pulumi") is None:
        pytest.fail("no pulumi: run scripts/build-pulumi (make does) or install Pulumi")
    env |= {
        "PULUMI_HOME": str(root.parent / f"{root.name}-pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    return Project(root, env)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return _project(tmp_path_factory.mktemp("cli") / "project", "a passphrase of the tests")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The same stack, made by `bringup up` (the lab's passphrase, as `bringup` has it)."""
    made = _project(tmp_path_factory.mktemp("bringup") / "project", LAB_PASSPHRASE)
    cluster = load_cluster(made.root / "stacks" / "Pulumi.lab.yaml")
    Engine(Workspace(made.root), default_passphrase=LAB_PASSPHRASE).up("lab", cluster)
    made.pulumi("login", f"file://{made.root}/.state/pulumi")  # to read it with `pulumi`
    return made


def _events(output: str) -> list[dict[str, Any]]:
    """The engine events `pulumi up --json` prints after its preview (one JSON a line)."""
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(output)
    return [json.loads(line) for line in output[end:].splitlines() if line.strip()]


def _ops(steps: list[dict[str, Any]]) -> dict[str, str]:
    """Resource name -> operation, for bringup's resources (not the stack, not providers)."""
    return {
        s["urn"].rsplit("::", 1)[-1]: s["op"]
        for s in steps
        if not s["urn"].split("::")[2].startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))
    }


def _resources(state: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    """Resource name -> (type, parent's name, inputs without the pickled provider)."""
    return {
        r["urn"].rsplit("::", 1)[-1]: (
            r["type"],
            r.get("parent", "").rsplit("::", 1)[-1],
            {k: v for k, v in r.get("inputs", {}).items() if k != "__provider"},
        )
        for r in state["latest"]["resources"]
        if not r["type"].startswith("pulumi:providers:")
    }


def test_login_and_stack_init_keep_the_declaration_and_add_the_stacks_salt(
    project: Project,
) -> None:
    declared = yaml.safe_load((project.root / "stacks/Pulumi.lab.yaml").read_text())
    (project.root / ".state/pulumi").mkdir(parents=True)
    project.pulumi("login", f"file://{project.root}/.state/pulumi")
    project.pulumi("stack", "init", "lab")
    stack = yaml.safe_load((project.root / "stacks/Pulumi.lab.yaml").read_text())
    assert stack["config"] == declared["config"]
    assert stack["encryptionsalt"].startswith("v1:")


def test_a_secret_set_with_config_is_kept_encrypted_in_the_stack_file(project: Project) -> None:
    project.pulumi("config", "set", "--secret", "bringup:munge_key", KEY_TEXT, "-s", "lab")
    stack = yaml.safe_load((project.root / "stacks/Pulumi.lab.yaml").read_text())
    assert set(stack["config"]["bringup:munge_key"]) == {"secure"}
    assert KEY_TEXT not in (project.root / "stacks/Pulumi.lab.yaml").read_text()
    shown = project.pulumi("config", "get", "bringup:munge_key", "-s", "lab").stdout
    assert shown.strip() == KEY_TEXT


def test_preview_creates_what_bringup_up_made_and_the_key_and_writes_nothing(
    project: Project, reference: Project
) -> None:
    preview = json.loads(project.pulumi("preview", "-s", "lab", "--json").stdout)
    ops = _ops(preview["steps"])
    assert set(ops) == set(_resources(reference.state())) - {"bringup-lab"} | {MUNGE_KEY}
    assert set(ops.values()) == {"create"}
    assert not (project.root / "inventory").exists()
    assert not (project.root / KEY_FILE).exists()


def test_up_makes_bringup_ups_resources_outputs_and_files(
    project: Project, reference: Project
) -> None:
    project.pulumi("up", "-s", "lab", "--yes")
    made = _resources(project.state())
    expected = _resources(reference.state())
    assert {n: r for n, r in made.items() if n != MUNGE_KEY} == expected
    assert made[MUNGE_KEY][:2] == ("pulumi-python:dynamic/bringup:MungeKey", "lab")
    outputs = json.loads(project.pulumi("stack", "output", "-s", "lab", "--json").stdout)
    ref_outputs = json.loads(reference.pulumi("stack", "output", "-s", "lab", "--json").stdout)
    assert outputs == {**ref_outputs, "munge_key": KEY_FILE}
    assert project.files() == reference.files()


def test_the_secret_reaches_the_program_and_is_in_the_clear_only_in_its_key_file(
    project: Project,
) -> None:
    key_file = project.root / KEY_FILE
    assert key_file.read_bytes() == KEY
    assert key_file.stat().st_mode & 0o777 == 0o600
    stored = next(r for r in project.state()["latest"]["resources"] if r["urn"].endswith(MUNGE_KEY))
    assert set(stored["inputs"]["key"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}
    assert set(stored["outputs"]) == {"__provider", "path", "sha256"}
    seen = []
    home = Path(project.env["PULUMI_HOME"])
    for folder in (project.root, home):
        for path in folder.rglob("*"):
            if ".venv" in path.relative_to(folder).parts or not path.is_file():
                continue
            data = path.read_bytes()
            if KEY_TEXT.encode() in data or (KEY[:64] in data and path != key_file):
                seen.append(str(path))
    assert seen == []


def test_a_second_up_changes_nothing(project: Project) -> None:
    events = _events(project.pulumi("up", "-s", "lab", "--yes", "--json").stdout)
    summary = next(e["summaryEvent"] for e in events if "summaryEvent" in e)
    assert set(summary["resourceChanges"]) == {"same"}


def test_a_preview_of_the_stack_bringup_up_made_changes_nothing(reference: Project) -> None:
    preview = json.loads(reference.pulumi("preview", "-s", "lab", "--json").stdout)
    assert set(preview["changeSummary"]) == {"same"}


def test_destroy_removes_every_file_and_the_key(project: Project) -> None:
    project.pulumi("destroy", "-s", "lab", "--yes")
    assert not (project.root / "inventory" / "lab").exists()
    assert not (project.root / KEY_FILE).exists()
    assert [r["type"] for r in project.state()["latest"].get("resources") or []] == []


def test_a_bad_declaration_fails_the_preview_naming_the_field(project: Project) -> None:
    stack = project.root / "stacks" / "Pulumi.bad.yaml"
    declared = yaml.safe_load((project.root / "stacks/Pulumi.lab.yaml").read_text())
    declared["config"]["bringup:cluster"]["racks"][0]["units"] = 0
    del declared["config"]["bringup:munge_key"]
    stack.write_text(yaml.safe_dump({"config": declared["config"]}))
    project.pulumi("stack", "init", "bad")
    failed = project.run("preview", "-s", "bad")
    assert failed.returncode != 0
    assert "racks.0.units" in failed.stdout + failed.stderr
    assert not (project.root / "inventory" / "bad").exists()


def test_a_key_munged_would_refuse_fails_the_preview_without_showing_it(project: Project) -> None:
    declared = yaml.safe_load((project.root / "stacks/Pulumi.lab.yaml").read_text())
    cluster = {"bringup:cluster": declared["config"]["bringup:cluster"]}
    (project.root / "stacks" / "Pulumi.short.yaml").write_text(yaml.safe_dump({"config": cluster}))
    project.pulumi("stack", "init", "short")
    short = base64.b64encode(b"too short").decode()
    project.pulumi("config", "set", "--secret", "bringup:munge_key", short, "-s", "short")
    failed = project.run("preview", "-s", "short")
    shown = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "bringup:munge_key: expected the base64 of a MUNGE key of 32 to 1024 bytes" in shown
    assert "got 9 bytes" in shown
    assert short not in shown
    assert not (project.root / ".state/secrets/short").exists()
