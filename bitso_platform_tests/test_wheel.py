"""The wheel users install: every SQL file inside, no tests, SQL found from any directory."""

import subprocess
import zipfile
from pathlib import Path

from bitso_platform_tests.wheel import ROOT

SQL = sorted(path.relative_to(ROOT / "sql").as_posix() for path in (ROOT / "sql").rglob("*.sql"))


def test_the_wheel_holds_every_sql_file_of_the_source_tree_and_no_test_module(
    wheel: Path,
) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packaged = sorted(
        name.removeprefix("bitso_platform/sql_files/")
        for name in names
        if name.startswith("bitso_platform/sql_files/")
    )

    assert SQL and packaged == SQL
    assert [name for name in names if name.startswith("bitso_platform_tests")] == []


def test_the_installed_package_loads_every_sql_file_from_a_directory_outside_the_repository(
    installed_bin: Path, tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "import bitso_platform\n"
        "from bitso_platform.sql import load_sql\n"
        "print(bitso_platform.__file__)\n"
        "for name in sys.argv[1:]:\n"
        "    sys.stdout.write(load_sql(name.removesuffix('.sql')))\n"
    )
    done = subprocess.run(
        [str(installed_bin / "python"), "-c", script, *SQL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    package, texts = done.stdout.split("\n", 1)
    assert "site-packages" in package and not package.startswith(str(ROOT))
    assert texts == "".join((ROOT / "sql" / name).read_text() for name in SQL)
