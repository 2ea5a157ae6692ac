"""The replay exchange and the generator stay out of what production loads."""

import ast
import subprocess
import sys
import textwrap

# What the tools define, so that a module importing them by any path is found.
TOOLS = {"ReplayExchange", "generate_snapshots"}


def loaded_devtools(code: str) -> list[str]:
    """The modules holding the replay exchange or the generator after a new process ran `code`."""
    report = (
        "import sys; print(sorted(name for name, module in list(sys.modules.items())"
        f" if {TOOLS!r} & set(getattr(module, '__dict__', {{}}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + "\n" + report],
        capture_output=True,
        text=True,
        check=True,
    )
    return ast.literal_eval(done.stdout.splitlines()[-1])  # after any help the code printed


def test_loading_the_code_location_imports_neither_the_replay_nor_the_generator() -> None:
    assert loaded_devtools("from bitso_platform.definitions import defs; defs()") == []


def test_the_sampler_command_imports_neither_the_replay_nor_the_generator() -> None:
    code = """
        from bitso_platform.cli import main
        import bitso_platform.ticker.sampler
        main(["ticker", "run", "--help"], standalone_mode=False)
    """
    assert loaded_devtools(code) == []


def test_the_replay_command_lists_its_modes_without_loading_the_exchange() -> None:
    code = """
        from bitso_platform.cli import main
        main(["ticker", "replay", "--help"], standalone_mode=False)
    """
    assert loaded_devtools(code) == []
