"""Serializing dynamic providers many times in one process (the engine runs inline)."""

from __future__ import annotations

import pytest

from bringup.access import Access
from bringup.infra import pickling
from bringup.infra.provisioning import ProvisioningProvider

MANY = 600
"""More serializations than Pulumi's own survives in one process (it failed at 160 here)."""


def _pulumi_s_own(times: int, provider: ProvisioningProvider) -> None:
    for _ in range(times):
        pickling._PULUMI_SERIALIZE(provider)


def test_pulumi_s_own_serializer_breaks_after_a_few_hundred_providers() -> None:
    provider = ProvisioningProvider(Access())
    try:
        with pytest.raises(RecursionError):
            _pulumi_s_own(MANY, provider)
    finally:
        pickling.serialize_provider(provider)  # puts pickle's own methods back


def test_serialized_through_bringup_any_number_of_providers_pickle_alike() -> None:
    provider = ProvisioningProvider(Access())
    first = pickling.serialize_provider(provider)
    for _ in range(MANY):
        assert pickling.serialize_provider(provider) == first


def test_dynamic_resources_use_bringup_s_serializer() -> None:
    from pulumi.dynamic import dynamic

    assert dynamic.serialize_provider is pickling.serialize_provider
