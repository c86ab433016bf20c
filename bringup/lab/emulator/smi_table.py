"""`nvidia-smi` (the default summary table) and `nvidia-smi -L`.

Layout: fixtures/real/nvidia-smi-table/h100-80gb-hbm3_x8_550.90.07_gpud.txt (the R550+ table with
three 41/24/22-column cells per row); -L: the capabilities section of the 590.48.01 bundles.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import _gpu
from ._base import ctime, cuda_version, driver_version, lost_gpu_line, present

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, Profile

RULE = "+-----------------------------------------------------------------------------------------+"
CELL_RULE = (
    "+-----------------------------------------+------------------------+----------------------+"
)
_HEADER = (
    "|-----------------------------------------+------------------------+----------------------+",
    "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
    "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
    "|                                         |                        |               MIG M. |",
    "|=========================================+========================+======================|",
)
_PROCESSES = (
    "",
    RULE,
    "| Processes:                                                                              |",
    "|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |",
    "|        ID   ID                                                               Usage      |",
    "|=========================================================================================|",
    "|  No running processes found                                                             |",
    RULE,
)
_NAME_WIDTH = 29  # longer product names are cut to 26 characters and '...'


def render(profile: Profile, selected: list[GpuProfile], stamp: datetime) -> str:
    """The summary table of the `selected` GPUs; lost GPUs print NVML's error first."""
    lines = [lost_gpu_line(gpu) for gpu in selected if not present(gpu)]
    lines += [ctime(stamp), RULE, _version_line(profile), *_HEADER]
    for gpu in (g for g in selected if present(g)):
        lines += gpu_cells(gpu)
        lines.append(CELL_RULE)
    lines += _PROCESSES
    return "\n".join(lines) + "\n"


def _version_line(profile: Profile) -> str:
    driver = driver_version(profile)
    left = f" NVIDIA-SMI {driver}"
    middle = f"Driver Version: {driver}"
    right = f"CUDA Version: {cuda_version(profile)}"
    return f"|{left:<35}{middle:<31}{right:<23}|"


def gpu_cells(gpu: GpuProfile) -> list[str]:
    """The three lines of one GPU in the table."""
    name = str(gpu["name"])
    if len(name) > _NAME_WIDTH:
        name = name[:26] + "..."
    persistence = "On" if gpu.get("persistence_mode") else "Off"
    fb = _gpu.memory(gpu)
    uncorrected = _gpu.ecc_totals(gpu)["uncorrected.volatile"]
    index = f"{int(gpu['index']):>4}  {name}"
    top = (
        f"|{index:<{41 - len(persistence) - 2}}{persistence}  "
        f"|{gpu['pci_bus_id']:>19} Off |{uncorrected:>21} |"
    )
    power = f"{round(float(gpu.get('power_draw_w') or 0))}W"
    cap = f"{round(float(gpu.get('power_limit_w') or 0))}W"
    temp = f"{int(gpu.get('temperature_c') or 0)}C"
    middle = (
        f"| N/A {temp:>5}{'P0':>6}{power:>16} / {cap:>5} "
        f"|{fb['used']:>8}MiB / {fb['total']:>6}MiB "
        f"|{int(gpu.get('utilization_pct') or 0):>7}%{'Default':>13} |"
    )
    bottom = f"|{'':41}|{'':24}|{'Disabled':>21} |"
    return [top, middle, bottom]


def list_gpus(selected: list[GpuProfile]) -> str:
    """`nvidia-smi -L`: one line per GPU with its UUID."""
    lines = []
    for gpu in selected:
        if present(gpu):
            lines.append(f"GPU {gpu['index']}: {gpu['name']} (UUID: {gpu['uuid']})")
        else:
            lines.append(lost_gpu_line(gpu))
    return "\n".join(lines) + "\n"
