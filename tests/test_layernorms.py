"""The per-layer norm table: rows partition the encoder, and each norm is the one of the tensors its name says."""
import math

import pytest
import torch

from bertscape.architectures import model_config
from bertscape.layernorms import norm_table, with_groups
from bertscape.modeling import build_model, state_dict


def test_norm_table(tiny_bert_dir):
    theta0 = state_dict(build_model(tiny_bert_dir, 2, "finetune", seed=0))
    gen = torch.Generator().manual_seed(0)
    theta1 = {k: (v + 0.1 * torch.randn(v.shape, generator=gen) if ".layer.1." in k else v.clone())
              for k, v in theta0.items()}
    theta1["bert.embeddings.word_embeddings.weight"][3] += 2.0
    theta1["classifier.weight"] += 5.0  # the head is not the encoder: it never enters the table
    rows = norm_table(theta0, theta1, model_config(tiny_bert_dir), {"low": [0, 0], "high": [1, 2]})
    by = {(r["unit"], r["name"]): r for r in rows}
    assert [r["name"] for r in rows if r["unit"] == "layer"] == ["0", "1", "2"]
    assert {r["name"] for r in rows if r["unit"] == "part"} == {"embeddings", "pooler"}

    def direct(pattern):  # the norms straight from the names, without the layer map
        ks = [k for k in theta0 if k.startswith("bert.") and pattern in k]
        sq = lambda s: math.sqrt(sum(float((s[k].double() ** 2).sum()) for k in ks))
        return sq(theta0), sq(theta1), math.sqrt(sum(float(((theta1[k] - theta0[k]).double() ** 2).sum()) for k in ks))

    for key, pattern in ((("layer", "1"), ".layer.1."), (("layer", "0"), ".layer.0."),
                         (("part", "embeddings"), ".embeddings.")):
        n0, n1, nd = direct(pattern)
        r = by[key]
        assert (r["norm_theta0"], r["norm_theta1"], r["norm_delta1"]) == pytest.approx((n0, n1, nd), rel=1e-6), key
    assert by[("layer", "0")]["norm_delta1"] == 0 and by[("layer", "2")]["norm_delta1"] == 0
    assert by[("part", "embeddings")]["norm_delta1"] == pytest.approx(2.0 * math.sqrt(32), rel=1e-6)
    assert by[("group", "high")]["norm_delta1"] == pytest.approx(by[("layer", "1")]["norm_delta1"])
    l1, l2 = by[("layer", "1")], by[("layer", "2")]
    assert by[("group", "high")]["rel_delta1"] == pytest.approx(l1["norm_delta1"] / math.hypot(l1["norm_theta1"],
                                                                                               l2["norm_theta1"]))
    enc = by[("encoder", "encoder")]
    parts = [r for r in rows if r["unit"] in ("layer", "part")]
    encoder = [v for k, v in theta0.items() if k.startswith("bert.") and v.is_floating_point()]
    assert enc["n_params"] == sum(r["n_params"] for r in parts) == sum(v.numel() for v in encoder)
    assert enc["norm_delta1"] ** 2 == pytest.approx(sum(r["norm_delta1"] ** 2 for r in parts))


def test_group_rows_added_later_equal_the_table_built_with_them(tiny_bert_dir):
    """The directions job writes the table without groups and the claims add them (bertscape.layernorms.with_groups):
    the same rows, in the same order, as a table built with the groups; other groups replace the old ones."""
    theta0 = state_dict(build_model(tiny_bert_dir, 2, "finetune", seed=0))
    gen = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in theta0.items()}
    conf, groups = model_config(tiny_bert_dir), {"low": [0, 1], "high": [2, 2]}
    bare, full = norm_table(theta0, theta1, conf, {}), norm_table(theta0, theta1, conf, groups)
    assert not [r for r in bare if r["unit"] == "group"] and bare[-1]["unit"] == "encoder"
    got = with_groups(bare, groups)
    assert [(r["unit"], r["name"]) for r in got] == [(r["unit"], r["name"]) for r in full]
    nums = ("n_params", "norm_theta0", "norm_theta1", "norm_delta1", "rel_delta1")
    for a, b in zip(got, full):
        assert a["layers"] == b["layers"] and [a[k] for k in nums] == pytest.approx([b[k] for k in nums], rel=1e-12)
    # and against sums taken here, straight from the tensors (norm_table itself now calls with_groups)
    for r in (r for r in got if r["unit"] == "group"):
        keys = [k for k in theta0 if any(k.startswith(f"bert.encoder.layer.{i}.") for i in range(r["layers"][0], r["layers"][1] + 1))]
        n0, n1, nd = (math.sqrt(sum(float(f(k).pow(2).sum()) for k in keys))  # float64 throughout, as the table
                      for f in (lambda k: theta0[k].double(), lambda k: theta1[k].double(),
                                lambda k: theta1[k].double() - theta0[k].double()))
        assert r["n_params"] == sum(theta0[k].numel() for k in keys)
        assert [r["norm_theta0"], r["norm_theta1"], r["norm_delta1"]] == pytest.approx([n0, n1, nd], rel=1e-12)
    other = with_groups(full, {"all": [0, 2]})  # every block: with the parts, the whole encoder
    assert [r["name"] for r in other if r["unit"] == "group"] == ["all"]
    parts, everything, enc = [r for r in other if r["unit"] == "part"], other[-2], other[-1]
    for k in ("norm_theta0", "norm_theta1", "norm_delta1"):
        assert everything[k] ** 2 + sum(r[k] ** 2 for r in parts) == pytest.approx(enc[k] ** 2, rel=1e-9), k
