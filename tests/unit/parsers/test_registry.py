"""The PARSERS registry, the ParseError contract every parser keeps, and the docstring examples."""

from __future__ import annotations

import doctest
import importlib
import pickle
import pkgutil

import pytest

import bringup.parsers
from bringup.parsers import PARSERS, ParseError


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_parser_rejects_empty_input_under_its_registry_name(tool: str) -> None:
    with pytest.raises(ParseError) as raised:
        PARSERS[tool](" \n\t\n")
    assert raised.value.tool == tool
    assert raised.value.lineno == 1
    assert str(raised.value).startswith(f"{tool}: line 1: ")


@pytest.mark.parametrize("tool", sorted(PARSERS))
def test_every_parser_rejects_binary_garbage(tool: str) -> None:
    with pytest.raises(ParseError) as raised:
        PARSERS[tool]("\x00\x01\x02 \u00ff\u00fe garbage\n\x7f\n")
    assert raised.value.tool == tool
    assert raised.value.lineno in (1, 2)


def test_parse_error_survives_pickling_for_worker_processes() -> None:
    error = ParseError("ibstat", 3, "bogus", "expected 'Key: value'")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.tool, copy.lineno, copy.line, copy.reason) == (
        "ibstat",
        3,
        "bogus",
        "expected 'Key: value'",
    )
    assert isinstance(copy, ValueError)


MODULES = ["bringup.parsers"] + [
    module.name for module in pkgutil.walk_packages(bringup.parsers.__path__, "bringup.parsers.")
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
