"""The setup every notebook shares: run from the repository root, build the run's config.

A notebook opens with (the cell is collapsed in the book)::

    %matplotlib inline
    from visent.notebook import run_config, setup
    setup()

and, after its ``parameters`` cell, builds its config in one line::

    config = run_config(globals(), variant="attention-truth")

so the parameters a papermill run or ``visent sweep`` injects reach ``RunConfig`` the way the
sweep itself reads them: every parameter named like a config key is that key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visent.config import RunConfig, config_keys

__all__ = ["run_config", "setup"]


def setup() -> Path:
    """Change to the repository root when the kernel starts in ``notebooks/`` (Jupyter and nbval
    start it there), so relative paths read as on the command line; return the working folder."""
    if Path.cwd().name == "notebooks":
        os.chdir(Path.cwd().parent)
    return Path.cwd()


def run_config(namespace: Mapping[str, Any], **overrides: Any) -> RunConfig:
    """``RunConfig`` from the config keys found in ``namespace`` (a notebook's ``globals()``),
    then ``overrides``, which win. Names that are no config key (``n_images``, imported modules)
    are left out; an override that is no config key fails with ``ConfigError`` naming it."""
    values = {key: namespace[key] for key in config_keys() if key in namespace}
    return RunConfig.from_dict({**values, **overrides})
