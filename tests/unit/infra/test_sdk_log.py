"""The SDK's debug messages are not sent to the engine once installed; other levels still are."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from pulumi import log

from bringup.infra import sdk_log


@pytest.fixture
def engine() -> Iterator[mock.Mock]:
    original = log.debug
    fake = mock.Mock()
    with mock.patch("pulumi.runtime.settings.get_engine", return_value=fake):
        yield fake
    log.debug = original


def test_a_debug_message_reaches_the_engine_without_it(engine: mock.Mock) -> None:
    log.debug("registering")
    assert engine.Log.call_count == 1


def test_a_debug_message_goes_nowhere_with_it(engine: mock.Mock) -> None:
    sdk_log.install()
    log.debug("registering")
    log.info("a line the user sees")
    assert [c.args[0].message for c in engine.Log.call_args_list] == ["a line the user sees"]
