"""What crosses a process boundary: frozen, typed models with one JSON form on both sides.

A request given to ``python -m bringup.provision`` or ``python -m bringup.admit`` and the
result it prints, or the Access a dynamic provider carries, are these models: the reader
validates what the writer wrote, with no hand-built dict between them.

>>> class Ping(Wire):
...     host: str
>>> Ping.from_json(Ping(host="n1").to_json())
Ping(host='n1')
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict


class Wire(BaseModel):
    """A frozen model that knows its JSON form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> str:
        """The model as JSON."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> Self:
        """The model `to_json` wrote (validated)."""
        return cls.model_validate_json(text)
