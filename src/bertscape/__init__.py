"""bertscape: loss landscapes of BERT fine-tuning vs training from scratch (Hao et al., 2019)."""

__version__ = "0.1.0"


class BertscapeError(Exception):
    """A user-facing error: printed as one line, never as a traceback."""
