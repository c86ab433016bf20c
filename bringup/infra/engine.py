"""Drive the Pulumi engine through the Automation API: preview, up, destroy of one stack.

The program runs inline (in this process), the backend is a local folder of the project
(``.state/pulumi``) and secrets use the passphrase provider. The engine works in its own folder,
``.state/workspace/<stack>``, with a copy of the stack's config, so that the stack files under
``stacks/`` are never rewritten by the engine. Every path comes from the Workspace; the engine's
provider processes find the project through ``$BRINGUP_ROOT``.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pulumi import automation as auto

from bringup.access import Access
from bringup.atomic import write_atomic
from bringup.errors import BringupError
from bringup.infra import blobs
from bringup.infra.components import AdmitSettings, Deployment
from bringup.infra.files import STAGED
from bringup.infra.inputs import Props
from bringup.infra.program import cluster_program
from bringup.spec import Cluster
from bringup.workspace import ROOT_VARIABLE, Workspace

PROJECT = "bringup"
PASSPHRASE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE"


class EngineError(BringupError):
    """The engine cannot be used: no CLI, no passphrase, a failed operation."""


@dataclass(frozen=True)
class Outcome:
    """What one engine operation did: counts per operation and each resource's operation."""

    summary: dict[str, int]
    steps: dict[str, str] = field(default_factory=dict)  # resource name -> op
    outputs: Props = field(default_factory=dict)


@dataclass(frozen=True)
class Engine:
    """The engine of one project: where its state lives and what `up` declares."""

    workspace: Workspace
    provision: bool = False
    """Declare a Provisioning resource per rack: `up` converges the nodes it changed."""
    admit: AdmitSettings | None = None
    """Declare an Admission resource per rack after its Provisioning (implies provision)."""
    access: Access = field(default_factory=Access)
    """How Provisioning and Admission reach the stack's nodes."""
    default_passphrase: str | None = None
    """The passphrase when PULUMI_CONFIG_PASSPHRASE is unset (the lab's documented default)."""

    def passphrase(self, stack: str) -> str:
        """PULUMI_CONFIG_PASSPHRASE, or the default this engine was given."""
        value = os.environ.get(PASSPHRASE_VARIABLE) or self.default_passphrase
        if value:
            return value
        raise EngineError(
            f"stack {stack!r}: set {PASSPHRASE_VARIABLE} (only stacks reached through the lab "
            "have a default)"
        )

    def _env(self, stack: str) -> dict[str, str]:
        tools = self.workspace.tools / "bin"
        return {
            PASSPHRASE_VARIABLE: self.passphrase(stack),
            "PULUMI_BACKEND_URL": f"file://{self.workspace.pulumi_backend}",
            "PULUMI_HOME": str(self.workspace.pulumi_home),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            # The file backend rewrites the whole state after every step, quadratic in the
            # number of racks; our resources are idempotent writes, so a run cut short is simply
            # converged again by the next one. Saves the state once, at the end.
            "PULUMI_SKIP_CHECKPOINTS": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            ROOT_VARIABLE: str(self.workspace.root),
            "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def _command(self) -> auto.PulumiCommand:
        if (self.workspace.tools / "bin" / "pulumi").exists():
            return auto.PulumiCommand(root=str(self.workspace.tools))
        if shutil.which("pulumi") is None:
            raise EngineError(
                "no Pulumi engine: run scripts/build-pulumi (make does) or install pulumi"
            )
        return auto.PulumiCommand()

    def stack(self, name: str, cluster: Cluster) -> auto.Stack:
        """Select (or create) the stack, with the inline program planning `cluster`."""
        paths = self.workspace.stack(name)
        work = paths.engine
        work.mkdir(parents=True, exist_ok=True)
        self.workspace.pulumi_backend.mkdir(parents=True, exist_ok=True)
        _write_stack_config(work / f"Pulumi.{name}.yaml", cluster)
        env = self._env(name)
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work),
            env_vars=env,
            secrets_provider="passphrase",
            pulumi_home=env["PULUMI_HOME"],
            pulumi_command=self._command(),
            project_settings=auto.ProjectSettings(
                name=PROJECT,
                runtime="python",
                backend=auto.ProjectBackend(url=env["PULUMI_BACKEND_URL"]),
            ),
        )
        deployment = Deployment(paths, self.access)
        return auto.create_or_select_stack(
            stack_name=name,
            project_name=PROJECT,
            program=lambda: _run(cluster, deployment, self.provision, self.admit),
            opts=opts,
        )

    def preview(
        self, name: str, cluster: Cluster, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """What `up` would do, without doing it."""
        steps: dict[str, str] = {}
        result = self.stack(name, cluster).preview(
            on_event=_recorder(steps), on_output=on_output, color="never", diff=False
        )
        return Outcome(_counts(result.change_summary), steps)

    def up(
        self, name: str, cluster: Cluster, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """Converge the stack to the plan; prunes blobs no file refers to any more."""
        steps: dict[str, str] = {}
        STAGED.clear()
        # One rack failing to converge must not stop the others.
        result = self.stack(name, cluster).up(
            on_event=_recorder(steps),
            on_output=on_output,
            color="never",
            continue_on_error=self.provision or self.admit is not None or None,
        )
        blobs.prune(set(STAGED), self.workspace.artifacts)
        outputs = {k: v.value for k, v in result.outputs.items()}
        return Outcome(_counts(result.summary.resource_changes), steps, outputs)

    def destroy(
        self, name: str, cluster: Cluster, on_output: Callable[[str], None] | None = None
    ) -> Outcome:
        """Delete every resource of the stack (and so every file it wrote)."""
        steps: dict[str, str] = {}
        stack = self.stack(name, cluster)
        result = stack.destroy(on_event=_recorder(steps), on_output=on_output, color="never")
        return Outcome(_counts(result.summary.resource_changes), steps)

    def resource_count(self, name: str, cluster: Cluster) -> int:
        """Resources in the stack's state (the stack itself included)."""
        deployment = self.stack(name, cluster).export_stack().deployment or {}
        return len(deployment.get("resources", []))


def _run(
    cluster: Cluster, deployment: Deployment, provision: bool, admit: AdmitSettings | None
) -> None:
    cluster_program(cluster, deployment, provision, admit)


def _write_stack_config(path: Path, cluster: Cluster) -> None:
    """Copy the cluster into the engine's stack file, keeping the salt the engine wrote there."""
    settings: Props = {}
    if path.exists():
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    settings["config"] = {
        f"{PROJECT}:cluster": cluster.model_dump(mode="json", exclude_defaults=True)
    }
    write_atomic(path, yaml.safe_dump(settings, sort_keys=True).encode("utf-8"))


def _recorder(steps: dict[str, str]) -> Callable[[auto.EngineEvent], None]:
    def record(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None or pre.metadata.op is None:
            return
        if pre.metadata.type == "pulumi:pulumi:Stack" or pre.metadata.type.startswith(
            "pulumi:providers:"
        ):
            return  # the stack and default providers: not resources of ours
        op = str(pre.metadata.op.value)
        name = pre.metadata.urn.rsplit("::", 1)[-1]
        # A replacement is reported as several steps (delete-replaced, replace, create-replacement)
        steps[name] = "replace" if "replace" in op or steps.get(name) == "replace" else op

    return record


def _counts(changes: Mapping[auto.OpType, int] | Mapping[str, int] | None) -> dict[str, int]:
    """Counts per operation, keyed by the operation's name ('create', 'same', ...)."""
    counts: Counter[str] = Counter()
    for op, n in (changes or {}).items():
        counts[str(getattr(op, "value", op))] += n
    return dict(sorted(counts.items()))
