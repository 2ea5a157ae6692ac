"""Where the warehouse is: the configured URL, or the embedded server started on demand.

Kept apart from the Dagster resource so that commands that only read the warehouse (`bitso ask`)
reach it without importing Dagster.
"""

import signal
from pathlib import Path

from bitso_platform.libraries import prepare_pgserver
from bitso_platform.settings import state_dir

STOP_TIMEOUT_SECONDS = 30


def embedded_url(folder: Path) -> str:
    """URL of the embedded Postgres server kept in `folder`, starting it if needed."""
    prepare_pgserver()
    import pgserver  # imported lazily: only the embedded default needs it

    folder.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(folder, cleanup_mode=None).get_uri()


def default_folder() -> Path:
    """The embedded server's data folder under the state folder."""
    return state_dir() / "pg"


def resolved_url(url: str, embedded_dir: str = "") -> str:
    """`url`, or when it is empty the embedded server's (under the state folder by default)."""
    if url:
        return url
    return embedded_url(Path(embedded_dir) if embedded_dir else default_folder())


def stop_embedded(folder: Path) -> bool:
    """Stop the embedded server kept in `folder` and wait until it has exited; False when none
    was running. Sessions still open are disconnected (Postgres' fast shutdown)."""
    prepare_pgserver()
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(folder.resolve())
    if info is None or not info.is_running():
        return False
    info.process.send_signal(signal.SIGINT)  # SIGINT is the postmaster's fast shutdown
    info.process.wait(STOP_TIMEOUT_SECONDS)
    return True
