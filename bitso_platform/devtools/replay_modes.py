"""The replay exchange's modes, apart so that `bitso ticker` lists them without loading it."""

from typing import Literal

Mode = Literal["change-only", "every-second"]
MODES: tuple[Mode, ...] = ("change-only", "every-second")
