"""Typed inputs of the dynamic providers: one model per resource, read from the engine's props.

The engine hands a provider plain property dicts (inputs, or old outputs that carry the inputs
plus what the provider returned, and its own ``__provider`` key); a provider reads them through
its model, so every key it uses is named and typed in one place.

>>> class Demo(Inputs):
...     rack: str
>>> Demo.of({"rack": "r1", "__provider": "…", "results": {}}).props()
{'rack': 'r1'}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

Props = dict[str, Any]
"""The engine's property dict (inputs, or outputs and the engine's own keys), as Pulumi's SDK
types it; providers read it through their Inputs model at once."""


class Inputs(BaseModel):
    """The inputs of one kind of dynamic resource."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def of(cls, props: Mapping[str, object]) -> Self:
        """The inputs among `props` (outputs and the engine's own keys are ignored)."""
        return cls.model_validate(dict(props))

    def props(self) -> Props:
        """The inputs as the engine's property dict."""
        return self.model_dump(mode="json")
