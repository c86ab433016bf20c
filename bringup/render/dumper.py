"""A YAML dumper for plain data: what PyYAML's SafeDumper writes, in two thirds of the time.

Rendering a thousand racks dumps tens of megabytes of host variables; most of that time goes to
PyYAML's generic machinery, not to writing text. :class:`PlainDumper` (libyaml's emitter where
PyYAML has it) takes shortcuts that are exact for the data the plan produces:

- dicts, lists, str, int, bool and None are turned into nodes directly; anything else (floats
  included) goes through the SafeDumper representers unchanged;
- no anchors or aliases: a value that appears twice is written twice;
- scalar tags are resolved once per distinct (text, implicit) pair: without path resolvers (safe
  dumpers have none) the tag depends on nothing else, so the answer is cached.

:func:`block_yaml` goes further for the block style the templates use: it writes the same text
without building nodes at all, about three times faster, and leaves what it cannot write
exactly to PlainDumper.

>>> import yaml
>>> yaml.dump({"b": [1, None], "a": "yes"}, Dumper=PlainDumper, default_flow_style=False)
"a: 'yes'\\nb:\\n- 1\\n- null\\n"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from functools import lru_cache
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver, Resolver

try:
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # PyYAML built without libyaml: same output, slower
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"
_INF = float("inf")
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


def block_yaml(data: object) -> str:
    """What ``yaml.dump(data, Dumper=PlainDumper, sort_keys=True, default_flow_style=False,
    allow_unicode=True, width=1000)`` writes, written directly where that is exact.

    PyYAML builds a node for every value before libyaml writes it, most of the time of rendering
    a thousand racks' host variables. For the plan's data (dicts with str keys, lists, short
    one-line strings, ints, floats, bools, None) the block layout is fixed and a scalar's text
    depends on the scalar alone, so the text is written as the data is walked, each string's
    style found once. Anything else (a long or multi-line string, a key that is not a str, a
    float PyYAML tags, other types, empty data at the top) goes to PyYAML whole.

    >>> block_yaml({"b": [1, {"y": None, "x": "yes"}], "a": "x y"})
    "a: x y\\nb:\\n- 1\\n- x: 'yes'\\n  y: null\\n"
    """
    if not data or type(data) not in (dict, list):
        return _dump(data)
    out: list[str] = []
    try:
        if type(data) is dict:
            _block_mapping(data, 0, "", out)
        elif type(data) is list:
            _block_sequence(data, 0, "", out)
    except _Unsupported:
        return _dump(data)
    return "".join(out)


class _Unsupported(Exception):
    """A value the direct writer leaves to PyYAML."""


def _dump(data: object) -> str:
    text: str = yaml.dump(
        data,
        Dumper=PlainDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
    return text


def _block_mapping(data: dict[object, object], indent: int, first: str, out: list[str]) -> None:
    """`data` with its keys at column `indent`; the first line starts with `first` (a list
    item's dash) when given, else with spaces."""
    keys = [key for key in data if type(key) is str]
    if len(keys) != len(data):
        raise _Unsupported  # PyYAML sorts other keys, or keeps keys of mixed types in order
    pad = " " * indent
    lead = first or pad
    for key in sorted(keys):
        value = data[key]
        head = f"{lead}{_string(key)}:"
        lead = pad
        if type(value) is dict and value:
            out.append(head + "\n")
            _block_mapping(value, indent + 2, "", out)
        elif type(value) is list and value:
            out.append(head + "\n")
            _block_sequence(value, indent, "", out)  # PyYAML does not indent a mapping's list
        else:
            out.append(f"{head} {_scalar(value)}\n")


def _block_sequence(data: list[object], indent: int, first: str, out: list[str]) -> None:
    """`data` with its dashes at column `indent`; the first line starts with `first` (an
    enclosing list item's dash) when given."""
    pad = " " * indent
    lead = first or pad
    for value in data:
        dash = lead + "- "
        lead = pad
        if type(value) is dict and value:
            _block_mapping(value, indent + 2, dash, out)
        elif type(value) is list and value:
            _block_sequence(value, indent + 2, dash, out)
        else:
            out.append(f"{dash}{_scalar(value)}\n")


def _scalar(value: object) -> str:
    """A scalar's text, or an empty collection's ('{}', '[]')."""
    if type(value) is str:
        return _string(value)
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if value is None:
        return "null"
    if type(value) is float:
        return _float(value)
    if type(value) is dict:
        return "{}"  # empty: the writers above take the others
    if type(value) is list:
        return "[]"
    raise _Unsupported  # other types: PyYAML's representers


def _float(value: float) -> str:
    """SafeRepresenter.represent_float's text, where it resolves to a float written plain."""
    if value != value:
        text = ".nan"
    elif value in (_INF, -_INF):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)  # as PyYAML: 1e17 is no YAML float
    if _scalar_tag(text, (True, False)) != _FLOAT:
        raise _Unsupported  # written with its tag
    return text


# Strings libyaml writes as they are (plain) in block context when they resolve to str: no
# indicator first, no leading or trailing space, a colon only before a non-blank, no '#', no
# quote, no line break, ASCII (one line, well within the width, and a simple key).
_PLAIN = re.compile(r"[A-Za-z0-9_/](?:[A-Za-z0-9_./+=()-]|:(?=[A-Za-z0-9_./+=()-])| (?! ))*")
_STRINGS: dict[str, str] = {}
"""Each string's text as PyYAML writes it (a bounded cache: strings repeat across nodes)."""


def _string(value: str) -> str:
    """`value` as PyYAML writes it, plain or quoted: plain where :data:`_PLAIN` says libyaml
    may and the resolver reads it back as a str, else what PyYAML writes (the same on one
    line as a key and as a value, or _Unsupported)."""
    found = _STRINGS.get(value)
    if found is not None:
        return found
    if len(value) <= 128 and _PLAIN.fullmatch(value) and not value.endswith(" "):
        found = value if _scalar_tag(value, (True, False)) == _STR else None
    if found is None:  # quoted, or unusual: as PyYAML writes it as a value and as a key
        if len(value.encode()) > 128:
            raise _Unsupported  # not a simple key; and long enough for the width to matter
        found = _dump({"k": value})[3:-1]
        if "\n" in found or _dump({value: 0}) != f"{found}: 0\n":
            raise _Unsupported  # written over several lines, or as a key apart
    if len(_STRINGS) >= 1 << 16:
        _STRINGS.clear()
    _STRINGS[value] = found
    return found
