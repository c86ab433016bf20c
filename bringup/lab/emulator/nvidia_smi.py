"""`nvidia-smi`: argument handling and the driver's answers when a GPU is gone.

Views: the summary table (no arguments, or -i), -L, -q [-x] [-i], --query-gpu --format=csv,
nvlink -s, topo -m, --version. Exit codes are those of nvidia-smi(1): 0 success, 2 a bad argument
or field, 6 no such device, 9 no driver, 15 a GPU has fallen off the bus. A GPU whose profile
says `present: false` prints NVML's 'Unable to determine the device handle' line in place of its
data, the other GPUs are shown, and the exit status is 15.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from . import smi_links, smi_query, smi_report, smi_table, smi_xml
from ._base import (
    Env,
    Run,
    cuda_version,
    driver_version,
    flag_value,
    gpus,
    lost_gpu_line,
    now,
    present,
)

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

BAD_ARGUMENTS = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n"
NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)
NO_DEVICES = "No devices were found\n"
EXIT_BAD_ARGUMENT, EXIT_NOT_FOUND, EXIT_NO_DRIVER, EXIT_GPU_LOST = 2, 6, 9, 15


def main(args: Sequence[str], profile: Profile, env: Env) -> Run:
    """Run `nvidia-smi args` against the node's profile."""
    args = list(args)
    if "--version" in args:
        return Run(_version(profile))
    if "-h" in args or "--help" in args:
        return Run(f"NVIDIA System Management Interface -- v{driver_version(profile)}\n")
    if not (profile.get("driver") or {}).get("version"):
        return Run(NO_DRIVER, code=EXIT_NO_DRIVER)
    all_gpus = gpus(profile)
    if not all_gpus:
        return Run(NO_DEVICES, code=EXIT_NOT_FOUND)
    selector = flag_value(args, "-i", "--id")
    selected = _select(all_gpus, selector)
    if selected is None:
        return Run(NO_DEVICES, code=EXIT_NOT_FOUND)
    code = EXIT_GPU_LOST if any(not present(g) for g in selected) else 0
    stamp = now(env)
    rest = _without(args, "-i", "--id")
    if rest[:1] == ["nvlink"]:
        if not {"-s", "--status"} & set(rest[1:]):
            return Run(BAD_ARGUMENTS, code=EXIT_BAD_ARGUMENT)
        return Run(smi_links.nvlink_status(selected), code=code)
    if rest[:1] == ["topo"]:
        if not {"-m", "--matrix"} & set(rest[1:]):
            return Run(BAD_ARGUMENTS, code=EXIT_BAD_ARGUMENT)
        return Run(smi_links.topology(profile, all_gpus), code=code)
    query = flag_value(rest, "--query-gpu")
    if query is not None:
        return _query_gpu(profile, selected, query, flag_value(rest, "--format"), stamp, code)
    flags = set(rest)
    if flags & {"-L", "--list-gpus"}:
        return Run(smi_table.list_gpus(selected), code=code)
    if flags & {"-q", "--query"}:
        if flags & {"-x", "--xml-format"}:
            lost = "".join(_lost_lines(selected))
            return Run(lost + smi_xml.render(profile, selected, stamp), code=code)
        return Run(smi_report.render(profile, selected, stamp), code=code)
    if flags - {"-q", "--query", "-x", "--xml-format"}:
        return Run(BAD_ARGUMENTS, code=EXIT_BAD_ARGUMENT)
    return Run(smi_table.render(profile, selected, stamp), code=code)


def _version(profile: Profile) -> str:
    driver = driver_version(profile)
    nvml = ".".join(driver.split(".")[:2])
    return (
        f"NVIDIA-SMI version  : {driver}\nNVML version        : {nvml}\n"
        f"DRIVER version      : {driver}\nCUDA Version        : {cuda_version(profile)}\n"
    )


def _select(all_gpus: list[GpuProfile], selector: str | None) -> list[GpuProfile] | None:
    """The GPUs -i names (indices, UUIDs or PCI bus ids, comma separated); None if unknown."""
    if selector is None:
        return all_gpus
    chosen = []
    for token in (t.strip() for t in selector.split(",")):
        match = next((g for g in all_gpus if _names(g, token)), None)
        if match is None:
            return None
        chosen.append(match)
    return chosen


def _names(gpu: GpuProfile, token: str) -> bool:
    bus = str(gpu["pci_bus_id"]).upper()
    return token == str(gpu["index"]) or token == gpu["uuid"] or token.upper() in (bus, bus[4:])


def _without(args: list[str], *names: str) -> list[str]:
    """`args` less the named options and their values."""
    rest: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not any(arg.startswith(name + "=") for name in names if name.startswith("--")):
            rest.append(arg)
    return rest


def _lost_lines(selected: list[GpuProfile]) -> list[str]:
    return [lost_gpu_line(g) + "\n" for g in selected if not present(g)]


def _query_gpu(
    profile: Profile,
    selected: list[GpuProfile],
    query: str,
    fmt: str | None,
    stamp: datetime,
    code: int,
) -> Run:
    if fmt is None:
        return Run(BAD_ARGUMENTS, code=EXIT_BAD_ARGUMENT)
    options = {part.strip() for part in fmt.split(",")}
    if "csv" not in options:
        return Run(BAD_ARGUMENTS, code=EXIT_BAD_ARGUMENT)
    fields = [name.strip() for name in query.split(",") if name.strip()]
    try:
        shown = [g for g in selected if present(g)]
        text = smi_query.render(profile, shown, fields, options, stamp)
    except smi_query.QueryError as exc:
        return Run(f"{exc}\n\n", code=EXIT_BAD_ARGUMENT)
    return Run("".join(_lost_lines(selected)) + text, code=code)
