"""bertscape: loss landscapes of BERT fine-tuning vs training from scratch (Hao et al., 2019)."""

import os

__version__ = "0.1.0"


class BertscapeError(Exception):
    """A user-facing error: printed as one line, never as a traceback."""


def on_pythonpath(directory) -> None:
    """Put ``directory`` first on PYTHONPATH, so every job the workflow starts (locally, in a conda env, or
    under SLURM, which passes the environment on) imports this copy of the library."""
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(directory)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(directory), *rest])
