"""The embedded lab: emulated GPU nodes on this host, with real SSH, real packages and faults."""

PASSPHRASE = "bringup-lab"
"""The engine's passphrase for stacks reached through the lab, when PULUMI_CONFIG_PASSPHRASE is
unset: the lab's state holds no secret worth one."""
