"""Load the catalog's YAML data files into typed models."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from bringup.catalog.model import Compatibility, Sku, Switch


class Catalog(BaseModel):
    """Every SKU and switch bringup knows, and the compatibility table.

    >>> load_catalog().sku("hgx-h100").gpu.count
    8
    """

    model_config = ConfigDict(frozen=True)

    skus: dict[str, Sku]
    switches: dict[str, Switch]
    compatibility: Compatibility

    def sku(self, sku_id: str) -> Sku:
        """The SKU named `sku_id`; KeyError names the known ones."""
        try:
            return self.skus[sku_id]
        except KeyError:
            raise KeyError(
                f"unknown SKU {sku_id!r}; known: {', '.join(sorted(self.skus))}"
            ) from None

    def switch(self, switch_id: str) -> Switch:
        """The switch model named `switch_id`; KeyError names the known ones."""
        try:
            return self.switches[switch_id]
        except KeyError:
            known = ", ".join(sorted(self.switches))
            raise KeyError(f"unknown switch {switch_id!r}; known: {known}") from None


def _read(name: str) -> Any:
    text = resources.files("bringup.catalog").joinpath("data", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def load_catalog() -> Catalog:
    """Read and validate the catalog shipped with bringup (cached: it never changes at run time)."""
    skus = [Sku.model_validate(item) for item in _read("skus.yaml")]
    switches = [Switch.model_validate(item) for item in _read("switches.yaml")]
    return Catalog(
        skus={s.id: s for s in skus},
        switches={s.id: s for s in switches},
        compatibility=Compatibility.model_validate(_read("compatibility.yaml")),
    )
