"""`bringup provision`: render the inventory and converge nodes with Ansible, without Pulumi."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bringup.cli.common import StackOption, StacksDirOption, access_of, console, names, plan_stack
from bringup.cli.tables import playbook_table
from bringup.errors import BringupError
from bringup.render.hosts import inventory_groups


def provision_command(
    stack: StackOption = "lab",
    limit: Annotated[
        str | None, typer.Option(help="Comma-separated hosts or groups (Ansible --limit).")
    ] = None,
    playbook: Annotated[
        Path | None,
        typer.Option(help="Playbook to run (default: bringup's own playbooks/provision.yml)."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Report changes without making them.")
    ] = False,
    stacks_dir: StacksDirOption = Path("stacks"),
) -> None:
    """Render the inventory and converge the nodes with Ansible, without Pulumi.

    Exit codes: 0 every host converged, 1 some host failed or was unreachable, 2 bad input.
    """
    from bringup.provision.inventory import write_inventory  # Ansible loads when it runs
    from bringup.provision.progress import Progress
    from bringup.provision.runner import ProvisionRequest, run_playbook

    ws, cluster, plan = plan_stack(stack, stacks_dir)
    hosts = names("--limit", limit)
    known = {n.name for n in plan.nodes} | set(inventory_groups(plan))
    unknown = sorted(set(hosts or ()) - known)
    if unknown:
        raise BringupError(f"--limit: {', '.join(unknown)} not a node or group of stack {stack!r}")
    playbook = playbook or ws.repository / "playbooks" / "provision.yml"
    if not playbook.is_file():
        raise BringupError(f"--playbook: {playbook} is not a file")
    paths = ws.stack(stack)
    request = ProvisionRequest(
        playbook=playbook,
        inventory=write_inventory(plan, paths),
        private_data_dir=paths.runs,
        hosts=tuple(hosts) if hosts else None,
        access=access_of(ws, stack, cluster),
        check=check,
        repository=ws.repository,
    )
    screen = console()
    with Progress(len(hosts) if hosts else len(plan.nodes), screen) as progress:
        result = run_playbook(request, on_event=progress.update)
    title = f"{playbook.name} on {stack}{' (check)' if check else ''}"
    screen.print(playbook_table(result, title))
    screen.print(f"artifacts: {result.artifacts}")
    if not result.converged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("provision")(provision_command)
