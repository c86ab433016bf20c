"""A YAML dumper for plain data: what PyYAML's SafeDumper writes, in two thirds of the time.

Rendering a thousand racks dumps tens of megabytes of host variables; most of that time goes to
PyYAML's generic machinery, not to writing text. :class:`PlainDumper` (libyaml's emitter where
PyYAML has it) takes shortcuts that are exact for the data the plan produces:

- dicts, lists, str, int, bool and None are turned into nodes directly; anything else (floats
  included) goes through the SafeDumper representers unchanged;
- no anchors or aliases: a value that appears twice is written twice;
- scalar tags are resolved once per distinct (text, implicit) pair: without path resolvers (safe
  dumpers have none) the tag depends on nothing else, so the answer is cached.

>>> import yaml
>>> yaml.dump({"b": [1, None], "a": "yes"}, Dumper=PlainDumper, default_flow_style=False)
"a: 'yes'\\nb:\\n- 1\\n- null\\n"
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from typing import Any, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

try:
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # PyYAML built without libyaml: same output, slower
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_RESOLVER = Resolver()
_resolve = cast(Callable[[BaseResolver, type[Node], object, object], str], BaseResolver.resolve)


@lru_cache(maxsize=1 << 16)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    return _resolve(_RESOLVER, ScalarNode, value, implicit)


class PlainDumper(_SafeDumper):
    """SafeDumper for JSON-like data (dict, list, str, int, float, bool, None); same output."""

    def represent_data(self, data: object) -> Node:
        """The node of `data`; plain types directly, the rest through SafeDumper."""
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, cast(str, data))
        if kind is dict:
            return self._mapping(cast("dict[Any, Any]", data))
        if kind is list:
            items = [self.represent_data(v) for v in cast("list[object]", data)]
            return SequenceNode(_SEQ, items, flow_style=self._flow(items))
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false")
        if kind is int:
            return ScalarNode(_INT, str(data))
        if data is None:
            return ScalarNode(_NULL, "null")
        node: Node = super().represent_data(data)
        return node

    def _mapping(self, data: dict[Any, Any]) -> MappingNode:
        items = list(data.items())
        if self.sort_keys:
            with suppress(TypeError):  # keys of mixed types stay in order, as in PyYAML
                items = sorted(items)
        pairs = [(self.represent_data(k), self.represent_data(v)) for k, v in items]
        return MappingNode(_MAP, pairs, flow_style=self._flow([n for pair in pairs for n in pair]))

    def _flow(self, nodes: list[Node]) -> bool:
        """Flow style as PyYAML picks it: the dumper's setting, else flow for plain scalars."""
        if self.default_flow_style is not None:
            return bool(self.default_flow_style)
        return all(isinstance(n, ScalarNode) and not n.style for n in nodes)

    def ignore_aliases(self, data: object) -> bool:
        """Never write anchors: a repeated value is written out again."""
        return True

    def resolve(self, kind: type[Node], value: object, implicit: object) -> str:
        """The tag a node resolves to; cached for scalars."""
        if kind is ScalarNode:
            return _scalar_tag(value, implicit)
        return _resolve(self, kind, value, implicit)

    def descend_resolver(self, current_node: Node | None, current_index: object) -> None:
        """Nothing to track: safe dumpers have no path resolvers."""

    def ascend_resolver(self) -> None:
        """Nothing to track: safe dumpers have no path resolvers."""
