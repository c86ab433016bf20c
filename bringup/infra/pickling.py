"""Pulumi's serialization of dynamic providers, kept from growing with every resource.

``pulumi.dynamic.dynamic.serialize_provider`` sorts dictionaries by replacing
``pickle._Pickler._batch_setitems`` with a wrapper of whatever is there, and never puts the
original back. Each provider serialized in a process wraps the previous wrapper once more, so a
process that declares a few hundred dynamic resources (a large stack, or the tests running the
engine inline many times) pickles through a chain of wrappers that ends in RecursionError
("maximum recursion depth exceeded in comparison"); 160 serializations were enough here. The
wrapper below puts pickle's own methods back around each call, which keeps the sorting Pulumi
wants and drops the chain.

>>> install()
>>> serialize_provider is _dynamic.serialize_provider
True
"""

from __future__ import annotations

import pickle

from pulumi.dynamic import ResourceProvider
from pulumi.dynamic import dynamic as _dynamic

_PULUMI_SERIALIZE = _dynamic.serialize_provider
_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
_SAVE_DICT = pickle._Pickler.save_dict  # type: ignore[attr-defined]


def serialize_provider(provider: ResourceProvider) -> str:
    """Pulumi's serialization of `provider`, over pickle's own methods (put back before and
    after, so that Pulumi wraps them once, whatever ran before)."""
    _restore()
    try:
        return str(_PULUMI_SERIALIZE(provider))
    finally:
        _restore()


def _restore() -> None:
    pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]
    pickle._Pickler.save_dict = _SAVE_DICT  # type: ignore[attr-defined]


def install() -> None:
    """Make Pulumi's dynamic resources serialize their providers through
    :func:`serialize_provider` (idempotent)."""
    _dynamic.serialize_provider = serialize_provider
