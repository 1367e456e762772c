"""Filter-normalised directions (Li et al. 2018): every row of every matrix has theta1's row norm, vectors are
zeroed, the draw is seeded; the 1D curve along one is the model's own loss at theta1 + a d; width and rises."""
import numpy as np
import pytest
import torch

from bertscape.batches import make_batches
from bertscape.directions import encoder_keys
from bertscape.filternorm import along, curve_measures, filter_curves, filter_normalized, row_norms
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
