"""Adaptive worst-case and average-case sharpness on a tiny BERT (float64): the ascent finds more than random
perturbations of the same size, the weights come back, and -- the point of adaptivity -- a rescaling that leaves
the function unchanged (query x c, key / c; value x c, attention output / c) leaves the adaptive numbers unchanged
while the non-adaptive ones move."""
import copy

import pytest
import torch
from test_sharpness import tiny_bert

from bertscape.adaptive_sharpness import average_case, mean_loss, worst_case
from bertscape.sharpness import encoder_params


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model, batches, _ = tiny_bert(tmp_path_factory.mktemp("asam"))
    return model, batches


def rescaled(model, c: float):
    """The same function with other weights: layer 0's query x c, key / c, value x c, attention output / c."""
    m = copy.deepcopy(model)
    att = m.bert.encoder.layer[0].attention
    with torch.no_grad():
        for lin, f in ((att.self.query, c), (att.self.key, 1 / c), (att.self.value, c)):
            lin.weight.mul_(f)
            lin.bias.mul_(f)
        att.output.dense.weight.mul_(1 / c)
    return m


def test_worst_case_beats_random_perturbations_and_restores_the_weights(tiny):
    model, batches = tiny
    before = [p.detach().clone() for p in encoder_params(model)]
    rhos = [0.05, 0.2]
    r = worst_case(model, batches, rhos, steps=10, seed=0)
    assert all(torch.equal(a, p) for a, p in zip(before, encoder_params(model)))
    params = encoder_params(model)
    f0, _ = mean_loss(model, params, batches, grad=False)
    assert r["f_theta1"] == f0
    gen = torch.Generator().manual_seed(7)
    for rho, v in zip(rhos, r["values"]):
        assert len(v["history"]) == 11 and v["sharpness"] == max(v["history"]) > 0
        best_random = -1.0
        for _ in range(20):  # random points on the same ball's surface (||z|| = rho, eps = |theta| z)
            z = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
            nz = sum(float((x ** 2).sum()) for x in z) ** 0.5
            with torch.no_grad():
                for p, t, x in zip(params, before, z):
                    p.copy_(t + t.abs() * x * (rho / nz))
            best_random = max(best_random, mean_loss(model, params, batches, grad=False)[0] - f0)
        with torch.no_grad():
            for p, t in zip(params, before):
                p.copy_(t)
        assert v["sharpness"] > best_random, (rho, v["sharpness"], best_random)
    assert r["values"][1]["sharpness"] > r["values"][0]["sharpness"]  # a larger ball holds a larger rise


def test_adaptive_sharpness_is_invariant_to_function_preserving_rescaling(tiny):
    model, batches = tiny
    other = rescaled(model, 10.0)
    f = mean_loss(model, encoder_params(model), batches, grad=False)[0]
    assert abs(mean_loss(other, encoder_params(other), batches, grad=False)[0] - f) < 1e-12
    for adaptive in (True, False):
        a = worst_case(model, batches, [0.1], steps=5, seed=1, adaptive=adaptive)["values"][0]["sharpness"]
        b = worst_case(other, batches, [0.1], steps=5, seed=1, adaptive=adaptive)["values"][0]["sharpness"]
        m = average_case(model, batches, [0.05], draws=4, seed=2, adaptive=adaptive)["values"][0]["mean"]
        n = average_case(other, batches, [0.05], draws=4, seed=2, adaptive=adaptive)["values"][0]["mean"]
        if adaptive:
            assert abs(a - b) <= 1e-9 * abs(a) and abs(m - n) <= 1e-9 * abs(m), (a, b, m, n)
        else:  # what adaptivity is for: the plain versions change with the weights' scale
            assert abs(a - b) > 1e-2 * abs(a) and abs(m - n) > 1e-2 * abs(m), (a, b, m, n)


def test_average_case_statistics(tiny):
    model, batches = tiny
    r = average_case(model, batches, [0.01, 0.1], draws=6, seed=3)
    small, large = r["values"]
    assert len(small["values"]) == 6 and small["se"] == pytest.approx(small["sd"] / 6 ** 0.5)
    assert small["mean"] == pytest.approx(sum(small["values"]) / 6)
    assert abs(large["mean"]) > abs(small["mean"])  # a wider Gaussian moves the loss more
    assert average_case(model, batches, [0.01], draws=6, seed=3)["values"][0]["values"] == small["values"]
