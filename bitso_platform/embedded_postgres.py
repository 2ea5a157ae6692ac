"""Where the warehouse is: the configured URL, or the embedded server started on demand.

Kept apart from the Dagster resource so that commands that only read the warehouse (`bitso ask`)
reach it without importing Dagster.
"""

from pathlib import Path

from bitso_platform.settings import state_dir


def embedded_url(folder: Path) -> str:
    """URL of the embedded Postgres server kept in `folder`, starting it if needed."""
    import pgserver  # imported lazily: only the embedded default needs it

    folder.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(folder, cleanup_mode=None).get_uri()


def resolved_url(url: str, embedded_dir: str = "") -> str:
    """`url`, or when it is empty the embedded server's (under the state folder by default)."""
    if url:
        return url
    return embedded_url(Path(embedded_dir) if embedded_dir else state_dir() / "pg")
