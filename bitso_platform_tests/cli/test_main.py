"""The `bitso` group: it lists every command without importing any of them."""

import subprocess
import sys
import textwrap

from click.testing import CliRunner

from bitso_platform.cli import COMMANDS, main


def test_help_lists_each_command_with_the_short_help_of_the_command_itself() -> None:
    for name, (_, short_help) in COMMANDS.items():
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1_000) == short_help, name
    listed = CliRunner().invoke(main, ["--help"]).output
    assert [line.split()[0] for line in listed.split("Commands:\n")[1].splitlines()] == sorted(
        COMMANDS
    )


def test_help_imports_no_command_module_nor_the_database_driver() -> None:
    script = textwrap.dedent("""
        import sys
        from bitso_platform.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        heavy = ("dagster", "pandas", "numpy", "psycopg", "bitso_platform.cli.ask")
        print("imported:", sorted(m for m in heavy if m in sys.modules))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "Commands:" in result.stdout
    assert result.stdout.splitlines()[-1] == "imported: []", result.stderr


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["asks"])
    assert result.exit_code == 2
    assert "No such command 'asks'" in result.output
