"""`bringup watch`: the controller's service that acts on the nodes' health verdicts."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path
from typing import Annotated

import typer

from bringup.cli.common import StackOption, StacksDirOption, access_of, console, plan_stack
from bringup.errors import BringupError


def watch_command(
    stack: StackOption = "lab",
    listen: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: the controller's address, else all)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: health.port).")
    ] = None,
    pidfile: Annotated[
        Path | None, typer.Option(help="Write the process id here once listening.")
    ] = None,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Take the nodes' health verdicts (POST /v1/verdicts, MUNGE-signed): open incidents, keep
    their evidence, drain the failing nodes naming the part, unless the circuit breaker holds.

    Runs until SIGTERM or Ctrl-C; one line per decision on stderr. Exit codes: 0 stopped,
    2 bad input or an unusable environment (the port taken, the ledger unusable).
    """
    from bringup.admit.prepare import open_ledger
    from bringup.health.breaker import BreakerSettings, Fleet
    from bringup.health.watch import Watch, logging_to, serve, slurm_jobs
    from bringup.plan.expectation import management_address
    from bringup.scheduler.adapter import adapter_for
    from bringup.scheduler.kubernetes import KubernetesScheduler
    from bringup.scheduler.slurm import SlurmScheduler

    ws, cluster, plan = plan_stack(stack, stacks_dir)
    scheduler = adapter_for(access_of(ws, stack, cluster).scheduler)
    declared = cluster.scheduler.controller_address
    address = listen or (str(declared) if declared is not None else "0.0.0.0")
    port = port or cluster.health.port
    addresses = {n.name: management_address(plan, n) or "" for n in plan.nodes}
    breaker = cluster.health.breaker
    jobs = None
    if isinstance(scheduler, SlurmScheduler):
        jobs = slurm_jobs(scheduler.program("squeue"), {**os.environ, **scheduler.access.env})
    elif isinstance(scheduler, KubernetesScheduler):
        jobs = scheduler.pods_on
    watch = Watch(
        stack,
        Fleet.from_plan(plan),
        addresses,
        lambda: open_ledger(ws),
        scheduler,
        ws.stack(stack).incidents,
        BreakerSettings(
            breaker.window_s, breaker.cluster_share, breaker.sku_share, breaker.domain_trays
        ),
        jobs=jobs,
        local_addresses=frozenset({"127.0.0.1", "127.0.1.1", address, *_host_addresses()}),
    )
    try:
        server = serve(watch, address, port)
    except OSError as error:
        raise BringupError(f"--listen {address}:{port}: {error.strerror or error}") from None
    logging_to()
    if pidfile is not None:
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    console(stderr=True).print(
        f"bringup watch: stack {stack}, {len(addresses)} node(s), on http://{address}:{port}, "
        f"scheduler {scheduler.describe()}",
        soft_wrap=True,
    )
    try:
        # served from a thread: SIGTERM's handler, in this one, calls shutdown(), which waits
        # for serve_forever to return
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    finally:
        server.server_close()
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)


def _host_addresses() -> set[str]:
    """This host's own addresses, as its name resolves (what munged records as a sender)."""
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return set()


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("watch")(watch_command)
