"""Business definitions the core model applies (SPEC 3)."""

import dagster as dg
from pydantic import Field


class ModelSettings(dg.ConfigurableResource):
    """Which event names count as logins (BITSO_LOGIN_EVENTS, comma separated)."""

    login_events: str = Field(default="login", description="Event names that are logins")

    def login_event_names(self) -> list[str]:
        names = [n.strip() for n in self.login_events.split(",") if n.strip()]
        if not names:
            raise ValueError("BITSO_LOGIN_EVENTS names no event; set it to e.g. 'login'")
        return names
