"""Non-BERT encoders (RoBERTa, DistilBERT): the generic landscape engine equals transformers' own
evaluation at shifted points, layer groups come from the model's depth, and training runs."""
import pytest
import torch

from bertscape.batches import make_batches
from bertscape.config import layer_groups
from bertscape.directions import join
from bertscape.io import save_tensors
from bertscape.landscape import HFLandscape
from bertscape.modeling import build_model, encoder_prefix, load_config, state_dict
from bertscape.architectures import layer_keys, layer_map_of
from bertscape.store import CheckpointStore
from bertscape.surfaces import build_engine
from bertscape.train import TrainSpec, train
from conftest import reference, random_data


def save_encoder(kind, d):
    from transformers import DistilBertConfig, DistilBertModel, RobertaConfig, RobertaModel

    torch.manual_seed(0)
    if kind == "roberta":
        RobertaModel(RobertaConfig(vocab_size=120, hidden_size=32, num_hidden_layers=6, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=80, type_vocab_size=1)).save_pretrained(d)
    else:
        DistilBertModel(DistilBertConfig(vocab_size=120, dim=32, n_layers=6, n_heads=4, hidden_dim=64,
                                         max_position_embeddings=80)).save_pretrained(d)
    return d


@pytest.fixture(scope="module", params=["roberta", "distilbert"])
def setup(request, tmp_path_factory):
    d = save_encoder(request.param, tmp_path_factory.mktemp(request.param))
    theta0 = state_dict(build_model(d, 3, "finetune", 0))
    prefix = encoder_prefix(theta0)
    g = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    d1 = {k: theta1[k] - theta0[k] for k in theta0 if k.startswith(prefix)}
    d2 = {k: 0.05 * torch.randn(v.shape, generator=g) for k, v in d1.items()}
    save_tensors(d / "theta0.safetensors", theta0)
    save_tensors(d / "theta1.safetensors", theta1)
    save_tensors(d / "dirs.safetensors", join(d1, d2))
    dev = random_data(20, 120, 20, 3, 1)
    dev["token_type_ids"].zero_()  # RoBERTa has one token type
    return {"dir": d, "theta0": theta0, "theta1": theta1, "d1": d1, "d2": d2, "dev": dev, "prefix": prefix,
            "batches": make_batches(dev, torch.arange(20), "dev", 160), "config": load_config(d, 3)}


def test_surface_points_equal_transformers(setup):
    s = setup
    eng, _ = build_engine("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"])
    assert isinstance(eng, HFLandscape)
    for a, b in [(0.0, 0.0), (1.0, 0.0), (0.7, -1.3), (-3.0, 2.5)]:
        state = {k: (s["theta0"][k] + a * s["d1"][k] + b * s["d2"][k]) if k in s["d1"] else s["theta1"][k]
                 for k in s["theta1"]}
        ref, got = reference(s, state), eng.evaluate(a, b)
        assert got["dev_loss"] == pytest.approx(ref["loss"], rel=1e-5, abs=1e-6) and got["dev_acc"] == ref["acc"]
    assert eng.evaluate(0.7, -1.3) == eng.evaluate(0.7, -1.3)  # recomputed from base: no drift


def test_bf16_generic_engine_agrees_with_fp32_within_budget(setup):
    """RoBERTa / DistilBERT under bf16 autocast vs fp32 at sample points: relative loss deviation <= 0.5 %."""
    s = setup
    args = ("surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
            s["dir"] / "dirs.safetensors", s["batches"])
    fp32, bf16 = build_engine(*args)[0], build_engine(*args, dtype="bf16")[0]
    assert bf16.dtype == "bf16"
    for a, b in [(0.0, 0.0), (1.0, 0.0), (0.7, -1.3), (-2.0, 1.5)]:
        x, y = fp32.evaluate(a, b)["dev_loss"], bf16.evaluate(a, b)["dev_loss"]
        assert x != y and abs(x - y) <= 0.005 * abs(x)
        assert bf16.evaluate(a, b, dtype="fp32")["dev_loss"] == x


def test_layer_groups_from_depth_and_rollback_point(setup):
    s = setup
    groups = layer_groups(None, s["config"].num_hidden_layers)
    assert groups == {"low": [0, 1], "mid": [2, 3], "high": [4, 5]}
    keys = layer_keys(s["d1"], groups["high"], layer_map_of(s["config"]))
    assert keys and all(k.startswith(s["prefix"]) for k in keys)
    eng, _ = build_engine("layer_surface", s["config"], s["dir"] / "theta0.safetensors", s["dir"] / "theta1.safetensors",
                          s["dir"] / "dirs.safetensors", s["batches"], groups["high"])
    rolled = {**s["theta1"], **{k: s["theta0"][k] for k in keys}}  # f(-1, 0): the group back at theta0
    assert eng.evaluate(-1.0, 0.0)["dev_loss"] == pytest.approx(reference(s, rolled)["loss"], rel=1e-5)


def test_training_runs(setup, tmp_path):
    s = setup
    m = build_model(s["dir"], 3, "finetune", 0)
    spec = TrainSpec(epochs=1, batch_size=8, lr=1e-3, eval_batch_tokens=160)
    paths = [str(tmp_path / f"epoch{e}.safetensors") for e in range(2)]
    steps, epochs = train(m, s["dev"], s["dev"], spec, CheckpointStore(paths, tmp_path / "resume"), progress=False)
    assert len(steps) == 3 and torch.isfinite(torch.tensor(epochs[-1]["train_loss"]))
