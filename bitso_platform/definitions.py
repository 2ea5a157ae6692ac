"""The code location: every Dagster object under `defs/`, found by the defs-folder loader."""

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
    return tree.build_defs()
