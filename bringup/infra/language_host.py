"""pulumi-language-python for the engine scripts/build-pulumi builds: runs a Pulumi.yaml program.

The Go module proxy refuses Pulumi's own Python language host
(github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), and the engine cannot run
a project's ``main`` without one. This host speaks the same plugin protocol, through the Python
SDK's generated LanguageRuntime service, and runs a program the way the Go host does: the SDK's
executor ``pulumi-language-python-exec`` (the script the Go host runs, which scripts/build-pulumi
takes from the same Pulumi release as the engine) in a fresh interpreter of the project's
virtualenv, in the program's folder, with the stack's config and the names of its secret keys
in ``PULUMI_CONFIG`` and ``PULUMI_CONFIG_SECRET_KEYS``. The SDK's own LanguageServer (what
inline programs use) is not enough: it calls a function inside the host's process, where a
Pulumi.yaml program must run as ``__main__`` of an interpreter of its own.

The engine starts the host with its own address as the last argument, reads the port from the
first line of stdout, and shows what the host and the program print after that as the stack's
diagnostics. Only the pip toolchain is served (the project's ``.venv`` is made by pip); a
project that names uv or poetry is refused with the option's value.

>>> Interpreter.of("/srv/site", {"virtualenv": ".venv"}).python
PosixPath('/srv/site/.venv/bin/python')
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import grpc  # type: ignore[import-untyped]
from google.protobuf import empty_pb2, json_format  # type: ignore[import-untyped]
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

BAIL = 32
"""The executor's exit status once it has shown the user their program's error (its own
PYTHON_PROCESS_EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE_CODE): the engine is told to bail,
adding no error of its own."""
PARENT_POLL_S = 1.0
"""How often the host looks whether the engine that started it is still there."""
CONFIG_VARIABLE = "PULUMI_CONFIG"
SECRET_KEYS_VARIABLE = "PULUMI_CONFIG_SECRET_KEYS"
# Pulumi's own limit for a message (a program's config can be large).
_MESSAGE_SIZE = 400 * 1024 * 1024


class LanguageHostError(Exception):
    """A project this host cannot run: a toolchain it does not serve, a virtualenv missing."""


@dataclass(frozen=True)
class Interpreter:
    """The Python a project's program runs with: its virtualenv's, else python3 on PATH."""

    python: Path
    virtualenv: Path | None = None

    @classmethod
    def of(cls, root: str, options: Mapping[str, object]) -> Interpreter:
        """The interpreter Pulumi.yaml's runtime options name, the virtualenv relative to the
        project's root (where Pulumi.yaml is), as the Go host resolves it."""
        toolchain = str(options.get("toolchain") or "pip")
        if toolchain not in ("pip", "auto"):
            raise LanguageHostError(
                f"Pulumi.yaml runtime.options.toolchain: {toolchain!r} is not served by bringup's "
                "language host (expected pip)"
            )
        virtualenv = options.get("virtualenv")
        if not virtualenv:
            found = shutil.which("python3") or shutil.which("python")
            if found is None:
                raise LanguageHostError("no python3 on PATH and no virtualenv in Pulumi.yaml")
            return cls(Path(found))
        folder = Path(root) / str(virtualenv)
        return cls(folder / "bin" / "python", folder)

    def check(self) -> None:
        """LanguageHostError naming the virtualenv when it holds no Python."""
        if self.virtualenv is not None and not self.python.is_file():
            raise LanguageHostError(
                f"the virtualenv {self.virtualenv} of Pulumi.yaml holds no bin/python: create it "
                "(make does)"
            )

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with the virtualenv activated (bin first on PATH, VIRTUAL_ENV set,
        PYTHONHOME unset)."""
        env = {k: v for k, v in base.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
        if self.virtualenv is not None:
            env["PATH"] = os.pathsep.join([str(self.virtualenv / "bin"), base.get("PATH", "")])
            env["VIRTUAL_ENV"] = str(self.virtualenv)
        return env


def run_arguments(request: language_pb2.RunRequest, executor: Path, engine: str) -> list[str]:
    """The executor's command line for a Run request (the Go host's, flag for flag)."""
    flags = {
        "monitor": request.monitor_address,
        "engine": engine,
        "project": request.project,
        "root_directory": request.info.root_directory,
        "stack": request.stack,
        "pwd": request.pwd,
        "dry_run": "true" if request.dryRun else "false",
        "parallel": str(request.parallel),
        "organization": request.organization,
    }
    args = [str(executor)]
    for name, value in flags.items():
        if value:
            args += [f"--{name}", value]
    return [*args, request.info.entry_point or ".", *request.args]


def run_environment(request: language_pb2.RunRequest, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the stack's config (decrypted by the engine) and its secret keys, which the
    executor reads: the SDK marks those keys' values secret when the program reads them."""
    env = dict(base)
    env[CONFIG_VARIABLE] = json.dumps(dict(sorted(request.config.items())))
    env[SECRET_KEYS_VARIABLE] = json.dumps(sorted(request.configSecretKeys))
    return env


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """The LanguageRuntime service: a program run per Run call, in an interpreter of its own."""

    def __init__(self, executor: Path, engine: str) -> None:
        self.executor = executor
        self.engine = engine

    def Handshake(
        self, request: language_pb2.LanguageHandshakeRequest, context: grpc.ServicerContext
    ) -> language_pb2.LanguageHandshakeResponse:
        """Every directory comes again with each call: nothing to keep."""
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        """The SDK's release, which scripts/build-pulumi pins the engine to."""
        return plugin_pb2.PluginInfo(version=metadata.version("pulumi"))

    def GetRequiredPlugins(
        self, request: language_pb2.GetRequiredPluginsRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPluginsResponse:
        """None: the project's resources are components and dynamic resources, whose provider
        (pulumi-resource-pulumi-python) the engine finds by itself."""
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(
        self, request: language_pb2.GetRequiredPackagesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPackagesResponse:
        """None, for the same reason as GetRequiredPlugins."""
        return language_pb2.GetRequiredPackagesResponse()

    def RuntimeOptionsPrompts(
        self, request: language_pb2.RuntimeOptionsRequest, context: grpc.ServicerContext
    ) -> language_pb2.RuntimeOptionsResponse:
        """None: the options are written in Pulumi.yaml."""
        return language_pb2.RuntimeOptionsResponse()

    def About(
        self, request: language_pb2.AboutRequest, context: grpc.ServicerContext
    ) -> language_pb2.AboutResponse:
        """The program's interpreter and its version."""
        python = self._interpreter(request.info, context)
        found = _query(
            python, "import platform, sys; print(sys.executable, platform.python_version())"
        )
        executable, _, version = found.partition(" ")
        return language_pb2.AboutResponse(executable=executable, version=version)

    def GetProgramDependencies(
        self, request: language_pb2.GetProgramDependenciesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetProgramDependenciesResponse:
        """The distributions of the program's interpreter (pip's list, as the Go host's)."""
        python = self._interpreter(request.info, context)
        args = ["-m", "pip", "list", "--format", "json", "--disable-pip-version-check"]
        if not request.transitiveDependencies:
            args.append("--not-required")
        listed = json.loads(_query(python, *args, code=False))
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[
                language_pb2.DependencyInfo(name=p["name"], version=p["version"]) for p in listed
            ]
        )

    def InstallDependencies(
        self, request: language_pb2.InstallDependenciesRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.InstallDependenciesResponse]:
        """Nothing to install: make creates the virtualenv; a missing one is named."""
        self._interpreter(request.info, context)
        yield from ()

    def Run(
        self, request: language_pb2.RunRequest, context: grpc.ServicerContext
    ) -> language_pb2.RunResponse:
        """Run the program once; its output goes to the engine through this host's stdout and
        stderr, which it inherits."""
        python = self._interpreter(request.info, context)
        env = run_environment(request, python.environment(os.environ))
        args = [str(python.python), "-u", *run_arguments(request, self.executor, self.engine)]
        folder = request.info.program_directory or request.pwd or None
        status = subprocess.run(args, cwd=folder, env=env, check=False).returncode
        if status == 0:
            return language_pb2.RunResponse()
        if status == BAIL:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {status}")

    def _interpreter(
        self, info: language_pb2.ProgramInfo, context: grpc.ServicerContext
    ) -> Interpreter:
        """The program's interpreter, checked; the call fails naming what is wrong."""
        options = json_format.MessageToDict(info.options) if info.HasField("options") else {}
        try:
            python = Interpreter.of(info.root_directory, options)
            python.check()
        except LanguageHostError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return python


def _query(python: Interpreter, *args: str, code: bool = True) -> str:
    """What `python -c CODE` (or `python ARGS`) prints, stripped."""
    argv = [str(python.python), "-c", *args] if code else [str(python.python), *args]
    env = python.environment(os.environ)
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout.strip()


def serve(argv: Sequence[str]) -> int:
    """Serve on a free loopback port, announce it on stdout, and serve until the engine ends
    the process."""
    parser = argparse.ArgumentParser(prog="pulumi-language-python")
    parser.add_argument("--use-executor", type=Path, required=True)
    parser.add_argument("engine", nargs="?", default="")
    # the Go host's flags, which an engine may pass: accepted, with nothing to do here
    for flag in ("--tracing", "--virtualenv", "--root"):
        parser.add_argument(flag, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    options = [
        ("grpc.max_receive_message_length", _MESSAGE_SIZE),
        ("grpc.max_send_message_length", _MESSAGE_SIZE),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
    host = LanguageHost(args.use_executor.absolute(), args.engine)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    # The engine ends a plugin by interrupting its process group (SIGINT, then SIGKILL after a
    # while): a signal is the normal end here, not an error to print a traceback for. An engine
    # killed outright ends nothing, so the host also ends when its parent (the engine) is gone.
    ended = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: ended.set())
    engine = os.getppid()
    server.start()
    print(port, flush=True)
    while not ended.is_set() and os.getppid() == engine:
        ended.wait(PARENT_POLL_S)
    server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
