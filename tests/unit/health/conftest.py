"""Lab nodes for the health tests: the validation tests' emulated nodes (their profile, the
lab's fault functions, the emulated tools' real formats)."""

from __future__ import annotations

# the validation tests' fixtures, shared: a conftest's fixtures are the ones in its namespace
from tests.unit.validation.conftest import make_case, make_dra_case

__all__ = ["make_case", "make_dra_case"]
