import math

import pytest
import torch

from bertscape import BertscapeError
from bertscape.directions import dot, make_directions, norm
from bertscape.trajectory import project


def vec(**kw):
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in kw.items()}


def test_deltas_rescaling_and_stats_on_toy_vectors():
    theta0 = vec(**{"bert.a": [1.0, 1.0], "bert.b": [0.0], "classifier.w": [5.0]})
    theta1 = vec(**{"bert.a": [4.0, 1.0], "bert.b": [4.0], "classifier.w": [9.0]})   # delta1 = (3, 0, 4): norm 5
    theta2 = vec(**{"bert.a": [1.0, 2.0], "bert.b": [0.0], "classifier.w": [-1.0]})  # delta2 = (0, 1, 0): norm 1
    d1, d2, stats = make_directions(theta0, theta1, theta0, theta2, "bert.")
    assert set(d1) == set(d2) == {"bert.a", "bert.b"}  # the head never enters a direction
    assert torch.equal(d1["bert.a"], torch.tensor([3.0, 0.0])) and torch.equal(d1["bert.b"], torch.tensor([4.0]))
    assert stats["norm_delta1"] == pytest.approx(5.0) and stats["norm_delta2_raw"] == pytest.approx(1.0)
    assert norm(d2) == pytest.approx(5.0)  # rescaled to ||delta1||
    assert torch.allclose(d2["bert.a"], torch.tensor([0.0, 5.0]))
    assert stats["cos_delta1_delta2"] == pytest.approx(0.0)
    assert stats["n_params"] == 3


def test_cosine_and_inputs_untouched():
    theta0 = vec(**{"bert.x": [0.0, 0.0]})
    theta1 = vec(**{"bert.x": [1.0, 0.0]})
    theta2 = vec(**{"bert.x": [1.0, 1.0]})
    before = {k: v.clone() for k, v in theta2.items()}
    _, d2, stats = make_directions(theta0, theta1, theta0, theta2, "bert.")
    assert stats["cos_delta1_delta2"] == pytest.approx(1 / math.sqrt(2))
    assert torch.equal(theta2["bert.x"], before["bert.x"])
    assert norm(d2) == pytest.approx(1.0)


def test_different_theta0_is_refused():
    a = vec(**{"bert.x": [0.0]})
    with pytest.raises(BertscapeError, match="same point"):
        make_directions(a, vec(**{"bert.x": [1.0]}), vec(**{"bert.x": [0.5]}), vec(**{"bert.x": [2.0]}), "bert.")


def test_zero_direction_is_refused():
    a = vec(**{"bert.x": [1.0]})
    with pytest.raises(BertscapeError, match="zero norm"):
        make_directions(a, a, a, vec(**{"bert.x": [2.0]}), "bert.")


def test_trajectory_eqs_3_to_5_by_hand():
    delta1 = vec(x=[2.0, 0.0, 0.0])
    # delta_i = (1, 1, 1): d_alpha = 2/4 = 0.5; ||delta_i||^2/||delta1||^2 = 3/4; d_beta = sqrt(0.75 - 0.25)
    r = project(vec(x=[1.0, 1.0, 1.0]), delta1)
    assert r["d_alpha"] == pytest.approx(0.5)
    assert r["d_beta"] == pytest.approx(math.sqrt(0.5))
    assert r["cos"] == pytest.approx(2 / (math.sqrt(3) * 2))
    assert r["norm_ratio"] == pytest.approx(math.sqrt(3) / 2)
    end = project(delta1, delta1)  # the end point projects to (1, 0)
    assert (end["d_alpha"], end["d_beta"]) == (1.0, 0.0)
    back = project(vec(x=[-3.0, 0.0, 4.0]), delta1)
    assert back["d_alpha"] == pytest.approx(-1.5) and back["d_beta"] == pytest.approx(2.0)


def test_trajectory_sqrt_guard_against_roundoff():
    d1 = {"x": torch.full((1000,), 0.1, dtype=torch.float32)}
    di = {"x": d1["x"] * 3.0000001}
    r = project(di, d1)
    assert r["d_beta"] >= 0 and not math.isnan(r["d_beta"]) and r["d_beta"] < 1e-3


def test_dot_uses_float64():
    a = {"x": torch.full((10_000_000,), 1.0)}
    assert dot(a, a) == 10_000_000.0


def test_dot_is_the_same_whatever_the_thread_count():
    """The directions job and the surface jobs may run with different ``threads`` (config.yaml: light 2, surface
    8); the surface job recomputes ||delta1|| and refuses a directions file whose norm differs in any bit."""
    g = torch.Generator().manual_seed(0)
    a = {"w": torch.randn(1_000_000, generator=g), "b": torch.randn(3, 7, generator=g)}
    b = {"w": torch.randn(1_000_000, generator=g), "b": torch.randn(3, 7, generator=g)}
    old = torch.get_num_threads()
    try:
        seen = set()
        for t in (1, 2, 4):
            torch.set_num_threads(t)
            seen.add(dot(a, b))
    finally:
        torch.set_num_threads(old)
    assert len(seen) == 1
    exact = math.fsum(x * y for k in a for x, y in zip(a[k].double().flatten().tolist(), b[k].double().flatten().tolist()))
    assert abs(seen.pop() - exact) <= 1e-12 * abs(exact) + 1e-9
