"""Filter-normalised directions (Li et al. 2018): every row of every matrix has theta1's row norm, vectors are
zeroed, the draw is seeded; the 1D curve along one is the model's own loss at theta1 + a d; width and rises."""
import numpy as np
import pytest
import torch

from bertscape.batches import make_batches
from bertscape.directions import encoder_keys
from bertscape.filternorm import (along, curve_measures, filter_curves, filter_normalized, filter_surface,
                                  lattice_local_width, local_width, row_norms)
from bertscape.modeling import batch_inputs, build_model, encoder_prefix, load_config, state_dict
from bertscape.metrics import task_loss
from conftest import random_data


@pytest.fixture(scope="module")
def setup(tiny_bert_dir):
    model = build_model(tiny_bert_dir, 2, "finetune", seed=0).eval()
    theta1 = state_dict(model)
    keys = encoder_keys(theta1, encoder_prefix(theta1))
    data = random_data(10, 120, 16, 2, seed=1)
    return model, theta1, keys, make_batches(data, torch.arange(10), "train", 64)


def test_rows_have_theta1s_norms_and_vectors_are_zero(setup):
    _, theta1, keys, _ = setup
    d = filter_normalized(theta1, keys, seed=3)
    assert sorted(d) == sorted(keys)
    matrices = [k for k in keys if theta1[k].dim() >= 2]
    assert "bert.embeddings.word_embeddings.weight" in matrices and any("query.weight" in k for k in matrices)
    want, got = row_norms({k: theta1[k] for k in keys}), row_norms(d)
    for k in matrices:
        assert torch.allclose(got[k], want[k], rtol=1e-5, atol=1e-7), k
        unit = want[k][:, None].clamp_min(1e-12)
        assert not torch.allclose(d[k] / unit, theta1[k] / unit)  # the rows' norms, not theta1's rows
    for k in keys:
        if theta1[k].dim() < 2:  # biases and LayerNorm weights and biases
            assert not d[k].any(), k
    again, other = filter_normalized(theta1, list(reversed(keys)), seed=3), filter_normalized(theta1, keys, seed=4)
    assert all(torch.equal(d[k], again[k]) for k in keys)
    assert not torch.equal(d[matrices[0]], other[matrices[0]])


def test_curve_is_the_models_loss_along_the_direction(setup, tiny_bert_dir):
    model, theta1, keys, batches = setup
    d = filter_normalized(theta1, keys, seed=5)
    config = load_config(tiny_bert_dir, 2)
    alpha = [-0.2, 0.1, 0.3]
    got = along(config, theta1, d, batches, alpha)
    n = sum(len(b.labels) for b in batches)
    for a, g in zip(alpha + [0.0], got):  # transformers' forward at theta1 + a d, independently of the engine
        model.load_state_dict({**theta1, **{k: theta1[k] + a * d[k] for k in keys}})
        with torch.no_grad():
            want = sum(float(task_loss(model(**batch_inputs(model, b.ids, b.types, b.mask)).logits, b.labels,
                                       reduction="sum")) for b in batches) / n
        assert g == pytest.approx(want, rel=1e-4), a
    model.load_state_dict(theta1)


def test_width_and_rise_of_a_parabola():
    x = np.linspace(-1, 1, 41)
    y = 2.0 + 3.0 * x ** 2
    m = curve_measures(x, y, 2.0, tau=0.12, radii=[0.1, 0.5, 2.0])
    assert m["width"] == pytest.approx(2 * np.sqrt(0.12 / 3), rel=2e-2) and not m["censored"]
    assert m["rise"]["0.5"]["plus"] == pytest.approx(0.75) and m["rise"]["0.5"]["minus"] == pytest.approx(0.75)
    assert m["rise"]["0.1"]["mean"] == pytest.approx(0.03, rel=0.1)
    assert np.isnan(m["rise"]["2.0"]["mean"])  # outside the axis: unknown, not extrapolated
    flat = curve_measures(x, np.full_like(x, 2.0), 2.0, tau=0.1, radii=[0.5])
    assert flat["censored"] and flat["width"] == pytest.approx(2.0)


def test_filter_curves_summarise_over_directions(setup, tiny_bert_dir):
    _, theta1, keys, batches = setup
    r = filter_curves(load_config(tiny_bert_dir, 2), theta1, keys, batches, seeds=[0, 1, 2],
                      alpha=np.linspace(-1, 1, 11), tau=0.05, radii=[0.2, 0.4])
    assert len(r["directions"]) == 3 and r["summary"]["width"]["n"] == 3
    widths = [m["width"] for m in r["directions"]]
    assert r["summary"]["width"]["mean"] == pytest.approx(np.mean(widths))
    assert r["summary"]["width"]["sd"] == pytest.approx(np.std(widths, ddof=1))
    assert len({tuple(m["loss"]) for m in r["directions"]}) == 3  # different seeds, different curves
    assert all(m["loss"][5] == pytest.approx(r["f_theta1"], abs=1e-6) for m in r["directions"])  # alpha 0 is theta1
    ends = [x for m in r["directions"] for x, edge in ((-m["left"], m["left"] <= -1), (m["right"], m["right"] >= 1))
            if not edge]
    assert r["summary"]["local_width"] == ({"radius": min(ends), "censored": False} if ends
                                           else {"radius": 1.0, "censored": True})


def test_curve_is_invariant_to_a_function_preserving_rescaling(setup, tiny_bert_dir):
    """Query weights and bias x c, key weights and bias / c: the same function, and -- because each filter of the
    direction scales with theta1's -- the same curve (a direction of fixed Euclidean size would see another)."""
    _, theta1, keys, batches = setup
    c, att = 20.0, "bert.encoder.layer.1.attention.self."
    other = dict(theta1)
    for name, f in (("query", c), ("key", 1 / c)):
        for p in ("weight", "bias"):
            other[f"{att}{name}.{p}"] = theta1[f"{att}{name}.{p}"] * f
    config, alpha = load_config(tiny_bert_dir, 2), [-1.0, 1.0]
    a = along(config, theta1, filter_normalized(theta1, keys, seed=9), batches, alpha)
    b = along(config, other, filter_normalized(other, keys, seed=9), batches, alpha)
    assert np.allclose(a, b, rtol=1e-6, atol=0) and np.ptp(a) > 1e-4
    raw = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(9)) for k, v in theta1.items() if k in keys}
    size = lambda s: sum(float((v ** 2).sum()) for v in s) ** 0.5
    scale = 0.5 * size(theta1[k] for k in keys) / size(raw.values())
    raw = {k: v * scale for k, v in raw.items()}
    ra, rb = along(config, theta1, raw, batches, alpha), along(config, other, raw, batches, alpha)
    assert not np.allclose(ra, rb, rtol=1e-5, atol=0)


def test_local_width_of_quadratics_with_known_radius():
    """f = f0 + a_k x^2 along direction k: each crosses f0 + tau at sqrt(tau / a_k); the largest ball inside the
    sublevel set has the smallest of them, sqrt(tau / max a_k) -- the flattest direction does not widen it."""
    x, f0, tau = np.linspace(-1, 1, 201), 0.3, 0.1
    per = [curve_measures(x, f0 + a * (x - c) ** 2, f0 + a * c ** 2, tau, [0.1]) for a, c in ((0.05, 0.0), (2.5, 0.0),
                                                                                              (0.8, 0.0))]
    lw = local_width(per, 1.0)
    assert lw["radius"] == pytest.approx(np.sqrt(tau / 2.5), rel=1e-3) and not lw["censored"]
    assert max(m["width"] for m in per) == pytest.approx(2.0)  # the flat one is cut off by the axis ...
    # ... a shifted valley: theta1 at 0, the curve's minimum at 0.3, so the near crossing is on the left
    shifted = curve_measures(x, f0 + 2.0 * (x - 0.3) ** 2, f0 + 2.0 * 0.09, tau, [0.1])
    want = 0.3 - np.sqrt((tau + 0.18) / 2.0)
    assert local_width([shifted], 1.0)["radius"] == pytest.approx(-want, rel=1e-3)
    flat = local_width([curve_measures(x, np.full_like(x, f0), f0, tau, [0.1])], 1.0)
    assert flat == {"radius": 1.0, "censored": True}  # at least the axis' half-length


def test_lattice_local_width_of_a_quadratic_bowl():
    """f = f0 + a alpha^2 + b beta^2 on a lattice: the largest ball holds f <= f0 + tau out to sqrt(tau / max(a, b)),
    found to within one lattice step."""
    g, f0, tau = np.linspace(-1, 1, 41), 1.0, 0.2
    a, b = np.meshgrid(g, g, indexing="ij")
    r = lattice_local_width(g, g, f0 + 0.5 * a ** 2 + 3.0 * b ** 2, f0, tau)
    want, step = np.sqrt(tau / 3.0), g[1] - g[0]
    assert want <= r["radius"] <= want + step and not r["censored"]
    r = lattice_local_width(g, g, f0 + 3.0 * a ** 2 + 0.5 * b ** 2, f0, tau)  # the same along the other axis
    assert want <= r["radius"] <= want + step
    assert lattice_local_width(g, g, np.full((41, 41), f0), f0, tau) == {"radius": 1.0, "censored": True}


def test_filter_surface_is_the_loss_on_the_lattice_and_its_axes_are_the_1d_curves(setup, tiny_bert_dir):
    _, theta1, keys, batches = setup
    config, axis = load_config(tiny_bert_dir, 2), np.linspace(-0.5, 0.5, 5)
    g = filter_surface(config, theta1, keys, batches, (3, 4), axis, tau=0.05)
    loss = g.values["train_loss"]
    assert loss.shape == (5, 5) and g.anchors["end"]["train_loss"] == pytest.approx(loss[2, 2])
    along_a = along(config, theta1, filter_normalized(theta1, keys, 3), batches, axis)[:-1]
    along_b = along(config, theta1, filter_normalized(theta1, keys, 4), batches, axis)[:-1]
    assert np.allclose(loss[:, 2], along_a, rtol=1e-5) and np.allclose(loss[2, :], along_b, rtol=1e-5)
    want = lattice_local_width(axis, axis, loss, loss[2, 2], 0.05)
    assert g.attrs["local_width"] == want["radius"] and g.attrs["direction_seeds"] == [3, 4]
    with pytest.raises(ValueError, match="hold 0"):
        filter_surface(config, theta1, keys, batches, (3, 4), np.linspace(-0.5, 0.5, 4), tau=0.05)
