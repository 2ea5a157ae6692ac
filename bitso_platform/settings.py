"""Configuration: every BITSO_* variable, its default, parsed and validated (SPEC 7).

This is the only module that reads the environment, and only when `load_settings` is
called. Each field of `Settings` is the variable `BITSO_<FIELD>`; an unset or blank variable
keeps the field's default. A bad value is refused before any work starts, with an error that
names the variable, the value and what is allowed (`SettingsError`).
"""

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_STATE_DIR = ".bitso"
DEFAULT_API_URL = "https://api.bitso.com"
DEFAULT_WS_URL = "wss://ws.bitso.com"
DEFAULT_BOOKS = ("btc_mxn", "usd_mxn")
DEFAULT_THRESHOLDS = (0.1, 0.5, 1.0)
DEFAULT_SPREAD_THRESHOLDS = ",".join(f"{t:g}" for t in DEFAULT_THRESHOLDS)
DEFAULT_QUIET_SECONDS = 60
MAX_QUIET_SECONDS = 86_400
DEFAULT_PARTITIONS_START = date(2020, 1, 1)
DEFAULT_TICKER_PARTITIONS_START = datetime(2024, 7, 16, 22, 20, tzinfo=UTC)
DEFAULT_LOGIN_EVENTS = ("login",)
DEFAULT_TICKER_RETENTION_DAYS = 30
MAX_TICKER_RETENTION_DAYS = 3_650
SCHEDULE_STATUSES = ("stopped", "running")

PREFIX = "BITSO_"
SECRET_FIELDS = frozenset({"warehouse_url", "alert_webhook_url"})  # credentials in the URL

_BOOK = re.compile(r"^[a-z0-9]+_[a-z0-9]+$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
BOOKS_HELP = "give comma-separated Bitso books such as btc_mxn,usd_mxn"
THRESHOLDS_HELP = (
    "give percent thresholds as `0.1,0.5,1.0`, optionally followed by per-book lists such as "
    "`0.1,0.5,1.0;btc_mxn=0.2,2` (BITSO_SPREAD_THRESHOLDS)"
)
LOCATION_HELP = "give s3://bucket[/prefix] or a local folder"


class SettingsError(ValueError):
    """One or more BITSO_* variables hold a value that is not allowed."""


def parse_books(text: str) -> tuple[str, ...]:
    """Books from a comma-separated list such as `btc_mxn,usd_mxn`, validated and de-duplicated."""
    books = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    if not books or any(not _BOOK.match(book) for book in books):
        raise ValueError(BOOKS_HELP)
    return books


def parse_thresholds(text: str) -> tuple[tuple[float, ...] | None, dict[str, tuple[float, ...]]]:
    """`DEFAULTS[;BOOK=LIST]...` as (the default list or None, the per-book lists).

    E.g. `0.1,0.5,1.0;btc_mxn=0.2,2`; every segment must hold a list.
    """
    default: tuple[float, ...] | None = None
    per_book: dict[str, tuple[float, ...]] = {}
    for segment in (s.strip() for s in text.split(";")):
        book, sep, values = segment.rpartition("=")
        book = book.strip().lower()
        if not segment:
            raise ValueError(f"empty segment in {text!r}: {THRESHOLDS_HELP}")
        if not sep:
            if default is not None:
                raise ValueError(f"two default threshold lists in {text!r}: {THRESHOLDS_HELP}")
            default = _percent_list(values, text)
        elif not _BOOK.match(book) or book in per_book:
            raise ValueError(f"bad or repeated book {book!r} in {text!r}: {THRESHOLDS_HELP}")
        else:
            per_book[book] = _percent_list(values, text)
    return default, per_book


def _percent_list(values: str, text: str) -> tuple[float, ...]:
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise ValueError(
            f"{values!r} in {text!r} is not a list of numbers: {THRESHOLDS_HELP}"
        ) from None
    if not numbers or any(not math.isfinite(n) or n <= 0 for n in numbers):
        raise ValueError(f"thresholds must be positive percents, got {values!r}: {THRESHOLDS_HELP}")
    return tuple(sorted(set(numbers)))


def parse_location(text: str) -> str:
    """`s3://bucket[/prefix]` or a local folder (existing or creatable), as given."""
    if text.startswith("s3://"):
        bucket = text.removeprefix("s3://").partition("/")[0]
        if not _S3_BUCKET.match(bucket):
            raise ValueError(f"{bucket!r} is not an S3 bucket name: {LOCATION_HELP}")
        return text
    if _SCHEME.match(text):
        raise ValueError(f"only s3:// URLs are supported: {LOCATION_HELP}")
    _creatable_folder(Path(text).expanduser(), LOCATION_HELP)
    return text


def _creatable_folder(path: Path, allowed: str) -> Path:
    """`path`, when it is a folder or could be created as one: its first existing ancestor
    must be a folder (e.g. `/dev/null/lake` cannot be)."""
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{existing} is a file, not a folder: {allowed}")
    return path


def parse_state_dir(text: str) -> Path:
    allowed = "give a local folder"
    if _SCHEME.match(text):
        raise ValueError(f"not a local path: {allowed}")
    return _creatable_folder(Path(text).expanduser(), allowed).resolve()


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    """A parser of URLs with one of `schemes` and a host; a trailing `/` is kept as given."""

    def parse(text: str) -> str:
        allowed = " or ".join(f"{s}://HOST[:PORT]/…" for s in schemes)
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number 0..65535
        except ValueError:
            raise ValueError(f"not a URL: give {allowed}") from None
        if parts.scheme.lower() not in schemes or not parts.hostname:
            raise ValueError(f"give {allowed}")
        return text

    return parse


def parse_postgres_url(text: str) -> str:
    """A libpq connection string: `postgresql://…` or `host=… dbname=…`."""
    import psycopg  # lazily: only a configured warehouse needs it

    try:
        psycopg.conninfo.conninfo_to_dict(text)
    except psycopg.ProgrammingError:
        # libpq's message may quote the password: it is not repeated
        raise ValueError(
            "give a Postgres URL postgresql://USER@HOST[:PORT]/DATABASE "
            "or a libpq string such as `host=HOST dbname=DATABASE`"
        ) from None
    return text


def parse_quiet_seconds(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_QUIET_SECONDS:
        raise ValueError(f"give a whole number of seconds from 0 to {MAX_QUIET_SECONDS}")
    return int(text)


def parse_retention_days(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TICKER_RETENTION_DAYS:
        raise ValueError(f"give a whole number of days from 1 to {MAX_TICKER_RETENTION_DAYS}")
    return int(text)


def parse_schedule_status(text: str) -> str:
    status = text.lower()
    if status not in SCHEDULE_STATUSES:
        raise ValueError(f"give {' or '.join(SCHEDULE_STATUSES)}")
    return status


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a day: set it like 2020-01-01") from None


def parse_window_start(text: str) -> datetime:
    """A UTC time on a 10-minute boundary (naive times are UTC)."""
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a time: set it like 2024-07-16T22:20") from None
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start.minute % 10 or start.second or start.microsecond:
        raise ValueError("not on a 10-minute boundary: use a time such as 2024-07-16T22:20")
    return start


def parse_names(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise ValueError("no event name: give comma-separated event names such as login")
    return names


def _thresholds_text(text: str) -> str:
    parse_thresholds(text)
    return text


@dataclass(frozen=True)
class Settings:
    """The platform's configuration; the field `x` is the variable `BITSO_X`."""

    state_dir: Path = field(default_factory=lambda: Path(DEFAULT_STATE_DIR).resolve())
    warehouse_url: str = ""  # empty: the embedded server under the state folder
    lake_url: str = ""  # empty: the `lake` folder under the state folder
    snapshots_url: str = ""  # empty: the demo data folder under the state folder
    s3_endpoint_url: str = ""  # empty: AWS
    api_url: str = DEFAULT_API_URL
    ws_url: str = DEFAULT_WS_URL
    books: tuple[str, ...] = DEFAULT_BOOKS
    spread_thresholds: str = DEFAULT_SPREAD_THRESHOLDS
    alert_webhook_url: str = ""  # empty: log and Postgres only
    alert_quiet_seconds: int = DEFAULT_QUIET_SECONDS
    partitions_start: date = DEFAULT_PARTITIONS_START
    ticker_partitions_start: datetime = DEFAULT_TICKER_PARTITIONS_START
    # days of observations kept in Postgres before the day, once proven in the lake, is dropped
    ticker_retention_days: int = DEFAULT_TICKER_RETENTION_DAYS
    # the window schedule's status until toggled in the UI: `running` where a sampler is
    # deployed (compose), `stopped` in local development, where no sampler runs by default
    ticker_windows_schedule: str = "stopped"
    login_events: tuple[str, ...] = DEFAULT_LOGIN_EVENTS
    set_variables: frozenset[str] = frozenset()  # the BITSO_* names that were set

    def is_set(self, field_name: str) -> bool:
        return variable(field_name) in self.set_variables


PARSERS: dict[str, Callable[[str], Any]] = {
    "state_dir": parse_state_dir,
    "warehouse_url": parse_postgres_url,
    "lake_url": parse_location,
    "snapshots_url": parse_location,
    "s3_endpoint_url": _url(("http", "https")),
    "api_url": _url(("http", "https")),
    "ws_url": _url(("ws", "wss")),
    "books": parse_books,
    "spread_thresholds": _thresholds_text,
    "alert_webhook_url": _url(("https", "http")),
    "alert_quiet_seconds": parse_quiet_seconds,
    "partitions_start": parse_day,
    "ticker_partitions_start": parse_window_start,
    "ticker_retention_days": parse_retention_days,
    "ticker_windows_schedule": parse_schedule_status,
    "login_events": parse_names,
}


def variable(field_name: str) -> str:
    """The environment variable of a settings field."""
    return PREFIX + field_name.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of `environ` (default: this process's environment), all validated.

    Raises SettingsError listing every refused variable.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name in (f.name for f in fields(Settings) if f.name in PARSERS):
        text = environ.get(variable(name), "").strip()
        if not text:
            continue
        try:
            values[name] = parse_setting(name, text)
        except SettingsError as exc:
            errors.append(str(exc))
    if errors:
        raise SettingsError("; ".join(errors))
    return Settings(**values, set_variables=frozenset(map(variable, values)))


def parse_setting(name: str, text: str) -> Any:
    """The value of field `name` given as `text`; SettingsError names the variable."""
    try:
        return PARSERS[name](text)
    except ValueError as exc:
        raise SettingsError(f"{variable(name)}={_shown(name, text)} is refused: {exc}") from None


def _shown(name: str, text: str) -> str:
    """The value as an error may print it: a secret-bearing URL only as scheme and host."""
    if name not in SECRET_FIELDS:
        return repr(text)
    hidden = "'…' (hidden: it may hold a secret)"
    try:
        parts = urlsplit(text)
        return f"'{parts.scheme}://{parts.hostname}/…'" if parts.hostname else hidden
    except ValueError:
        return hidden


def state_dir() -> Path:
    """Folder for local state: embedded Postgres, local lake, demo data, Dagster home."""
    return load_settings().state_dir
