"""Pulumi components and dynamic providers; the engine driver behind `bringup up`."""
