"""An engine failure reaches the command line as itself, through context managers too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bringup.infra.engine import EngineFailed


@contextmanager
def _around() -> Iterator[None]:
    yield


def test_an_engine_failure_leaves_a_context_manager_unchanged() -> None:
    failure = EngineFailed("up", "lab", {"lab": "a resource failed"}, Path("/x.log"))
    with pytest.raises(EngineFailed) as raised, _around():
        raise failure
    assert raised.value is failure
    assert str(raised.value) == "up lab failed; the engine's log: /x.log"
