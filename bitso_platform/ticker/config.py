"""What the sampler needs to know about the exchange: endpoints, books and the REST budget."""

from dataclasses import dataclass

from bitso_platform.settings import DEFAULT_API_URL, DEFAULT_BOOKS, DEFAULT_WS_URL, Settings

DEFAULT_REST_BUDGET_PER_MINUTE = 30  # what ccxt uses for Bitso: one request every 2 s
EXCHANGE_REST_LIMIT_PER_MINUTE = 60  # Bitso's public limit per IP; exceeding it locks us out


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
    def of(
        cls, settings: Settings, *, rest_budget_per_minute: int = DEFAULT_REST_BUDGET_PER_MINUTE
    ) -> "ExchangeSettings":
        """The exchange part of the platform's settings: BITSO_API_URL, BITSO_WS_URL and
        BITSO_BOOKS."""
        return cls(
            api_url=settings.api_url.rstrip("/"),
            ws_url=settings.ws_url,
            books=settings.books,
            rest_budget_per_minute=rest_budget_per_minute,
        )
