"""The code location: every Dagster object under `defs/`, found by the defs-folder loader."""

import warnings
from pathlib import Path

import dagster as dg

from bitso_platform import defs as defs_folder


@dg.definitions
def defs() -> dg.Definitions:
    # Built from the package, not from the project file (pyproject.toml [tool.dg]) that
    # `dg.load_from_defs_folder` looks for: an installed wheel has no project file.
    tree = dg.ComponentTree.from_module(
        defs_module=defs_folder,
        project_root=Path(__file__).parent,
    )
    # The beta and preview APIs used here (single-run backfills, partitioned checks, the
    # defs-folder loader) are chosen knowingly; their notices would print on every command.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return tree.build_defs()
