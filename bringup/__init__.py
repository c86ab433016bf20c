"""bringup: from a GPU cluster declaration to validated, schedulable capacity."""

__version__ = "0.1.0"
