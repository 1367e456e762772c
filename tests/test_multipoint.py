"""The multi-point engine equals the single-point engine at sample nodes: full surface (embeddings varied) and a
layer surface (lower layers cached), with and without delta2, K nodes in one pass in any order."""
import pytest
import torch
from test_landscape import setup  # noqa: F401 (the module fixture: theta0, directions, batches)

from bertscape import BertscapeError
from bertscape.landscape import BertLandscape
from bertscape.multipoint import MultiPointLandscape

NODES = [(0.0, 0.0), (1.0, 0.0), (-0.7, 1.3), (2.0, -2.0), (0.25, 0.5)]


def engines(s, layers=None, two=True):
    keep = (lambda k: any(f"layer.{i}." in k for i in layers)) if layers else (lambda k: True)
    d1 = {k: v for k, v in s["d1"].items() if keep(k)}
    d2 = {k: v for k, v in s["d2"].items() if keep(k)} if two else None
    base = {**s["theta0"], **{k: v for k, v in s["theta1"].items() if not k.startswith("bert.")}}
    args = (s["config"], base, d1, d2, s["batches"])
    return BertLandscape(*args), MultiPointLandscape(*args)


@pytest.mark.parametrize("layers, two", [(None, True), (None, False), ([2], True), ([1, 2], True)])
def test_multi_point_equals_single_point_at_sample_nodes(setup, layers, two):  # noqa: F811
    one, many = engines(setup, layers, two)
    assert (many.start >= 0) == bool(layers)  # a layer surface: the cached path
    got = many.logits_many(NODES)
    values = many.evaluate_many(NODES)
    for (a, b), lg, v in zip(NODES, got, values):
        ref = one.logits(a, b)
        assert max(float((x - y).abs().max()) for x, y in zip(ref, lg)) < 1e-5
        r = one.evaluate(a, b)
        assert r.keys() == v.keys()
        for k in r:
            assert abs(r[k] - v[k]) <= 1e-6 * max(1.0, abs(r[k])), (k, a, b)
    far = [one.evaluate(a, b)["train_loss"] for a, b in NODES]
    assert max(far) - min(far) > 1e-3  # the nodes differ by 1000x the tolerance: a wrong node would be seen
    # a node's value does not depend on the nodes it shares a pass with
    alone = many.evaluate_many([NODES[2]])[0]
    assert abs(alone["train_loss"] - values[2]["train_loss"]) <= 1e-6 * alone["train_loss"]


def test_multi_point_is_fp32_only(setup):  # noqa: F811
    s = setup
    with pytest.raises(BertscapeError, match="fp32 only"):
        MultiPointLandscape(s["config"], s["theta1"], s["d1"], s["d2"], s["batches"], dtype="bf16")


def test_a_shard_with_points_per_pass_equals_the_single_point_shard(setup, tmp_path):  # noqa: F811
    """evaluate_shard with 3 nodes per pass (the last pass short) gives every node of the shard, each within 1e-6
    relative of the single-point shard's value; a resumed partial file is honoured."""
    import numpy as np

    from bertscape.surfaces import evaluate_shard

    one, _ = engines(setup)
    many = MultiPointLandscape.of(one)
    ax = np.linspace(-1, 1, 3)
    ref = evaluate_shard(one, "surface", ax, ax, 0, 1, tmp_path / "a.json", "k", progress=False)
    got = evaluate_shard(many, "surface", ax, ax, 0, 1, tmp_path / "b.json", "k", progress=False, per_pass=3)
    assert list(got) == list(ref) and len(ref) > 9  # the grid and its anchors, in the same order
    for name in ref:
        assert abs(ref[name]["train_loss"] - got[name]["train_loss"]) <= 1e-6 * ref[name]["train_loss"], name
