"""Business definitions the core model applies (SPEC 3)."""

import dagster as dg
from pydantic import Field

from bitso_platform.settings import DEFAULT_LOGIN_EVENTS, parse_setting


class ModelSettings(dg.ConfigurableResource):
    """Which event names count as logins (BITSO_LOGIN_EVENTS, comma separated)."""

    login_events: str = Field(
        default=",".join(DEFAULT_LOGIN_EVENTS), description="Event names that are logins"
    )

    def login_event_names(self) -> list[str]:
        return list(parse_setting("login_events", self.login_events))
