"""3D views (plotly pages) and VTK export of surfaces, from synthetic landscapes."""
from __future__ import annotations

import numpy as np
import pytest
from test_plots import STYLE, layer_surface, surface

from bertscape.figures import scales
from bertscape.figures.style import resolve_style
from bertscape.views import make_view, view_html
from bertscape.vtk import read_vtk, vtk_bytes, write_vtk

pytest.importorskip("plotly")


def _surfaces(fig):
    return [t for t in fig.data if t.type == "surface"]


def test_surface_view_has_every_surface_twice_with_the_2d_colour_scales():
    exact = {"start": {"alpha": 0.0, "beta": 0.0, "train_loss": 0.7}, "end": {"alpha": 1.0, "beta": 0.0, "train_loss": 0.5}}
    grids = [surface("finetune", "MRPC", anchors=exact), surface("scratch", "MRPC", nonfinite=True),
             surface("finetune", "RTE")]
    fig = make_view("surfaces", grids, STYLE)
    surfs = _surfaces(fig)
    assert len(surfs) == 6 and [s.visible for s in surfs].count(True) == 1  # 3 x (train loss, dev error)
    assert len(fig.layout.updatemenus[0].buttons) == 6
    by = {s.name: s for s in surfs}
    ft, sc = by["MRPC (fine-tune): training loss (Figure 1)"], by["MRPC (scratch): training loss (Figure 1)"]
    assert (ft.cmin, ft.cmax) == (sc.cmin, sc.cmax)  # one scale per task, as a column of Figure 1
    scale = scales.scale([(g.values["train_loss"], g.done) for g in grids[:2]], "train_loss", resolve_style(STYLE))
    f = np.log10 if scale.log else (lambda x: x)
    assert np.isclose(ft.cmin, f(scale.lo)) and np.isclose(ft.cmax, f(scale.hi))
    rte = by["RTE (fine-tune): training loss (Figure 1)"]
    assert (rte.cmin, rte.cmax) != (ft.cmin, ft.cmax)
    err = by["MRPC (fine-tune): generalization error (dev, 1 − acc) (Figure 6)"]
    assert err.cmax <= 1.0 and not np.isclose(err.cmax, ft.cmax)
    # anchors as in the 2D figures: start (0, 0), end (1, 0); non-finite nodes are marked
    marks = [t for t in fig.data if t.type == "scatter3d"]
    assert {(t.x[-1], t.y[-1], t.marker.symbol[-1]) for t in marks if t.name.startswith(("start", "end"))} \
        == {(0.0, 0.0, "circle"), (1.0, 0.0, "diamond")}
    end = fig.data[[t.name for t in fig.data].index(ft.name) + 2]  # the fine-tune surface's end marker
    assert end.name.startswith("end") and np.isclose(end.z[0], f(0.5))  # its stem starts at the anchor's exact value
    assert end.z[1] > end.z[0]
    assert sorted(len(t.x) for t in marks if "non-finite" in t.name) == [1, 5]  # dev error 1 NaN; loss 3 NaN + 2 Inf


def test_layer_view_and_page_is_self_contained_and_reproducible():
    grids = [layer_surface("MRPC", g, l) for g, l in (("high", [4, 5]), ("low", [0, 1]), ("mid", [2, 3]))]
    fig = make_view("layers", grids, STYLE)
    assert [s.name for s in _surfaces(fig)] == ["MRPC: low layers 0–1", "MRPC: middle layers 2–3", "MRPC: high layers 4–5"]
    assert {(t.x[-1], t.marker.symbol[-1]) for t in fig.data if t.type == "scatter3d"} == {(0.0, "circle"), (-1.0, "diamond")}
    html = view_html(fig)
    assert html == view_html(make_view("layers", grids, STYLE))  # byte-reproducible
    assert len(html) > 3_000_000 and "<script src=" not in html  # plotly.js embedded: opens offline
    with pytest.raises(ValueError, match="unknown view"):
        make_view("curves", grids, STYLE)


def test_vtk_structured_grid_round_trips_with_alpha_fastest(tmp_path):
    g = surface("scratch", "MRPC", nonfinite=True, n=np.linspace(-2, 2, 5))
    path = tmp_path / "s.vtk"
    write_vtk(path, g)
    dims, pts, arrays = read_vtk(path)
    a, b, loss = g.alpha, g.beta, g.values["train_loss"]
    assert dims == (5, 5) and pts.shape == (25, 3)
    i, j = 3, 1  # point index j * A + i holds (alpha_i, beta_j)
    assert tuple(pts[j * 5 + i, :2]) == (a[i], b[j]) and pts[j * 5 + i, 2] == loss[i, j]
    assert set(arrays) == {"train_loss", "train_acc", "dev_loss", "dev_error", "finite"}
    np.testing.assert_array_equal(arrays["dev_error"], g.values["dev_error"].T.ravel())  # NaN kept in the data
    assert np.isfinite(pts).all() and arrays["finite"].sum() == np.isfinite(loss).sum()
    assert open(path, "rb").read(80).startswith(b"# vtk DataFile Version 3.0\nbertscape surface MRPC scratch")
    with pytest.raises(ValueError, match="shape"):
        vtk_bytes(a, b, {"train_loss": loss[:, :3]}, "train_loss", "x")
