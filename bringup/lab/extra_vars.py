"""What a playbook run against the lab adds to the rendered inventory: the lab's two overrides.

The package repository is not one of them: the lab stack declares its own (``package_repository``
in stacks/Pulumi.lab.yaml), so the rendered inventory already points the roles at it. What the lab
cannot offer is storage servers and site-built burn-in tools, hence:

- ``storage_client_tmpfs_override``: a tmpfs at each planned mount point instead of NFS/Lustre;
- ``burn_in_packages``: the lab's packages of nccl-tests and nvbandwidth.

>>> sorted(lab_extra_vars())
['burn_in_packages', 'storage_client_tmpfs_override']
"""

from __future__ import annotations

from pydantic import JsonValue

from bringup.lab.packages import EXTRA_PACKAGES


def lab_extra_vars() -> dict[str, JsonValue]:
    """Extra variables for ansible-playbook runs against lab nodes."""
    return {
        "storage_client_tmpfs_override": True,
        "burn_in_packages": [
            {"name": name, "version": version, "hold": True} for name, version in EXTRA_PACKAGES
        ],
    }
