"""Reading a declaration: a file or YAML text, within fixed bounds, into plain data.

The model (:mod:`bringup.spec`) validates what this returns. Before that, this refuses what
cannot be read cheaply and unambiguously, each problem as one line of a :class:`SpecError`:

- a file that is not a regular file (a FIFO would block, a device never ends), is larger than
  :data:`MAX_BYTES`, or is not UTF-8 (a UTF-8 byte order mark is accepted);
- YAML nested deeper than :data:`MAX_DEPTH`, holding more than :data:`MAX_VALUES` values once
  its aliases are expanded (an alias bomb of a few hundred bytes stands for billions), with an
  alias that contains itself, with a key declared twice in one mapping (YAML keeps the last one
  silently), or with an integer written with more than :data:`MAX_INTEGER_CHARS` characters.

A Pulumi stack file holds the declaration under ``config: bringup:cluster:``; problem paths
are given from there, as the model gives them.

>>> read_declaration_text("name: demo\\nsite: {name: lab}\\n")
{'name': 'demo', 'site': {'name': 'lab'}}
>>> read_declaration_text("a: &x [1, 2]\\nb: *x\\nb: 3\\n", "dup.yaml")
Traceback (most recent call last):
    ...
bringup.declaration.SpecError: invalid cluster declaration in dup.yaml:
  - b: declared twice, on lines 2 and 3; expected each key once
"""

from __future__ import annotations

import codecs
import os
import re
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bringup.errors import BringupError

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml: the same loader, slower
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_BYTES = 1 << 20
"""1 MiB. The 100,000-GPU example stack is 14 kB: racks are declared in runs, not one by one."""

MAX_DEPTH = 32
"""Nested mappings and lists; the deepest path the model knows (a Pulumi stack's
``config.bringup:cluster.overrides.<sku>.thresholds``) is six levels."""

MAX_VALUES = 100_000
"""Scalars, mappings and lists, each use of an alias counted in full: the 100,000-GPU example
stack holds 2,356; an alias bomb of a few hundred bytes, billions. Reading and validating costs
about a second per 100,000 values, so this, more than MAX_BYTES, bounds the time spent."""

MAX_INTEGER_CHARS = 64
"""The largest number the model takes has a handful of digits; Python itself refuses to read
integers of more than 4,300 digits, and not before it has spent time on them."""

MAX_PROBLEMS = 50
"""Problem lines shown at most; the rest (and those a caller found but did not write out:
``unlisted``) are counted in one last line."""

MAX_LINE = 1000
"""Characters of one problem line at most (the longest the model writes lists its thresholds)."""


class SpecError(BringupError):
    """A declaration that cannot be planned; `problems` holds one line per problem.

    Every problem is a single printable line, at most :data:`MAX_LINE` characters long, that
    starts with the field path (``racks.0.count``) or ``<file>``, ``<yaml>``, ``<root>``; past
    MAX_PROBLEMS, one ``<more>`` line counts the rest.

    >>> SpecError("x.yaml", ["racks.0.count: got True; expected an integer"]).lines()
    ['invalid cluster declaration in x.yaml:', '  - racks.0.count: got True; expected an integer']
    """

    def __init__(self, source: str, problems: list[str], *, unlisted: int = 0) -> None:
        self.source = source
        self.problems = [_one_line(p) for p in problems[:MAX_PROBLEMS]]
        more = max(0, len(problems) - MAX_PROBLEMS) + unlisted
        if more:
            self.problems.append(f"<more>: {more} more problems not shown")
        super().__init__(f"{_one_line(source)}: " + "; ".join(self.problems))

    def __str__(self) -> str:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"invalid cluster declaration in {_one_line(self.source)}:\n{lines}"


def _one_line(text: str) -> str:
    """`text` with every unprintable character escaped (a line break too), cut to MAX_LINE."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


class _Shown(reprlib.Repr):
    """reprlib, which looks at no more of a value than it shows, and no huge integer in full."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 2
        self.maxdict = self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxstring = self.maxother = 80
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:  # builtins.repr of a huge int is slow, and refused past 4,300
            return f"<integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)

    def repr_bytes(self, x: bytes, level: int) -> str:
        cut = x[: self.maxstring]
        return repr(cut) + ("..." if len(x) > len(cut) else "")


_SHOWN = _Shown()


def shown(value: object) -> str:
    """A value as a problem line shows it: Python's repr, bounded and escaped, never built whole.

    >>> print(shown("a\\nb"), shown(True), shown(list(range(100))), shown(10**5000))
    'a\\nb' True [0, 1, 2, 3, ...] <integer of 16610 bits>
    """
    text = _one_line(_SHOWN.repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def key_text(key: object) -> str:
    """One part of a field path: a plain key as it is, any other shown like a value.

    A key with a space or a dot in it is quoted, so that a path still reads unambiguously.

    >>> print(key_text("racks"), key_text(0), key_text("a.b"), key_text("x\\ny"))
    racks 0 'a.b' 'x\\ny'
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key) if key.bit_length() <= 128 else shown(key)
    if isinstance(key, str) and key.isprintable() and _PLAIN_KEY.fullmatch(key):
        return key
    return shown(key)


_PLAIN_KEY = re.compile(r"[^\s.'\"]{1,40}")


_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}

_FOREIGN_BOMS = [  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
]


def read_declaration_file(path: Path) -> str:
    """The text of a declaration file: a regular file of at most MAX_BYTES of UTF-8.

    The file is looked at before it is opened, so a FIFO or a device is refused, not read.
    """
    source = str(path)
    try:
        before = path.stat()
        if not stat.S_ISREG(before.st_mode):
            raise _refused(source, _not_regular(before.st_mode))
        if before.st_size > MAX_BYTES:
            raise _refused(source, _too_large(before.st_size))
        # O_NONBLOCK: should the path have become a FIFO since, opening it does not wait.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _refused(source, _not_regular(mode))
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise _refused(source, f"<file>: cannot read: {error.strerror or error}") from None
    except ValueError as error:  # a path with a NUL byte, or one the file system cannot encode
        raise _refused(source, f"<file>: cannot read: {error}") from None
    if len(data) > MAX_BYTES:
        raise _refused(source, _too_large(len(data)))
    return _utf8(data, source)


def _not_regular(mode: int) -> str:
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return f"<file>: is {kind}; expected a regular file"


def _too_large(size: int) -> str:
    return f"<file>: {size} bytes; expected at most {MAX_BYTES}, far more than a declaration needs"


def _utf8(data: bytes, source: str) -> str:
    for bom, encoding in _FOREIGN_BOMS:
        if data.startswith(bom):
            raise _refused(source, f"<file>: {encoding} text (byte order mark); expected UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _refused(
            source,
            f"<file>: not UTF-8: byte 0x{data[error.start]:02x} on line {line} "
            f"({error.reason}); expected UTF-8 text, not Latin-1, UTF-16 or binary",
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise _refused(
            source, f"<file>: a NUL byte on line {line}; expected UTF-8 text, not UTF-16 or binary"
        )
    return text


def read_declaration_text(text: str, source: str = "<input>") -> Any:
    """The plain data of a declaration in YAML text, within bounds, duplicate keys refused.

    The text is a whole declaration, or a Pulumi stack file: then its ``bringup:cluster`` config.
    """
    if len(text) > MAX_BYTES:
        raise _refused(source, f"<yaml>: {len(text)} characters; expected at most {MAX_BYTES}")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _refused(
            source,
            f"<yaml>: character {error.start} is {shown(text[error.start])}, "
            f"which is not Unicode text ({error.reason}); expected UTF-8 text",
        ) from None
    try:
        _check_events(data, source)
        loader = _Loader(data, source)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            loader.paths = _check_graph(root, source)
            document = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise _refused(source, _yaml_problem(error, data)) from None
    if isinstance(document, dict) and "config" in document:
        config = document["config"]
        if not isinstance(config, dict) or "bringup:cluster" not in config:
            raise _refused(source, "config: expected a 'bringup:cluster' key")
        return config["bringup:cluster"]
    return document


def _refused(source: str, problem: str) -> SpecError:
    return SpecError(source, [problem])


def _yaml_problem(error: yaml.YAMLError, data: bytes) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        what = "; ".join(str(p) for p in (error.context, error.problem) if p)
        return f"<yaml>: not valid YAML: line {mark.line + 1}, column {mark.column + 1}: {what}"
    if isinstance(error, yaml.reader.ReaderError):
        line = data.count(b"\n", 0, error.position) + 1
        return f"<yaml>: not valid YAML: line {line} (byte {error.position}): {error.reason}"
    return f"<yaml>: not valid YAML: {str(error).splitlines()[0] if str(error) else error!r}"


_TAG_INT = "tag:yaml.org,2002:int"
_TAG_MERGE = "tag:yaml.org,2002:merge"
_ENVELOPE = ("config", "bringup:cluster")


class _Loader(_SafeLoader):
    """PyYAML's safe loader (libyaml's parser where built), naming the path of a bad value."""

    def __init__(self, stream: bytes, source: str = "<input>") -> None:
        super().__init__(stream)
        self.source = source
        self.paths: dict[int, tuple[str, ...]] = {}  # set by _check_graph, before construction

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, SpecError):
            raise
        except Exception as error:
            # PyYAML's constructors raise what they meet on a scalar that is no such value:
            # ValueError for 2024-13-45, IndexError for `!!int ''`, KeyError for `!!bool maybe`
            kind = node.tag.rsplit(":", 1)[-1]
            path = _dotted(self.paths[id(node)]) if id(node) in self.paths else "<yaml>"
            value = shown(node.value) if isinstance(node, ScalarNode) else "a collection"
            why = f" ({error})" if isinstance(error, ValueError) else ""
            problem = f"{path}: got {value}; expected a valid {kind}{why}"
            raise _refused(self.source, problem) from None


def _check_events(data: bytes, source: str) -> None:
    """Refuse deep nesting and too many values from the event stream, before any node is built.

    The composer (libyaml's or PyYAML's) recurses once per level; this pass does not.
    """
    depth = values = 0
    for event in yaml.parse(data, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise _refused(
                    source,
                    f"<yaml>: line {line}: nested deeper than {MAX_DEPTH} levels; "
                    f"expected at most {MAX_DEPTH}",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_VALUES:
                raise _refused(
                    source,
                    f"<yaml>: more than {MAX_VALUES} values (scalars, lists and mappings); "
                    f"expected at most {MAX_VALUES}",
                )


def _check_graph(root: Node, source: str) -> dict[int, tuple[str, ...]]:
    """Refuse what aliases hide: a bomb, a cycle, nesting through aliases; and duplicate keys.

    Walks the node graph once, each shared node once (sizes are memoized, so a bomb costs its
    text, not its expansion), and returns each node's path for later messages.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node): (values once expanded, depth)
    open_nodes: set[int] = set()
    paths: dict[int, tuple[str, ...]] = {}
    problems: list[str] = []
    stack: list[tuple[Node, tuple[str, ...], _Children | None]] = [(root, (), None)]
    while stack:
        node, path, children = stack.pop()
        here = id(node)
        if children is not None:  # every child is measured: measure the node
            values = 1 + sum(measured[id(child)][0] for child, _ in children)
            depth = 1 + max((measured[id(child)][1] for child, _ in children), default=0)
            if values > MAX_VALUES:
                raise _refused(
                    source,
                    f"{_dotted(path)}: its aliases expand to more than {MAX_VALUES} values; "
                    "expected a declaration without alias bombs",
                )
            if depth > MAX_DEPTH:
                raise _refused(
                    source,
                    f"{_dotted(path)}: its aliases nest deeper than {MAX_DEPTH} levels; "
                    f"expected at most {MAX_DEPTH}",
                )
            measured[here] = (values, depth)
            open_nodes.discard(here)
        elif here in open_nodes:
            raise _refused(
                source,
                f"{_dotted(path)}: an alias to a node that contains it (line "
                f"{node.start_mark.line + 1}); expected no recursive aliases",
            )
        elif here not in measured:
            paths[here] = path
            problems += _node_problems(node, path)
            if isinstance(node, ScalarNode):
                measured[here] = (1, 0)
                continue
            open_nodes.add(here)
            children = _children(node, path)
            stack.append((node, path, children))
            stack.extend((child, where, None) for child, where in reversed(children))
    if problems:
        raise SpecError(source, problems)
    return paths


_Children = list[tuple[Node, tuple[str, ...]]]
"""A collection node's children, keys included, each with its path."""


def _children(node: Node, path: tuple[str, ...]) -> _Children:
    if isinstance(node, SequenceNode):
        return [(child, (*path, str(i))) for i, child in enumerate(node.value)]
    children = []
    for key, value in node.value:
        children.append((key, path))
        part = key_text(key.value) if isinstance(key, ScalarNode) else "<key>"
        children.append((value, (*path, part)))
    return children


def _node_problems(node: Node, path: tuple[str, ...]) -> list[str]:
    if isinstance(node, ScalarNode) and node.tag == _TAG_INT:
        if len(node.value) > MAX_INTEGER_CHARS:
            return [
                f"{_dotted(path)}: got an integer written with {len(node.value)} characters "
                f"({shown(node.value)}); expected at most {MAX_INTEGER_CHARS}"
            ]
        return []
    if not isinstance(node, MappingNode):
        return []
    problems = []
    first_line: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _TAG_MERGE:
            continue
        line = key.start_mark.line + 1
        seen = first_line.get((key.tag, key.value))
        if seen is None:
            first_line[key.tag, key.value] = line
        else:
            where = f"on line {line}" if seen == line else f"on lines {seen} and {line}"
            problems.append(
                f"{_dotted((*path, key_text(key.value)))}: declared twice, {where}; "
                "expected each key once"
            )
    return problems


def _dotted(path: tuple[str, ...]) -> str:
    """A node's path as the model's problem lines write it: from the cluster, dotted."""
    if path[: len(_ENVELOPE)] == _ENVELOPE and len(path) > len(_ENVELOPE):
        path = path[len(_ENVELOPE) :]
    return ".".join(path) or "<root>"
