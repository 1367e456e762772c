"""Writing figures: PNG / PDF / SVG, atomically and byte-reproducibly, with provenance in the metadata.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from ..io import atomic_path


def save_figure(fig: Figure, paths: Sequence[str | os.PathLike], provenance: Mapping | None = None,
                *, close: bool = True) -> None:
    """Write ``fig`` to each path (format from the suffix: .png, .pdf, .svg), atomically, reproducibly.

    Each file is written through :func:`bertscape.io.atomic_path`, so readers never see a partial figure. Identical figures give byte-identical files: the PNG has
    no "Software" chunk (matplotlib writes no tIME chunk), the PDF has no CreationDate (matplotlib
    would write the current time or SOURCE_DATE_EPOCH) and no Producer, the SVG no Date and a fixed
    hash salt. ``provenance`` (JSON-serialisable) is embedded as sorted-key JSON in the PNG text
    chunk "bertscape:provenance", the PDF "Subject" and the SVG "Description". With ``close`` the
    figure is also closed in pyplot in case a caller created it there (figures from this module are
    not registered with pyplot, so this frees nothing else). The figure's layout is computed once
    and then frozen (its layout engine is set to "none").
    """
    prov = None if provenance is None else json.dumps(provenance, sort_keys=True, ensure_ascii=False, default=str)
    jobs = []
    for p in paths:
        p = Path(p)
        fmt = p.suffix.lower().lstrip(".")
        if fmt == "png":
            meta = {"Software": None}
            if prov is not None:
                meta["bertscape:provenance"] = prov
        elif fmt == "pdf":
            meta = {"CreationDate": None, "Producer": None}
            if prov is not None:
                meta["Subject"] = prov
        elif fmt == "svg":
            meta = {"Date": None}
            if prov is not None:
                meta["Description"] = prov
        else:
            raise ValueError(f"save_figure: {p}: unsupported format {p.suffix!r} (use .png, .pdf or .svg)")
        jobs.append((p, fmt, meta))
    if fig.get_layout_engine() is not None and not isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # Constrained layout is re-run on every draw and starts from the previous positions, so a
        # second save (or PDF's 72 dpi text metrics) would shift the axes by a fraction of a pixel.
        # Lay out once at the figure's dpi and freeze: every format and every save then agree.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    for p, fmt, meta in jobs:
        with atomic_path(p) as tmp, open(tmp, "wb") as f, \
                matplotlib.rc_context({"svg.hashsalt": "bertscape", "pdf.compression": 6}):
            fig.savefig(f, format=fmt, dpi="figure", metadata=meta, facecolor="white", edgecolor="white")
    if close and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
