"""Configuration values with their documented defaults (SPEC section 7).

Only the functions here read the environment, and only when called.
"""

import os
from pathlib import Path

DEFAULT_BOOKS = ("btc_mxn", "usd_mxn")
DEFAULT_THRESHOLDS = (0.1, 0.5, 1.0)


def state_dir() -> Path:
    """Folder for local state: embedded Postgres, local lake, demo data, Dagster home."""
    return Path(os.environ.get("BITSO_STATE_DIR", ".bitso")).resolve()


def env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default
