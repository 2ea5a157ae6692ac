"""The package as it is deployed: the wheel built from this tree, installed with the locked
dependency versions into a fresh virtual environment."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).parent / "uv"


def uv(*arguments: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(UV), *arguments], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(arguments)} failed:\n{done.stderr}")
    return done.stdout


def build_wheel(out: Path) -> Path:
    """The wheel of this source tree, built into `out`."""
    uv("build", "--wheel", "--out-dir", str(out), str(ROOT))
    (wheel,) = out.glob("bitso_platform-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A new virtual environment at `venv` holding `wheel` and its locked runtime
    dependencies (uv.lock, no dev extras); returns its bin directory."""
    requirements = venv.parent / "requirements.txt"
    uv("export", "--frozen", "--no-dev", "--no-emit-project", "--output-file", str(requirements))
    uv("venv", "--python", sys.executable, str(venv))
    uv(
        "pip",
        "install",
        "--compile-bytecode",
        "--python",
        str(venv),
        "-r",
        str(requirements),
        str(wheel),
    )
    return venv / "bin"
