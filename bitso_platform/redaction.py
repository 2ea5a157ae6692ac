"""Secrets out of whatever is printed or stored: logs, error messages, metadata, tables.

Two kinds of URL carry a credential: a database URL its password, and a webhook URL its
path (for Slack, `https://hooks.slack.com/services/T…/B…/…` is the credential itself).
Libraries quote the URLs they were given in their messages (libpq echoes a conninfo string it
cannot parse, httpx names the URL of a failed request and logs every request's URL at INFO),
so text is scrubbed of each secret of the URLs in play before it leaves our code.
"""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

REDACTED = "***"
_PASSWORD_PARAMETER = re.compile(r"password\s*=\s*([^\s&]+)", re.IGNORECASE)


def _secrets(url: str) -> list[tuple[str, str]]:
    """(secret, replacement) pairs of `url`, longest first."""
    found = [(match, REDACTED) for match in _PASSWORD_PARAMETER.findall(url)]
    parts = urlsplit(url.strip())
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        password = userinfo.partition(":")[2]
        found += [(password, REDACTED), (unquote(password), REDACTED)]
    if parts.scheme in ("http", "https", "ws", "wss"):
        path = url.strip()[len(f"{parts.scheme}://{parts.netloc}") :]
        if path.strip("/"):
            found.append((path, f"/{REDACTED}"))
    return sorted({pair for pair in found if pair[0]}, key=lambda pair: -len(pair[0]))


def scrub(text: str, *urls: str) -> str:
    """`text` with every secret of `urls` replaced by `***`."""
    for url in urls:
        for secret, replacement in _secrets(url):
            text = text.replace(secret, replacement)
    return text


def redact_url(url: str) -> str:
    """`url` fit to print, e.g. `postgresql://bitso:***@postgres/warehouse` or
    `https://hooks.slack.com/***`."""
    return scrub(url, url)


@contextmanager
def errors_scrubbed(*urls: str) -> Iterator[None]:
    """Re-raise an exception whose message quotes a secret of `urls` as the same type with the
    secret scrubbed, without the original attached (tracebacks print chained exceptions).

    For exceptions built from a message alone, such as psycopg's.
    """
    try:
        yield
    except Exception as exc:
        message = str(exc)
        clean = scrub(message, *urls)
        if clean == message:
            raise
        raise type(exc)(clean) from None


class SecretsFilter(logging.Filter):
    """A logger filter that scrubs the secrets of its URLs from each record's message."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, *self.urls)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_HTTP_LOG_FILTER = SecretsFilter()


def hide_from_http_logs(url: str) -> None:
    """Scrub `url`'s secrets from httpx's own log lines (one INFO line per request)."""
    _HTTP_LOG_FILTER.urls.add(url)
    logger = logging.getLogger("httpx")
    if _HTTP_LOG_FILTER not in logger.filters:
        logger.addFilter(_HTTP_LOG_FILTER)
