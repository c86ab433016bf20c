"""PlainDumper writes exactly what PyYAML's safe dumper writes, only faster."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bringup.catalog import Role
from bringup.render.dumper import PlainDumper, block_yaml
from bringup.render.environment import to_yaml

REFERENCE = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
OPTIONS: dict[str, Any] = {
    "sort_keys": True,
    "default_flow_style": False,
    "allow_unicode": True,
    "width": 1000,
}

AWKWARD = [
    "yes", "no", "on", "off", "null", "~", "", "1.0", "12.8", "570", "0x1F", "0o17", "1e3",
    "12:30", "2024-01-01", " lead", "trail ", "a: b", "- x", "#c", "x #c", "multi\nline",
    "üñí", "'quote'", '"dq"', "1:4.2.3-1", "10.96.255.250:/export/shared", "*", "&a", "!t",
    "%", "@", "`", "{", "[", "<<", "=", "...", "---", "true", "True", "NaN", ".inf",
]  # fmt: skip
VALUES: list[Any] = [
    {"strings": AWKWARD},
    {"numbers": [0, -1, 10**20, 1.0, 0.5, -0.0, 1e20, 1e-7, float("inf"), float("-inf")]},
    {"flags": [True, False, None]},
    {"empty": [[], {}, [[]], [{}], {"a": []}, {"a": {}}]},
    {"nested": {"b": [{"y": 1, "x": [2, {"q": None}]}], "a": "z"}},
    {"z": "mixed key types keep their order", "a": 2, 3: "x", "m": 4},
    [{"list": "at the top"}, "x"],
]


def _reference(data: Any, **options: Any) -> str:
    text: str = yaml.dump(data, Dumper=REFERENCE, **options)
    return text


@pytest.mark.parametrize("data", VALUES)
@pytest.mark.parametrize("flow", [False, None, True])
def test_same_text_as_the_safe_dumper(data: Any, flow: bool | None) -> None:
    options = {**OPTIONS, "default_flow_style": flow}
    assert yaml.dump(data, Dumper=PlainDumper, **options) == _reference(data, **options)


def test_lab_host_vars_dump_as_the_safe_dumper_writes_them(lab_files: dict[str, str]) -> None:
    for path, text in lab_files.items():
        if path.endswith(".yml"):
            data = yaml.safe_load(text)
            assert yaml.dump(data, Dumper=PlainDumper, **OPTIONS) == _reference(data, **OPTIONS)


def test_repeated_values_are_written_out_not_aliased() -> None:
    shared = {"a": [1, 2]}
    text = yaml.dump({"x": shared, "y": shared}, Dumper=PlainDumper, **OPTIONS)
    assert text == "x:\n  a:\n  - 1\n  - 2\ny:\n  a:\n  - 1\n  - 2\n"


def test_other_types_go_through_the_safe_representers() -> None:
    data = {"tuple": (1, 2), "set": {3}, "bytes": b"x"}
    assert yaml.dump(data, Dumper=PlainDumper, **OPTIONS) == _reference(data, **OPTIONS)
    for refused in (object(), Role.COMPUTE):  # a StrEnum is not a plain str
        with pytest.raises(yaml.representer.RepresenterError):
            yaml.dump({"a": refused}, Dumper=PlainDumper)


def test_to_yaml_leaves_the_final_line_break_to_the_template() -> None:
    assert to_yaml({"b": [1, 2], "a": "x"}) == "a: x\nb:\n- 1\n- 2"


_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _plain, max_size=5))
def test_any_plain_data_dumps_as_the_safe_dumper_writes_it(data: dict[str, Any]) -> None:
    assert yaml.dump(data, Dumper=PlainDumper, **OPTIONS) == _reference(data, **OPTIONS)


def _block_reference(data: Any) -> str:
    return _reference(data, **OPTIONS)


BLOCK_VALUES: list[Any] = [
    *VALUES,
    *({"value": s} for s in AWKWARD),
    *({s: "key"} for s in AWKWARD),
    {"floats": [0.0, -0.0, 1.5, 1e17, 1e-7, -2.5e300, float("nan"), 5e-324, 123456789.123]},
    [[{"a": 1, "b": [1, [2, {}]]}], [], {}],
    {"x": [[1, 2], []], "y": {"z": [{"q": [{"r": None}]}]}},
    {"a b": "c d", "x  y": 1, "é" * 70: 2, "k:": "v:x", "a (b)": "=", "/x": "+1", "a :b": "x)"},
    {"long": "x" * 129, "key": 1},
    {"x" * 129: 1},
    {True: 1, "a": 2},
    {},
    [],
    "top",
]


@pytest.mark.parametrize("data", BLOCK_VALUES)
def test_block_yaml_writes_what_the_safe_dumper_writes(data: Any) -> None:
    assert block_yaml(data) == _block_reference(data)


def test_block_yaml_writes_the_lab_host_vars_as_the_safe_dumper_does(
    lab_files: dict[str, str],
) -> None:
    for path, text in lab_files.items():
        if path.endswith(".yml"):
            data = yaml.safe_load(text)
            assert block_yaml(data) == _block_reference(data), path


# Strings near the edge of what libyaml writes plain: names, addresses, indicators, blanks.
_edgy = st.text(alphabet="aZ09_./:+=()- #'\"!&*?,[]{}|>%@`~\n\té", max_size=12)
_edgy_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _edgy,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_edgy, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_edgy, _edgy_data, max_size=5) | st.lists(_edgy_data, max_size=4))
def test_block_yaml_writes_any_data_as_the_safe_dumper_does(data: Any) -> None:
    assert block_yaml(data) == _block_reference(data)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _plain, max_size=5))
def test_block_yaml_writes_any_text_as_the_safe_dumper_does(data: dict[str, Any]) -> None:
    assert block_yaml(data) == _block_reference(data)
