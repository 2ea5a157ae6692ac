"""What third-party libraries need before they are imported, so that a normal run is quiet.

Root shells, CI runners and containers have no login session: no XDG_RUNTIME_DIR, and
sometimes no writable home. pgserver (through platformdirs) and matplotlib then warn on every
command, and both log at INFO on loggers that a host configuring the root logger (Dagster's
processes do) prints. These libraries read the environment only at import, so the values are
set in this process's environment (and so inherited by its children) before the import.
"""

import logging
import os
import tempfile
from pathlib import Path

from bitso_platform.settings import state_dir


def prepare_pgserver() -> None:
    """A runtime folder for pgserver's lock (and its socket when the data folder's path is too
    long for one), and its logger limited to warnings (it logs each pg_ctl call at INFO)."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # The folder platformdirs itself falls back to (with a warning): processes started with
        # and without the variable share one lock, and the path stays short enough for a socket.
        runtime = Path(tempfile.gettempdir()) / f"runtime-{os.geteuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        if runtime.stat().st_uid == os.geteuid():  # one made by older releases is 0755
            runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def prepare_matplotlib() -> None:
    """A writable config and cache folder (under the state folder when the user's default is
    not writable), and matplotlib's logger limited to errors (font-cache notices)."""
    if not os.environ.get("MPLCONFIGDIR") and not _writable(_matplotlib_default_dir()):
        folder = state_dir() / "matplotlib"
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = str(folder)
    logging.getLogger("matplotlib").setLevel(logging.ERROR)


def _matplotlib_default_dir() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "matplotlib"


def _writable(folder: Path) -> bool:
    """Whether `folder` exists or can be created, and can be written to (as matplotlib tests)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK) and folder.is_dir()
