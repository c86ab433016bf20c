"""The hardware catalog: SKUs, switches, thresholds and the software compatibility table."""

from bringup.catalog.loader import Catalog, load_catalog
from bringup.catalog.model import LinkLayer, Role, Sku, Switch, SystemClass, Thresholds

__all__ = [
    "Catalog",
    "LinkLayer",
    "Role",
    "Sku",
    "Switch",
    "SystemClass",
    "Thresholds",
    "load_catalog",
]
