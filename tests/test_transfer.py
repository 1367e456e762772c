"""C5's across-tasks half (descriptive): per layer group, ||delta1^G|| / ||theta0^G|| and cross-task cosines."""
import math

import pytest
import torch

from bertscape.architectures import layer_keys, layer_map_of
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.transfer import group_transfer, transfer_rows

GROUPS = {"low": [0, 0], "mid": [1, 1], "high": [2, 2]}


def test_planted_shared_and_opposite_moves_per_group(tiny_bert_dir):
    """Both tasks move the low layer by the same vector (cos 1), the mid layer by opposite ones (cos -1), the high
    layer by independent noise (cos ~ 0); A moves every group by 10 % of its norm, B the low group by 10 %."""
    theta0 = state_dict(build_model(tiny_bert_dir, 2, "finetune", 0))
    lmap = layer_map_of(load_config(tiny_bert_dir, 2))
    g = torch.Generator().manual_seed(0)
    a, b = dict(theta0), dict(theta0)
    for name, layers in GROUPS.items():
        keys = layer_keys(list(theta0), layers, lmap)
        n0 = math.sqrt(sum(float((theta0[k].double() ** 2).sum()) for k in keys))
        u = {k: torch.randn(theta0[k].shape, generator=g) for k in keys}
        v = {k: torch.randn(theta0[k].shape, generator=g) for k in keys}
        nu = math.sqrt(sum(float((x.double() ** 2).sum()) for x in u.values()))
        nv = math.sqrt(sum(float((x.double() ** 2).sum()) for x in v.values()))
        for k in keys:
            a[k] = theta0[k] + 0.1 * n0 * u[k] / nu
            other = {"low": u[k] / nu, "mid": -u[k] / nu, "high": v[k] / nv}[name]
            b[k] = theta0[k] + (0.1 if name == "low" else 0.3) * n0 * other
    table = group_transfer({"A": theta0, "B": theta0}, {"A": a, "B": b}, GROUPS, lmap)
    by = {r["group"]: r for r in table}
    assert [r["group"] for r in table] == ["low", "mid", "high"]
    assert by["low"]["cos"]["A~B"] == pytest.approx(1.0, abs=1e-5)
    assert by["mid"]["cos"]["A~B"] == pytest.approx(-1.0, abs=1e-5)
    assert abs(by["high"]["cos"]["A~B"]) < 0.05  # independent directions in ~10^4 dimensions
    assert by["low"]["relative_change"] == pytest.approx({"A": 0.1, "B": 0.1}, rel=1e-4)
    assert by["high"]["relative_change"]["B"] == pytest.approx(0.3, rel=1e-4)
    rows = transfer_rows(table)
    assert [r["holds"] for r in rows] == [None] * 3 and rows[0]["measure"] == "layer_transfer"
    unmoved = group_transfer({"A": theta0, "B": theta0}, {"A": theta0, "B": b}, GROUPS, lmap)
    assert math.isnan(unmoved[0]["cos"]["A~B"]) and unmoved[0]["relative_change"]["A"] == 0.0
