"""What `bitso generate` costs: seconds, peak memory and bytes written, per scale.

Each scale runs `bitso generate --out DIR --scale S --seed N` in a child process of its own
(into a temporary folder, deleted after), so the peak RSS is that command's alone, as a user
running it would see it (the kernel's accounting of the child, `wait4`'s ru_maxrss).

Run: .venv/bin/python bench/generate.py --scales 1 10 [--seed 1] [--defects]
"""

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from cli import BITSO  # bench/cli.py


def generate(scale: float, seed: int, defects: bool) -> tuple[float, float, int]:
    """(seconds, peak RSS MB, bytes written) of one `bitso generate` run."""
    with tempfile.TemporaryDirectory() as out:
        command = [BITSO, "generate", "--out", out]
        command += ["--scale", f"{scale:g}", "--seed", str(seed)]
        command += ["--defects"] if defects else []
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"`{' '.join(command)}` failed")
        written = sum(path.stat().st_size for path in Path(out).iterdir())
    return seconds, usage.ru_maxrss / 1024, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--defects", action="store_true", help="with --defects")
    args = parser.parse_args()
    print("| scale | seconds | peak RSS MB | written MB | peak ÷ written |")
    print("|---:|---:|---:|---:|---:|")
    for scale in args.scales:
        seconds, peak, written = generate(scale, args.seed, args.defects)
        mb = written / 2**20
        print(f"| {scale:g} | {seconds:.1f} | {peak:,.0f} | {mb:,.0f} | {peak / mb:.2f} |")


if __name__ == "__main__":
    main()
