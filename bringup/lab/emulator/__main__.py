"""`python -m emulator <tool> [args]` (on a lab node) or `python -m bringup.lab.emulator ...`."""

from __future__ import annotations

import sys

from .tools import main

sys.exit(main())
