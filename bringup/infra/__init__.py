"""Pulumi components and dynamic providers; the engine driver behind `bringup up`."""

from bringup.infra.pickling import install as _install_pickling

_install_pickling()
