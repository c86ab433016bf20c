"""Provisioning: run the Ansible playbooks through ansible-runner and judge every host."""

from bringup.provision.runner import HostResult, RunResult, SshSettings, TaskEvent, run_playbook

__all__ = ["HostResult", "RunResult", "SshSettings", "TaskEvent", "run_playbook"]
