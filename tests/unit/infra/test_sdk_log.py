"""The SDK's debug messages are not sent to the engine once installed; other levels still are."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from pulumi import log

from bringup.infra import sdk_log

# The SDK's own, read when the tests are collected: any test that runs bringup's Engine in this
# process installs sdk_log for the rest of it, so a test cannot read it back later.
SDK_DEBUG = log.debug
assert SDK_DEBUG is not sdk_log.drop, "sdk_log was installed before the tests were collected"


@pytest.fixture
def engine() -> Iterator[mock.Mock]:
    before = log.debug
    log.debug = SDK_DEBUG
    fake = mock.Mock()
    with mock.patch("pulumi.runtime.settings.get_engine", return_value=fake):
        yield fake
    log.debug = before


def test_a_debug_message_reaches_the_engine_without_it(engine: mock.Mock) -> None:
    log.debug("registering")
    assert engine.Log.call_count == 1


def test_a_debug_message_goes_nowhere_with_it(engine: mock.Mock) -> None:
    sdk_log.install()
    log.debug("registering")
    log.info("a line the user sees")
    assert [c.args[0].message for c in engine.Log.call_args_list] == ["a line the user sees"]
