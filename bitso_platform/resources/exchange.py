"""The Bitso exchange: public market-data endpoints, books to sample and the REST budget."""

import dagster as dg
from pydantic import Field

from bitso_platform.settings import DEFAULT_API_URL, DEFAULT_BOOKS, DEFAULT_WS_URL, parse_setting
from bitso_platform.ticker.config import DEFAULT_REST_BUDGET_PER_MINUTE, ExchangeSettings


class BitsoExchange(dg.ConfigurableResource):
    """Bitso public API (or a replay exchange on loopback) for the order-book sampler."""

    api_url: str = Field(default=DEFAULT_API_URL, description="REST base URL (BITSO_API_URL)")
    ws_url: str = Field(default=DEFAULT_WS_URL, description="WebSocket URL (BITSO_WS_URL)")
    books: str = Field(
        default=",".join(DEFAULT_BOOKS), description="Comma-separated books (BITSO_BOOKS)"
    )
    rest_budget_per_minute: int = Field(
        default=DEFAULT_REST_BUDGET_PER_MINUTE,
        ge=1,
        le=60,
        description="REST requests the fallback may send in any rolling minute (Bitso allows 60)",
    )

    def book_list(self) -> tuple[str, ...]:
        return parse_setting("books", self.books)

    def settings(self) -> ExchangeSettings:
        """The plain settings the sampler and its clients take."""
        return ExchangeSettings(
            api_url=self.api_url.rstrip("/"),
            ws_url=self.ws_url,
            books=self.book_list(),
            rest_budget_per_minute=self.rest_budget_per_minute,
        )
