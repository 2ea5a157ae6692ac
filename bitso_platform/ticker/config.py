"""Exchange endpoints and books, with the SPEC 7 defaults."""

import re
from dataclasses import dataclass

from bitso_platform.settings import DEFAULT_BOOKS, env

DEFAULT_API_URL = "https://api.bitso.com"
DEFAULT_WS_URL = "wss://ws.bitso.com"
DEFAULT_REST_BUDGET_PER_MINUTE = 30  # what ccxt uses for Bitso: one request every 2 s
EXCHANGE_REST_LIMIT_PER_MINUTE = 60  # Bitso's public limit per IP; exceeding it locks us out

_BOOK = re.compile(r"^[a-z0-9]+_[a-z0-9]+$")


def parse_books(text: str) -> tuple[str, ...]:
    """Books from a comma-separated list such as `btc_mxn,usd_mxn`, validated and de-duplicated."""
    books = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    bad = [book for book in books if not _BOOK.match(book)]
    if bad or not books:
        raise ValueError(
            f"invalid book list {text!r}: give comma-separated Bitso books such as "
            "btc_mxn,usd_mxn (BITSO_BOOKS)"
        )
    return books


@dataclass(frozen=True)
class ExchangeSettings:
    """Where the sampler reads market data and how many REST requests it may spend."""

    api_url: str = DEFAULT_API_URL
    ws_url: str = DEFAULT_WS_URL
    books: tuple[str, ...] = DEFAULT_BOOKS
    rest_budget_per_minute: int = DEFAULT_REST_BUDGET_PER_MINUTE

    def __post_init__(self) -> None:
        if not 1 <= self.rest_budget_per_minute <= EXCHANGE_REST_LIMIT_PER_MINUTE:
            raise ValueError(
                f"rest_budget_per_minute={self.rest_budget_per_minute} is outside 1..60: "
                "Bitso locks out clients above 60 public requests per minute"
            )

    @classmethod
    def from_env(cls) -> "ExchangeSettings":
        """Settings from BITSO_API_URL, BITSO_WS_URL and BITSO_BOOKS (SPEC 7)."""
        return cls(
            api_url=env("BITSO_API_URL", DEFAULT_API_URL).rstrip("/"),
            ws_url=env("BITSO_WS_URL", DEFAULT_WS_URL),
            books=parse_books(env("BITSO_BOOKS", ",".join(DEFAULT_BOOKS))),
        )
