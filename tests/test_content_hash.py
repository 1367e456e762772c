"""Content hashes ignore the provenance record (times, hosts) and nothing else."""
import json

import numpy as np
import torch

from bertscape.figures.save import save_figure
from bertscape.figures.surfaces import fig_surfaces
from bertscape.h5io import Grid, write_grid
from bertscape.io import save_tensors
from bertscape.provenance import content_hash, sha256_file
from test_plots import STYLE, surfaces

RUN1 = {"rule": "x", "started": "2026-01-01T00:00:00Z", "host": "a"}
RUN2 = {"rule": "x", "started": "2026-11-22T07:01:02Z", "host": "node-042.cluster", "slurm_job_id": "123"}


def grid(v=1.0, prov=None):
    a = np.linspace(-1, 1, 3)
    return Grid("surface", a, a.copy(), {"train_loss": np.full((3, 3), v)}, np.ones((3, 3), bool),
                {"end": {"alpha": 1.0, "beta": 0.0, "train_loss": v}}, {"task": "MRPC", "provenance": prov})


def check(tmp_path, ext, write, changed):
    a, b, c = (tmp_path / f"{n}.{ext}" for n in "abc")
    write(a, RUN1)
    write(b, RUN2)
    changed(c)
    assert sha256_file(a, cached=False) != sha256_file(b, cached=False)  # the records differ, so the bytes do
    assert content_hash(a) == content_hash(b) != content_hash(c)


def test_hdf5(tmp_path):
    check(tmp_path, "h5", lambda p, r: write_grid(p, grid(prov=r)), lambda p: write_grid(p, grid(1.5, RUN1)))


def test_safetensors(tmp_path):
    t = {"w": torch.arange(6.0).reshape(2, 3)}
    check(tmp_path, "safetensors", lambda p, r: save_tensors(p, t, {"provenance": r, "epoch": 1}),
          lambda p: save_tensors(p, {"w": t["w"] + 1}, {"provenance": RUN1, "epoch": 1}))


def test_json(tmp_path):
    doc = {"cos": 0.1, "task": "MRPC"}
    check(tmp_path, "json", lambda p, r: p.write_text(json.dumps({**doc, "provenance": r})),
          lambda p: p.write_text(json.dumps({**doc, "cos": 0.2, "provenance": RUN1})))


def test_png_and_pdf(tmp_path):
    fig = fig_surfaces(surfaces(("MRPC",)), "train_loss", STYLE)
    other = fig_surfaces(surfaces(("RTE",)), "train_loss", STYLE)
    for ext in ("png", "pdf"):
        check(tmp_path, ext, lambda p, r: save_figure(fig, [p], r), lambda p: save_figure(other, [p], RUN1))
