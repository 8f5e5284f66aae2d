"""Where output goes: data to stdout, progress and messages to stderr.

Rich already honours NO_COLOR and plain (non-terminal) streams; we only decide quietness.
"""

from __future__ import annotations

import os

from rich.console import Console

stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False, soft_wrap=True)


def quiet_from_env() -> bool:
    return os.environ.get("FORENSICS_QUIET", "") not in ("", "0")
