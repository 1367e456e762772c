"""Issue 25's figures: the 2D filter-normalised surfaces beside Figure 1, and directions.kind filter_normalized,
which draws Figures 1 and 5 on filter-normalised axes (theta1 at the centre, no theta0)."""
import copy
import json

import numpy as np
import pytest
import yaml
from conftest import REPO

from bertscape import BertscapeError
from bertscape.config import validate
from bertscape.figures.inputs import make_figure
from bertscape.filternorm import lattice_local_width
from bertscape.h5io import Grid, write_grid

INITS = ("finetune", "scratch")


def surfaces(tmp_path) -> list[str]:
    axis, paths = np.linspace(-0.4, 0.4, 9), []
    a, b = np.meshgrid(axis, axis, indexing="ij")
    for k, init in enumerate(INITS):
        loss = 0.1 + (1 + 3 * k) * (a ** 2 + 2 * b ** 2)
        lw = lattice_local_width(axis, axis, loss, 0.1, 0.1)
        g = Grid("surface", axis, axis.copy(), {"train_loss": loss}, np.ones(loss.shape, bool),
                 {"end": {"alpha": 0.0, "beta": 0.0, "train_loss": 0.1}},
                 {"directions": "filter_normalized", "task": "MRPC", "init": init, "local_width": lw["radius"],
                  "local_width_censored": lw["censored"]})
        paths.append(str(tmp_path / f"{init}.h5"))
        write_grid(paths[-1], g)
    return paths


def curves(tmp_path, seed: int) -> list[str]:
    alpha, paths = np.linspace(-0.4, 0.4, 17), []
    for k, init in enumerate(INITS):
        loss = [(0.1 + (1 + 3 * k + j) * alpha ** 2).tolist() for j in range(3)]
        d = {"task": "MRPC", "init": init, "alpha": alpha.tolist(), "f_theta1": 0.1,
             "directions": [{"seed": 1000 * seed + j, "loss": loss[j]} for j in range(3)]}
        paths.append(str(tmp_path / f"{seed}-{init}.json"))
        (tmp_path / f"{seed}-{init}.json").write_text(json.dumps(d))
    return paths


def test_figure_1_on_filter_normalised_axes_names_each_panel_s_local_width(tmp_path):
    paths = surfaces(tmp_path)
    for fig in ("fig1_filter_surfaces", "fig1_train_loss_surfaces"):  # the latter: directions.kind filter_normalized
        f = make_figure(fig, paths, {"dpi": 40}, [["MRPC", i] for i in INITS])
        assert "random filter-" in f._suptitle.get_text()
        titles = [ax.get_title() for ax in f.axes if ax.get_title()]
        assert any(t.startswith("MRPC (fine-tune), r = 0.") for t in titles), titles
        drawn = [ax for ax in f.axes if ax.get_title().startswith("MRPC")]
        assert len(drawn) == 2 and all(ax.collections for ax in drawn)  # both panels have their contours


def test_figure_5_on_filter_normalised_axes_draws_direction_0_with_theta1_at_0(tmp_path):
    paths = curves(tmp_path, 7) + curves(tmp_path, 8)
    keys = [["MRPC", i, s] for s in (7, 8) for i in INITS]
    f = make_figure("fig5_curves", paths, {"dpi": 40}, keys, 7)
    ax = f.axes[0]
    assert "filter-normalised" in ax.get_xlabel() and "theta_1" in ax.get_ylabel()
    ys = [line.get_ydata() for line in ax.get_lines() if len(line.get_xdata()) == 17]
    want = (0.1 + np.linspace(-0.4, 0.4, 17) ** 2) / 0.1  # fine-tune, direction 0, over f(theta1)
    assert any(np.allclose(y, want) for y in ys)


def test_filter_normalised_axes_need_the_surface():
    c = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    ok = copy.deepcopy(c)
    ok["directions"] = {"kind": "filter_normalized"}
    assert validate(ok)["directions"]["kind"] == "filter_normalized"
    for fd, key in (({"surface_points": 0}, "directions.kind"), ({"enabled": False}, "directions.kind"),
                    ({"points": 16}, "flatness.filter_directions.points"),
                    ({"surface_points": 8}, "flatness.filter_directions.surface_points"),
                    ({"radii": [0.5]}, "flatness.filter_directions.radii")):
        bad = copy.deepcopy(ok)
        bad["flatness"] = {"filter_directions": fd}
        with pytest.raises(BertscapeError) as e:
            validate(bad)
        assert str(e.value).startswith(f"config key {key}:") and "\n" not in str(e.value)
