"""The Slurm that scripts/build-slurm builds (defined with the other paths, in workspace)."""

from bringup.workspace import SLURM_VERSION as VERSION
from bringup.workspace import SlurmInstall

__all__ = ["VERSION", "SlurmInstall"]
