"""What every emulated tool shares: the node's profile, the result of a run, the lab's clock.

Standard library only, relative imports only: this package is copied into the lab's .deb and run
on the nodes as ``python3 -m emulator <tool>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple, TypeAlias, TypeGuard

if TYPE_CHECKING:  # the profile's shape, for the type checker: no start-up cost
    from .hardware import GpuProfile, NicProfile, Profile

PROFILE_ENV = "BRINGUP_LAB_PROFILE"
PROFILE_DEFAULT = "/var/lib/bringup-lab/profile.json"
NOW_ENV = "BRINGUP_LAB_NOW"

Env = Mapping[str, str]


class Run(NamedTuple):
    """What one invocation of a tool printed and the status it exits with.

    >>> Run("ok\\n").code
    0
    """

    stdout: str = ""
    stderr: str = ""
    code: int = 0


Tool: TypeAlias = "Callable[[Sequence[str], Profile, Env], Run]"
"""An emulated command: its arguments (without the tool name), the node's profile, the env."""


class ProfileError(Exception):
    """The profile is missing or unreadable; names the path."""


def profile_path(env: Env) -> str:
    """Where the node's profile lives: $BRINGUP_LAB_PROFILE, else the lab's default path."""
    return env.get(PROFILE_ENV) or PROFILE_DEFAULT


def load_profile(env: Env | None = None) -> Profile:
    """The node's hardware profile (JSON, see bringup.lab.profile.node_profile)."""
    path = profile_path(os.environ if env is None else env)
    try:
        with open(path, encoding="utf-8") as handle:
            data: object = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ProfileError(f"bringup-lab: cannot read the hardware profile {path}: {exc}") from exc
    if not _is_profile(data):
        raise ProfileError(f"bringup-lab: {path}: expected a JSON object")
    return data


def _is_profile(data: object) -> TypeGuard[Profile]:
    """A JSON object is taken for the profile the lab wrote; the tools check no more (each
    check would be start-up time of every call)."""
    return isinstance(data, dict)


def now(env: Env) -> datetime:
    """The lab's clock: $BRINGUP_LAB_NOW (ISO 8601 or epoch seconds) when set, else the time."""
    value = env.get(NOW_ENV, "").strip()
    if not value:
        return datetime.now()
    try:
        return datetime.fromtimestamp(float(value), tz=UTC).replace(tzinfo=None)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp.replace(tzinfo=None) if stamp.tzinfo is None else stamp.astimezone(UTC)


def ctime(stamp: datetime) -> str:
    """C's asctime without the newline: 'Wed Jun  7 19:32:16 2023' (day padded with a space)."""
    return f"{stamp:%a %b} {stamp.day:>2} {stamp:%H:%M:%S %Y}"


def log_stamp(stamp: datetime) -> str:
    """The bracketed stamp of NVIDIA daemon logs: '[Dec 19 2024 22:08:53]'."""
    return f"[{stamp:%b %d %Y %H:%M:%S}]"


def gpus(profile: Profile) -> list[GpuProfile]:
    """The node's GPUs in index order (present or not)."""
    return sorted(profile.get("gpus") or [], key=lambda g: g["index"])


def present(gpu: GpuProfile) -> bool:
    """False for a GPU that has fallen off the bus."""
    return bool(gpu.get("present", True))


def bus_short(gpu: GpuProfile) -> str:
    """'00000000:18:00.0' -> '0000:18:00.0' (the form NVML prints in its errors)."""
    bus_id = gpu["pci_bus_id"]
    return bus_id[4:] if len(bus_id) == 16 else bus_id


def bus_number(gpu: GpuProfile) -> int:
    """The PCI bus of a GPU: '00000000:18:00.0' -> 0x18."""
    return int(gpu["pci_bus_id"].split(":")[1], 16)


def lost_gpu_line(gpu: GpuProfile) -> str:
    """What NVML-based tools print for a GPU that has fallen off the bus."""
    return f"Unable to determine the device handle for GPU{bus_short(gpu)}: Unknown Error"


def nics(profile: Profile) -> list[NicProfile]:
    """The node's NIC ports, in ibstat order (device name, then port)."""
    return sorted(profile.get("nics") or [], key=lambda n: (n["device"], n["port"]))


def nic_number(nic: NicProfile) -> int:
    """mlx5_10 -> 10, the order the PCI enumeration (and nvidia-smi topo) lists them in."""
    tail = nic["device"].rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def driver_version(profile: Profile) -> str:
    """The driver version the profile records ('570.172.08'), or 'N/A'."""
    driver = profile.get("driver")
    return (driver and driver.get("version")) or "N/A"


def cuda_version(profile: Profile) -> str:
    """The CUDA version the driver supports ('12.8'), or 'N/A'."""
    driver = profile.get("driver")
    return (driver and driver.get("cuda")) or "N/A"


def service_state(profile: Profile, name: str) -> str | None:
    """'running', 'failed', 'stopped'... for a service the profile knows, else None."""
    return (profile.get("services") or {}).get(name)


def domain_spans_nodes(profile: Profile) -> bool:
    """True on NVL72-class trays: the NVLink domain is larger than the node (IMEX, fabric)."""
    domain = profile.get("nvlink_domain")
    return domain is not None and domain["gpus"] > len(profile.get("gpus") or [])


def flag_value(args: Sequence[str], *names: str) -> str | None:
    """The value of an option given as '-x V', '--xx V' or '--xx=V'; None when absent."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None
