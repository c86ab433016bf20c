"""The node validation suite: run with testinfra's --hosts (see bringup/validation/plugin.py)."""

pytest_plugins = ["bringup.validation.plugin"]
