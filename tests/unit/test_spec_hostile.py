"""Hostile declarations: refused fast, as SpecError only, one bounded printable line per problem.

The files under tests/fixtures/hostile/ are the observed cases: each holds a declaration that must
be refused, and its ``# expect:`` lines are the problem lines, exactly; adding a case means adding
a file. Binary and oversized files are made here. The properties at the end throw generated
malformed declarations at the loader (random bytes, YAML token soup, mutated stacks, booleans for
numbers, duplicate keys, deep nesting) and hold it to the same rules.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import socket
import string
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bringup import declaration
from bringup.declaration import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_LINE,
    MAX_PROBLEMS,
    MAX_VALUES,
    read_declaration_text,
    shown,
)
from bringup.errors import BringupError
from bringup.spec import Cluster, SpecError, load_cluster, load_cluster_text, parse_cluster

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
STACKS = ROOT / "stacks"
LAB_TEXT = (STACKS / "Pulumi.lab.yaml").read_text(encoding="utf-8")
MINIMAL = (
    "name: demo\nsite: {name: lab}\nracks: [{sku: hgx-h100, count: 1, hall: 1, row: 1, rack: 1}]\n"
)
MARKERS = ("<file>", "<yaml>", "<root>", "<more>")


def _refusal(load: Any, *args: Any) -> SpecError:
    """The SpecError that `load(*args)` raises; any other outcome fails the test."""
    with pytest.raises(SpecError) as caught:
        load(*args)
    assert type(caught.value) is SpecError
    return caught.value


def _assert_clean(error: BaseException, source: str) -> None:
    """The rules every refusal keeps: a SpecError whose lines are each one bounded line."""
    assert type(error) is SpecError, f"{type(error).__name__}: {error}"
    assert isinstance(error, BringupError)
    assert error.source == source
    assert error.problems
    lines = error.lines()
    assert lines[0] == f"invalid cluster declaration in {source}:"
    assert lines[1:] == [f"  - {p}" for p in error.problems]
    assert len(error.problems) <= MAX_PROBLEMS + 1
    for problem in error.problems:
        assert problem.isprintable(), problem
        assert len(problem) <= MAX_LINE
        head, sep, rest = problem.partition(": ")
        assert sep, problem
        assert rest, problem
        assert head, problem  # a marker or a field path, then what is wrong
        assert head in MARKERS or not head[0].isspace(), problem


def _problems(text: str) -> list[str]:
    return _refusal(load_cluster_text, text, "t.yaml").problems


# The observed cases, one file each.


def _expected(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


@pytest.mark.parametrize("path", sorted(HOSTILE.glob("*.yaml")), ids=lambda p: p.name)
def test_hostile_file_is_refused_with_its_lines(path: Path) -> None:
    expected = _expected(path)
    assert expected, f"{path.name} says nothing it expects ('# expect: <line>')"
    error = _refusal(load_cluster, path)
    _assert_clean(error, str(path))
    assert error.problems == expected


def test_hostile_corpus_is_there() -> None:
    assert len(list(HOSTILE.glob("*.yaml"))) >= 10


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    bomb = (HOSTILE / "alias-bomb.yaml").read_text(encoding="utf-8")
    assert len(bomb.encode()) < 800
    tracemalloc.start()
    try:
        problems = _problems(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems == [
        "f: its aliases expand to more than 100000 values; expected a declaration without "
        "alias bombs"
    ]
    assert peak < 20_000_000  # the expanded value would take gigabytes


def test_wider_alias_bomb_is_refused_as_well() -> None:
    levels = [f"l0: &l0 [{', '.join(['x'] * 50)}]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 50)}]" for i in range(1, 12)]
    problems = _problems("\n".join(levels))
    assert problems == [
        "l2: its aliases expand to more than 100000 values; expected a declaration without "
        "alias bombs"
    ]


def test_shared_anchors_within_the_bounds_are_accepted() -> None:
    text = (
        "defaults: &nfs {kind: nfs, read_gbs: 1}\n"
        + MINIMAL
        + "storage:\n"
        + "  - {<<: *nfs, name: home, export: 'h:/home', mount: /home}\n"
        + "  - {<<: *nfs, name: data, export: 'h:/data', mount: /data}\n"
    )
    data = read_declaration_text(text)
    assert data["storage"][1] == {
        "kind": "nfs",
        "read_gbs": 1,
        "name": "data",
        "export": "h:/data",
        "mount": "/data",
    }
    # the model then refuses the extra key, and nothing else
    assert _problems(text) == [
        "defaults: got {'kind': 'nfs', 'read_gbs': 1}; Extra inputs are not permitted"
    ]


def test_merge_key_overrides_are_not_duplicates() -> None:
    data = read_declaration_text("a: &a {x: 1, y: 2}\nb: {<<: *a, x: 3}\n")
    assert data["b"] == {"x": 3, "y": 2}


# Encodings: UTF-8 is the format.

LATIN1 = MINIMAL.replace("{name: lab}", "{name: lab, description: café}").encode("latin-1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            LATIN1,
            "<file>: not UTF-8: byte 0xe9 on line 2 (invalid continuation byte); expected UTF-8 "
            "text, not Latin-1, UTF-16 or binary",
            id="latin-1",
        ),
        pytest.param(
            LAB_TEXT.encode("utf-16"),
            "<file>: UTF-16 text (byte order mark); expected UTF-8",
            id="utf-16",
        ),
        pytest.param(
            codecs.BOM_UTF16_BE + LAB_TEXT.encode("utf-16-be"),
            "<file>: UTF-16 text (byte order mark); expected UTF-8",
            id="utf-16-be",
        ),
        pytest.param(
            LAB_TEXT.encode("utf-16-le"),
            "<file>: a NUL byte on line 1; expected UTF-8 text, not UTF-16 or binary",
            id="utf-16-without-bom",
        ),
        pytest.param(
            LAB_TEXT.encode("utf-32"),
            "<file>: UTF-32 text (byte order mark); expected UTF-8",
            id="utf-32",
        ),
        pytest.param(
            b"name: demo\n\x00\x01\x02",
            "<file>: a NUL byte on line 2; expected UTF-8 text, not UTF-16 or binary",
            id="nul",
        ),
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00",
            "<file>: not UTF-8: byte 0x89 on line 1 (invalid start byte); expected UTF-8 text, "
            "not Latin-1, UTF-16 or binary",
            id="binary",
        ),
        pytest.param(
            b"name: \xed\xa0\x80\n",
            "<file>: not UTF-8: byte 0xed on line 1 (invalid continuation byte); expected UTF-8 "
            "text, not Latin-1, UTF-16 or binary",
            id="encoded-surrogate",
        ),
    ],
)
def test_file_that_is_not_utf8_is_refused(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_bytes(data)
    error = _refusal(load_cluster, path)
    _assert_clean(error, str(path))
    assert error.problems == [expected]


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.lab.yaml"
    path.write_bytes(codecs.BOM_UTF8 + LAB_TEXT.encode())
    assert load_cluster(path) == load_cluster(STACKS / "Pulumi.lab.yaml")


def test_text_that_is_not_unicode_is_refused() -> None:
    assert _problems("name: \ud800\n") == [
        "<yaml>: character 6 is '\\ud800', which is not Unicode text (surrogates not "
        "allowed); expected UTF-8 text"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: a\x07\n",
            "<yaml>: not valid YAML: line 1 (byte 7): control characters are not allowed",
            id="bell",
        ),
        pytest.param(
            "site:\n  name: é\x1b[2J\n",
            "<yaml>: not valid YAML: line 2 (byte 16): control characters are not allowed",
            id="escape",
        ),
    ],
)
def test_control_characters_in_yaml_are_refused(text: str, expected: str) -> None:
    assert _problems(text) == [expected]


# Bounds: size, depth, values, integers, problems.


def test_file_far_above_any_declaration_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as file:
        file.truncate(50_000_000)  # sparse: costs nothing, and reading it would cost a minute
    error = _refusal(load_cluster, path)
    _assert_clean(error, str(path))
    assert error.problems == [
        "<file>: 50000000 bytes; expected at most 1048576, far more than a declaration needs"
    ]


def test_size_bound_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declaration, "MAX_BYTES", len(MINIMAL))
    path = tmp_path / "x.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_cluster(path).name == "demo"
    assert load_cluster_text(MINIMAL).name == "demo"
    path.write_text(MINIMAL + "\n", encoding="utf-8")
    assert _refusal(load_cluster, path).problems[0].startswith(f"<file>: {len(MINIMAL) + 1} bytes")
    assert _problems(MINIMAL + "\n") == [
        f"<yaml>: {len(MINIMAL) + 1} characters; expected at most {len(MINIMAL)}"
    ]


def test_bounds_are_far_above_every_example_stack() -> None:
    for path in STACKS.glob("Pulumi.*.yaml"):
        data = path.read_bytes()
        values = sum(
            1 for e in yaml.parse(data, Loader=yaml.SafeLoader) if isinstance(e, yaml.NodeEvent)
        )
        assert len(data) * 50 < MAX_BYTES, path.name
        assert values * 40 < MAX_VALUES, path.name


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_bound_is_exact() -> None:
    assert read_declaration_text(_nested(MAX_DEPTH)) is not None
    error = _refusal(read_declaration_text, _nested(MAX_DEPTH + 1))
    assert error.problems == ["<yaml>: line 1: nested deeper than 32 levels; expected at most 32"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_nested(100_000), id="flow-100000"),
        pytest.param("".join("  " * i + "-\n" for i in range(500)), id="block-lists-500"),
        pytest.param("".join("  " * i + "a:\n" for i in range(500)), id="block-maps-500"),
        pytest.param("".join(" " * i + "- a:\n" for i in range(0, 1000, 3)), id="mixed"),
        pytest.param("- " * 50_000 + "x\n", id="compact-50000"),
    ],
)
def test_deep_nesting_is_refused_before_recursion(text: str) -> None:
    error = _refusal(load_cluster_text, text, "deep.yaml")
    _assert_clean(error, "deep.yaml")
    assert len(error.problems) == 1
    assert "nest" in error.problems[0]


def test_values_bound_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(declaration, "MAX_VALUES", 12)
    assert read_declaration_text("[" + "0, " * 11 + "]") == [0] * 11
    assert _refusal(read_declaration_text, "[" + "0, " * 12 + "]").problems == [
        "<yaml>: more than 12 values (scalars, lists and mappings); expected at most 12"
    ]
    # 12 values as written, 13 in b alone once its aliases are expanded
    assert _refusal(read_declaration_text, "a: &a [0, 0, 0, 0, 0]\nb: [*a, *a]\n").problems == [
        "b: its aliases expand to more than 12 values; expected a declaration without alias bombs"
    ]


def test_many_values_are_refused_fast() -> None:
    text = "racks: [" + "0, " * (MAX_VALUES + 1) + "]\n"
    assert _problems(text) == [
        "<yaml>: more than 100000 values (scalars, lists and mappings); expected at most 100000"
    ]


@pytest.mark.parametrize(
    ("written", "shown_as"),
    [
        pytest.param("9" * 5000, "'" + "9" * 37 + "..." + "9" * 38 + "'", id="5000-digits"),
        pytest.param("0x" + "f" * 100_000, "'0x" + "f" * 35 + "..." + "f" * 38 + "'", id="hex"),
        pytest.param("-" + "1" * 64, "'-" + "1" * 64 + "'", id="65-characters"),
    ],
)  # fmt: skip
def test_long_integer_is_refused_unread(written: str, shown_as: str) -> None:
    text = MINIMAL.replace("count: 1", f"count: {written}")
    assert _problems(text) == [
        f"racks.0.count: got an integer written with {len(written)} characters ({shown_as}); "
        "expected at most 64"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!int ''", "racks.0.count: got ''; expected a valid int"),
        ("!!int 0x", "racks.0.count: got '0x'; expected a valid int (invalid literal for int() "
                     "with base 16: '')"),
        ("!!float ''", "racks.0.count: got ''; expected a valid float"),
        ("!!bool maybe", "racks.0.count: got 'maybe'; expected a valid bool"),
        ("!!timestamp soon", "racks.0.count: got 'soon'; expected a valid timestamp"),
    ],
)  # fmt: skip
def test_scalar_that_is_not_its_tag_is_refused(value: str, expected: str) -> None:
    assert _problems(MINIMAL.replace("count: 1", f"count: {value}")) == [expected]


def test_integer_of_64_characters_reaches_the_model() -> None:
    text = MINIMAL.replace("count: 1", "count: 0x" + "f" * 62)
    assert _problems(text) == [
        "racks.0.count: got <integer of 248 bits>; Input should be less than or equal to 999"
    ]


def test_many_problems_are_cut_to_a_bounded_list() -> None:
    racks = "".join("  - {sku: hgx-h100, count: 0, hall: 1, row: 1, rack: 1}\n" for _ in range(200))
    problems = _problems("name: demo\nsite: {name: lab}\nracks:\n" + racks)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0].startswith("racks.0.count: got 0; ")
    assert problems[-1] == "<more>: 150 more problems not shown"


def test_many_duplicates_are_cut_as_well() -> None:
    problems = _problems("{" + ", ".join(["a: 1"] * 100) + "}")
    assert problems[0] == "a: declared twice, on line 1; expected each key once"
    assert problems[-1] == "<more>: 49 more problems not shown"


# Files that are not regular files: refused without being read.


@contextlib.contextmanager
def _unblocked(fifo: Path) -> Iterator[None]:
    """Should a reader block on `fifo`, open and close its other end: the test then fails on
    what was read, where it would otherwise hang."""
    done = threading.Event()

    def unblock() -> None:
        while not done.wait(0.05):
            with contextlib.suppress(OSError):  # ENXIO while nobody reads
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                return

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "Pulumi.x.yaml"
    os.mkfifo(fifo)
    with _unblocked(fifo):
        error = _refusal(load_cluster, fifo)
    _assert_clean(error, str(fifo))
    assert error.problems == ["<file>: is a named pipe (FIFO); expected a regular file"]


def test_link_to_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "Pulumi.x.yaml"
    link.symlink_to(fifo)
    with _unblocked(fifo):
        assert _refusal(load_cluster, link).problems == [
            "<file>: is a named pipe (FIFO); expected a regular file"
        ]


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        pytest.param(lambda p: p.mkdir(), "a directory", id="directory"),
        pytest.param(lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "a socket", id="socket"),
    ],
)
def test_other_files_are_refused(tmp_path: Path, make: Any, kind: str) -> None:
    path = tmp_path / "s"
    make(path)
    assert _refusal(load_cluster, path).problems == [f"<file>: is {kind}; expected a regular file"]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_device_is_refused(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    assert _refusal(load_cluster, Path(device)).problems == [
        "<file>: is a character device; expected a regular file"
    ]


def test_unreadable_path_is_one_line(tmp_path: Path) -> None:
    assert _refusal(load_cluster, Path("a\x00b")).problems == [
        "<file>: cannot read: embedded null byte"
    ]
    assert _refusal(load_cluster, tmp_path / "no" / "x.yaml").problems == [
        "<file>: cannot read: No such file or directory"
    ]


# Messages: one line each, the value bounded and escaped.


def test_error_with_line_breaks_in_its_parts_still_prints_one_line_per_problem() -> None:
    error = SpecError("a\nb.yaml", ["name: got 'x'\nsecond", "\u2028", "x" * 5000])
    assert error.lines() == [
        "invalid cluster declaration in a\\nb.yaml:",
        "  - name: got 'x'\\nsecond",
        "  - \\u2028",
        "  - " + "x" * (MAX_LINE - 3) + "...",
    ]


def test_value_shown_is_bounded_without_being_built_whole() -> None:
    huge_int = 10**100_000  # repr() would raise: Python refuses more than 4,300 digits
    assert shown(huge_int) == "<integer of 332193 bits>"
    assert len(shown("x" * 10_000_000)) <= 80
    assert shown(b"\x00" * 1000).startswith("b'\\x00")
    nested: list[Any] = []
    for _ in range(100_000):
        nested = [nested]
    assert shown(nested) == "[[[...]]]"
    assert shown({f"k{i}": i for i in range(10)}) == "{'k0': 0, 'k1': 1, 'k2': 2, 'k3': 3, ...}"


def test_python_data_with_hostile_values_gives_bounded_lines() -> None:
    error = _refusal(
        parse_cluster,
        {"name": 10**100_000, "site": {"name": "x" * 1_000_000}, "racks": [], "z\n": 1},
        "py",
    )
    _assert_clean(error, "py")
    assert error.problems == [
        "name: got <integer of 332193 bits>; Input should be a valid string",
        f"site.name: got '{'x' * 37}...{'x' * 38}'; expected a DNS label (RFC 1123): lowercase "
        "letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit",
        "racks: got []; Tuple should have at least 1 item after validation, not 0",
        "'z\\n': got 1; Extra inputs are not permitted",
    ]


def test_a_list_whose_items_failed_is_not_also_too_short() -> None:
    problems = _problems(MINIMAL.replace("count: 1", "count: 0"))
    assert problems == ["racks.0.count: got 0; Input should be greater than or equal to 1"]


def test_dotted_key_is_quoted_in_the_path() -> None:
    assert _problems(MINIMAL + "a.b: 1\n") == ["'a.b': got 1; Extra inputs are not permitted"]


def test_declaration_module_examples_run() -> None:
    import doctest

    result = doctest.testmod(declaration, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


# Properties: whatever the input, SpecError (or a Cluster), and clean lines.

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _outcome(load: Any, *args: Any) -> Cluster | SpecError:
    try:
        return load(*args)  # type: ignore[no-any-return]
    except SpecError as error:
        return error


@FUZZ
@given(st.binary(max_size=400) | st.binary(max_size=40).map(lambda b: LAB_TEXT.encode()[:200] + b))
def test_random_bytes_fail_cleanly(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.yaml"
    path.write_bytes(data)
    outcome = _outcome(load_cluster, path)
    event(type(outcome).__name__)
    if isinstance(outcome, SpecError):
        _assert_clean(outcome, str(path))


_TOKENS = [
    "{", "}", "[", "]", ", ", ": ", "- ", "? ", "\n", "\n  ", "\n    ", "  ", "#", "'", '"', "|",
    ">", "&a ", "&b ", "*a", "*b", "<<: ", "!!int ", "!!str ", "!!binary ", "!!set ", "!!omap ",
    "!!python/name:os.system ", "!x ", "---\n", "...\n", "%YAML 1.1\n", "~", "null", "true", "no",
    "0", "1", "-1", "0x1f", "0o7", "1_000", "1:30", ".inf", ".nan", "1e999", "2024-01-01",
    "2024-13-45", "name", "site", "racks", "sku", "count", "hgx-h100", "mount", "/proc", "\\n",
    "\t", "é", "\u2028", "\x85", "\ufeff",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_yaml_token_soup_fails_cleanly(text: str) -> None:
    outcome = _outcome(load_cluster_text, text, "soup.yaml")
    event(type(outcome).__name__)
    if isinstance(outcome, SpecError):
        _assert_clean(outcome, "soup.yaml")


@FUZZ
@given(st.text(max_size=300))
def test_random_text_fails_cleanly(text: str) -> None:
    outcome = _outcome(load_cluster_text, text, "text.yaml")
    if isinstance(outcome, SpecError):
        _assert_clean(outcome, "text.yaml")


_LAB_LINES = LAB_TEXT.splitlines(keepends=True)
_HOSTILE_SCALARS = [
    "true", "false", "yes", "~", "''", "'\\n'", '"a\\nb"', '"\\u2028"', '"\\x00"', "1e999",
    "-.inf", ".nan", "0x" + "f" * 70, "9" * 5000, "2024-13-45", "&a x", "*a", "*undefined",
    "!!binary aGk=", "!!python/object:os.system x", "[" * 40 + "]" * 40, "{a: 1, a: 1}", "/",
    "/proc", "/mnt/../etc", "hgx-h100", "-1", "0", "1000000",
]  # fmt: skip


@st.composite
def _mutated_lab_text(draw: st.DrawFn) -> str:
    lines = list(_LAB_LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["scalar", "duplicate", "delete", "cut", "indent", "token"]))
        if action == "scalar" and ": " in lines[i]:
            key, _, _ = lines[i].partition(": ")
            lines[i] = f"{key}: {draw(st.sampled_from(_HOSTILE_SCALARS))}\n"
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "delete":
            del lines[i]
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif action == "indent":
            lines[i] = draw(st.sampled_from([" ", "\t", "- "])) + lines[i]
        else:
            lines.insert(i, draw(st.sampled_from(_TOKENS)))
        if not lines:
            break
    return "".join(lines)


@FUZZ
@given(_mutated_lab_text())
def test_mutated_stack_text_fails_cleanly(text: str) -> None:
    outcome = _outcome(load_cluster_text, text, "Pulumi.lab.yaml")
    event(type(outcome).__name__)
    if isinstance(outcome, SpecError):
        _assert_clean(outcome, "Pulumi.lab.yaml")


_LAB = read_declaration_text(LAB_TEXT)


def _number_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every number in the lab stack."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _number_paths(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _number_paths(v, (*path, i))]
    return [path] if isinstance(node, int | float) and not isinstance(node, bool) else []


@FUZZ
@given(st.sampled_from(_number_paths(_LAB)), st.sampled_from([True, False, "text"]))
def test_a_boolean_or_text_for_any_number_is_refused(
    path: tuple[Any, ...], replacement: bool | str
) -> None:
    data = yaml.safe_load(yaml.safe_dump(_LAB))
    node = data
    for key in path[:-1]:
        node = node[key]
    number = node[path[-1]]
    value = str(number) if replacement == "text" else replacement
    node[path[-1]] = value
    problems = _problems(yaml.safe_dump(data))
    kind = "a number" if isinstance(number, float) else "an integer"
    given_as = "text" if isinstance(value, str) else "a boolean"
    dotted = ".".join(str(p) for p in path)
    assert f"{dotted}: got {value!r}; expected {kind}, not {given_as}" in problems


_KEY_LINE = re.compile(r"^( *)([a-z_]+): ")


@FUZZ
@given(st.sampled_from([i for i, line in enumerate(_LAB_LINES) if _KEY_LINE.match(line)]))
def test_duplicate_key_anywhere_is_refused(i: int) -> None:
    line = _LAB_LINES[i]
    match = _KEY_LINE.match(line)
    assert match
    text = "".join([*_LAB_LINES[: i + 1], line, *_LAB_LINES[i + 1 :]])
    problems = _problems(text)
    twice = [p for p in problems if "declared twice" in p]
    assert len(twice) == 1, problems
    assert twice[0].split(": ")[0].split(".")[-1] == match[2]
    assert f"on lines {i + 1} and {i + 2}" in twice[0]


@FUZZ
@given(st.integers(1, 300), st.sampled_from(["flow", "block"]))
def test_nesting_of_any_depth_is_bounded(depth: int, style: str) -> None:
    block = "".join("  " * i + "-\n" for i in range(depth))
    text = _nested(depth) if style == "flow" else block
    outcome = _outcome(read_declaration_text, text, "n.yaml")
    if depth <= MAX_DEPTH:
        assert not isinstance(outcome, SpecError)
    else:
        assert isinstance(outcome, SpecError)
        _assert_clean(outcome, "n.yaml")
        assert "nest" in outcome.problems[0]


_NAMES = st.text(alphabet=string.printable + "é\u2028\x00\x85", max_size=70)


@FUZZ
@given(_NAMES)
def test_any_name_is_accepted_as_a_dns_label_or_refused_in_one_line(name: str) -> None:
    outcome = _outcome(parse_cluster, {**_LAB, "name": name}, "names")
    if isinstance(outcome, Cluster):
        assert re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", outcome.name)
        return
    _assert_clean(outcome, "names")
    assert [p.split(": ")[0] for p in outcome.problems] == ["name"]
