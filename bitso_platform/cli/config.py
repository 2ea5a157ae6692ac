"""The settings a command runs with, validated once before the command starts."""

import click

from bitso_platform.settings import Settings, SettingsError, load_settings


class ConfigurationError(click.ClickException):
    """A refused BITSO_* value: one line naming the variable, the value and what is allowed."""

    exit_code = 2


def current_settings() -> Settings:
    """The settings of this invocation, loaded (and validated) by its first caller.

    The `bitso` group calls it before any subcommand runs, so a bad value stops the command
    before it does any work.
    """
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    if root is not None and isinstance(root.obj, Settings):
        return root.obj
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from None
    if root is not None:
        root.obj = settings
    return settings
