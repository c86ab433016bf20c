"""Provisioning: run the Ansible playbooks through ansible-runner and judge every host."""

from bringup.provision.runner import (
    HostResult,
    ProvisionRequest,
    ProvisionResult,
    TaskEvent,
    run_in_process,
    run_playbook,
)

__all__ = [
    "HostResult",
    "ProvisionRequest",
    "ProvisionResult",
    "TaskEvent",
    "run_in_process",
    "run_playbook",
]
