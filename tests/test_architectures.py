"""Layers from the architecture: on a tiny random model of every supported encoder, the layer map comes from
the model object, the layer surface's rollback point equals transformers' own evaluation of the rolled-back
model, Table 1's rows reset exactly one group, and a checkpoint with another task's head trains."""
import json

import pytest
import torch

from bertscape import BertscapeError
from bertscape.architectures import depth, layer_keys, layer_list, layer_map, layer_map_of, skeleton
from bertscape.config import layer_groups
from bertscape.directions import join
from bertscape.io import save_tensors
from bertscape.batches import make_batches
from bertscape.modeling import build_model, encoder_prefix, head_note, load_config, state_dict
from bertscape.rollback import rollback_rows
from bertscape.surfaces import build_engine
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, train
from conftest import reference, ARCHITECTURES, random_data, save_tiny, tiny_config


@pytest.fixture(scope="module", params=ARCHITECTURES)
def arch(request, tmp_path_factory):
    d = save_tiny(request.param, tmp_path_factory.mktemp(request.param))
    theta0 = state_dict(build_model(d, 3, "finetune", 0))
    prefix = encoder_prefix(theta0)
    g = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v for k, v in theta0.items()}
    d1 = {k: theta1[k] - theta0[k] for k in theta0 if k.startswith(prefix) and theta0[k].is_floating_point()}
    d2 = {k: 0.05 * torch.randn(v.shape, generator=g) for k, v in d1.items()}
    save_tensors(d / "theta0.safetensors", theta0)
    save_tensors(d / "theta1.safetensors", theta1)
    save_tensors(d / "dirs.safetensors", join(d1, d2))
    dev = random_data(20, 120, 20, 3, 1)
    dev["token_type_ids"].zero_()  # RoBERTa, XLM-R: one token type
    return {"kind": request.param, "dir": d, "theta0": theta0, "theta1": theta1, "d1": d1, "dev": dev,
            "batches": make_batches(dev, torch.arange(20), "dev", 160), "config": load_config(d, 3)}


def test_layer_map_is_the_model_blocks(arch):
    s = arch
    model = skeleton(s["config"])
    name, blocks = layer_list(model)
    lmap = layer_map(model)
    assert len(blocks) == 3 and depth(s["dir"]) == 3
    assert sorted(set(lmap.values())) == [0, 1, 2]
    assert set(lmap) <= set(model.state_dict()) and all(k.startswith(name + ".") for k in lmap)
    # every parameter of every block is mapped, and nothing outside the blocks (embeddings, head)
    n_block = sum(p.numel() for p in blocks.parameters())
    assert sum(s["theta0"][k].numel() for k in lmap if s["theta0"][k].is_floating_point()) >= n_block
    assert not any(k in lmap for k in s["theta0"] if "embed" in k or not k.startswith(encoder_prefix(s["theta0"])))
    # each layer holds the same parameter names (identical blocks)
    per = [sorted(k.split(f"{name}.{i}.", 1)[1] for k in lmap if lmap[k] == i) for i in range(3)]
    assert per[0] and per[0] == per[1] == per[2] or s["kind"] == "modernbert"  # ModernBERT: layer 0 has no attn_norm


def test_layer_surface_rollback_point_and_table1(arch):
    s = arch
    groups = layer_groups(None, depth(s["dir"]))
    assert groups == {"low": [0, 0], "mid": [1, 1], "high": [2, 2]}
    lmap = layer_map_of(s["config"])
    for group in ([1, 1], [0, 2]):
        eng, info = build_engine("layer_surface", s["config"], s["dir"] / "theta0.safetensors",
                                 s["dir"] / "theta1.safetensors", s["dir"] / "dirs.safetensors", s["batches"], group)
        keys = layer_keys(s["d1"], group, lmap)
        assert keys and info["layers"] == group
        rolled = {**s["theta1"], **{k: s["theta0"][k] for k in keys}}
        assert eng.evaluate(-1.0, 0.0)["dev_loss"] == pytest.approx(reference(s, rolled)["loss"], rel=1e-5, abs=1e-6)
        assert eng.evaluate(0.0, 0.0)["dev_loss"] == pytest.approx(reference(s, s["theta1"])["loss"], rel=1e-5, abs=1e-6)
    rows = rollback_rows(s["dir"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors", s["dev"], groups, 160, 3)
    assert [r["group"] for r in rows] == ["none", "low", "mid", "high"]
    mid = layer_keys(s["theta1"], [1, 1], lmap)
    ref = reference(s, {**s["theta1"], **{k: s["theta0"][k] for k in mid}})
    assert rows[2]["dev_loss"] == pytest.approx(ref["loss"], rel=1e-6) and rows[2]["dev_acc"] == ref["acc"]


def test_depth_is_counted_in_the_model(tmp_path):
    """DistilBERT calls it n_layers, the others num_hidden_layers: the model object counts the same blocks."""
    assert depth(save_tiny("distilbert", tmp_path / "d", layers=4)) == 4
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    with pytest.raises(BertscapeError, match="transformers cannot build this model"):
        depth(tmp_path / "bad")


@pytest.mark.parametrize("kind", ["bert", "modernbert"])
def test_a_checkpoint_with_another_head_trains(kind, tmp_path):
    """A 2-label sequence classifier as model.name for a 3-label task: fresh seeded head, one line saying so."""
    from transformers import AutoModelForSequenceClassification

    c = tiny_config(kind)
    c.num_labels, c.id2label, c.label2id = 2, {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(c).save_pretrained(tmp_path / "clf")
    m = build_model(tmp_path / "clf", 3, "finetune", 0)
    assert m.config.num_labels == 3 and m.num_labels == 3
    note = head_note(tmp_path / "clf", 3)
    assert "2 labels: neg, pos" in note and "another size" in note and "\n" not in note
    base = save_tiny(kind, tmp_path / "base")
    assert head_note(base, 3) is None
    # the head is the seeded one, whatever the checkpoint carried: the same as from a base model of the same encoder
    fresh = state_dict(build_model(tmp_path / "clf", 3, "finetune", 0))
    head = {k: v for k, v in fresh.items() if not k.startswith(encoder_prefix(fresh))}
    again = state_dict(build_model(tmp_path / "clf", 3, "finetune", 0))
    assert head and all(torch.equal(v, again[k]) for k, v in head.items())
    data = random_data(16, 120, 16, 3, 2)
    data["token_type_ids"].zero_()
    paths = [str(tmp_path / f"epoch{e}.safetensors") for e in range(2)]
    steps, epochs = train(m, data, data, TrainSpec(epochs=1, batch_size=8, lr=1e-3, eval_batch_tokens=160),
                          CheckpointStore(paths, tmp_path / "resume"), progress=False)
    assert len(steps) == 2 and torch.isfinite(torch.tensor(epochs[-1]["train_loss"]))
