"""Regression end to end: MSE loss on one output unit (training, both landscape engines, sharpness,
rollback), GLUE's metrics against scipy/sklearn, 1 - Pearson r as the dev error, C2's chance loss, and
figures / Table 1 labelled with the task's own metric."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import random_data

from bertscape import claims as C
from bertscape import measures as M
from bertscape.batches import make_batches
from bertscape.data.tokenize import tokenize_rows
from bertscape.io import save_tensors
from bertscape.landscape import BertLandscape, HFLandscape
from bertscape.metrics import dev_error, glue_metrics, score, task_loss
from bertscape.modeling import build_model, load_config, state_dict
from bertscape.rollback import rollback_rows
from bertscape.sharpness import hvp
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, evaluate, train


def float_data(n, seed):
    d = random_data(n, 120, 20, 2, seed)
    g = torch.Generator().manual_seed(seed + 10)
    d["labels"] = 5 * torch.rand(n, generator=g)  # STS-B-like targets in [0, 5]
    return d


def test_glue_metrics_equal_scipy_and_sklearn():
    stats = pytest.importorskip("scipy.stats")
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = np.round(rng.uniform(0, 5, 200), 1)  # ties, like STS-B's scores
    p = y + rng.normal(0, 1, 200)
    m = glue_metrics(np.round(p, 1), y, regression=True)
    assert m["pearson"] == pytest.approx(stats.pearsonr(np.round(p, 1), y)[0], abs=1e-12)
    assert m["spearman"] == pytest.approx(stats.spearmanr(np.round(p, 1), y)[0], abs=1e-12)
    assert m["mse"] == pytest.approx(float(((np.round(p, 1) - y) ** 2).mean()))
    for k in (2, 3):
        gold, pred = rng.integers(0, k, 300), rng.integers(0, k, 300)
        pred[:150] = gold[:150]
        m = glue_metrics(pred, gold, regression=False, n_classes=k)
        assert m["acc"] == skm.accuracy_score(gold, pred)
        assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(gold, pred), abs=1e-12)
        assert ("f1" in m) == (k == 2)
        assert all(type(v) is float for v in m.values())  # TSV/JSON writers need plain floats
        if k == 2:
            assert m["f1"] == pytest.approx(skm.f1_score(gold, pred), abs=1e-12)
    # constant predictions: r undefined, counted as 0 (error 1); MCC of one predicted class is 0
    assert glue_metrics(np.full(5, 2.0), np.arange(5.0), True)["pearson"] == 0.0
    assert glue_metrics(np.zeros(4, int), np.array([0, 1, 0, 1]), False)["mcc"] == 0.0


def test_loss_and_dev_error_follow_the_label_dtype():
    logits = torch.tensor([[0.5], [2.0], [4.0]])
    y = torch.tensor([1.0, 2.0, 3.0])
    assert float(task_loss(logits, y)) == pytest.approx(float(F.mse_loss(logits.squeeze(-1), y)))
    m = score([logits[:2], logits[2:]], [y[:2], y[2:]])
    assert m["loss"] == pytest.approx(((0.5 ** 2) + 0 + 1) / 3) and m["pearson"] == pytest.approx(
        float(np.corrcoef([0.5, 2, 4], [1, 2, 3])[0, 1]))
    assert dev_error(m) == pytest.approx(1 - m["pearson"])
    cls = score([torch.tensor([[2.0, 0.0], [0.0, 1.0]])], [torch.tensor([0, 0])])
    assert cls["acc"] == 0.5 and dev_error(cls) == 0.5


def test_float_targets_survive_tokenisation():
    from transformers import BertTokenizerFast
    from tokenizers import Tokenizer, models, pre_tokenizers

    tk = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = BertTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                            unk_token="[UNK]")
    rows = [{"idx": 0, "text_a": "a", "text_b": "a a", "label": 3.8}, {"idx": 1, "text_a": "a", "text_b": "a", "label": 0.0}]
    t = tokenize_rows(rows, tok, 16)
    assert t["labels"].dtype == torch.float32 and t["labels"].tolist() == pytest.approx([3.8, 0.0])
    t = tokenize_rows([{**r, "label": i} for i, r in enumerate(rows)], tok, 16)
    assert t["labels"].dtype == torch.int64


@pytest.fixture(scope="module")
def reg(tiny_bert_dir):
    m0 = build_model(tiny_bert_dir, 1, "finetune", 0)
    theta0 = state_dict(m0)
    assert theta0["classifier.weight"].shape[0] == 1  # one output unit
    g = torch.Generator().manual_seed(1)
    theta1 = {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items()}
    keys = [k for k in theta0 if k.startswith("bert.")]
    d1 = {k: theta1[k] - theta0[k] for k in keys}
    d2 = {k: 0.05 * torch.randn(theta0[k].shape, generator=g) for k in keys}
    train_d, dev = float_data(24, 0), float_data(20, 1)
    batches = make_batches(train_d, torch.arange(24), "train", 160) + make_batches(dev, torch.arange(20), "dev", 160)
    return {"theta0": theta0, "theta1": theta1, "d1": d1, "d2": d2, "train": train_d, "dev": dev, "batches": batches,
            "config": load_config(tiny_bert_dir, 1), "dir": tiny_bert_dir}


@pytest.mark.parametrize("engine", [BertLandscape, HFLandscape])
def test_engines_give_mse_and_pearson_equal_to_transformers(reg, engine):
    s = reg
    base = {**s["theta0"], **{k: v for k, v in s["theta1"].items() if not k.startswith("bert.")}}
    eng = engine(s["config"], base, s["d1"], s["d2"], s["batches"])
    m = build_model(s["dir"], 1, "finetune", 0)
    for a, b in [(0.0, 0.0), (0.7, -1.3)]:
        m.load_state_dict({k: (s["theta0"][k] + a * s["d1"][k] + b * s["d2"][k]) if k in s["d1"] else s["theta1"][k]
                           for k in s["theta1"]})
        ref, got = evaluate(m, s["dev"], 160), eng.evaluate(a, b)
        assert set(got) == {"train_loss", "train_pearson", "dev_loss", "dev_pearson", "dev_error"}
        assert got["dev_loss"] == pytest.approx(ref["loss"], rel=1e-5) and ref["loss"] == pytest.approx(ref["mse"], rel=1e-6)
        assert got["dev_pearson"] == pytest.approx(ref["pearson"], abs=1e-5)
        assert got["dev_error"] == pytest.approx(1 - ref["pearson"], abs=1e-5)


def test_training_on_float_targets_learns_their_mean(tiny_bert_dir, tmp_path):
    """Random tokens carry no signal: MSE training must end at the mean predictor, whose MSE is the targets'
    variance (C2's chance loss), far below the untrained head's MSE (about mean^2 + variance)."""
    spec = TrainSpec(epochs=4, batch_size=8, lr=1e-2, warmup_ratio=0.0, seed=0, eval_batch_tokens=256)
    model = build_model(tiny_bert_dir, 1, "finetune", 0)
    d = float_data(32, 3)
    paths = [str(tmp_path / f"epoch{e}.safetensors") for e in range(5)]
    steps, epochs = train(model, d, d, spec, CheckpointStore(paths, tmp_path / ".resume"), progress=False)
    assert {"dev_loss", "dev_pearson", "dev_spearman", "dev_mse"} <= set(epochs[0]) and "dev_acc" not in epochs[0]
    var = M.target_variance(d["labels"].tolist())
    assert epochs[0]["dev_loss"] > 3 * var
    assert epochs[-1]["dev_loss"] == pytest.approx(var, rel=0.05)
    assert all(math.isfinite(r["loss"]) for r in steps)


def test_hessian_vector_product_of_the_mse_loss(reg):
    """H v by double backward equals a finite difference of gradients of the mean MSE."""
    s = reg
    from bertscape.sharpness import load_for_hessian

    model = load_for_hessian(s["dir"], s["theta1"], 1).double()
    params = [p for n, p in model.named_parameters() if n.startswith("bert.encoder.layer.2.output")]
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("bert.encoder.layer.2.output"))
    batches = [b for b in s["batches"] if b.set_name == "train"]
    g = torch.Generator().manual_seed(5)
    v = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params]
    hv = hvp(model, params, batches, v)

    def grad():
        n = sum(len(b.labels) for b in batches)
        loss = sum(task_loss(model(input_ids=b.ids, token_type_ids=b.types,
                                   attention_mask=None if b.mask is None else b.mask[:, 0, 0].long()).logits,
                             b.labels.double(), "sum") for b in batches) / n
        return torch.autograd.grad(loss, params)

    eps = 1e-5
    with torch.no_grad():
        for p, x in zip(params, v):
            p.add_(x, alpha=eps)
    gp = grad()
    with torch.no_grad():
        for p, x in zip(params, v):
            p.add_(x, alpha=-2 * eps)
    gm = grad()
    fd = [(a - b) / (2 * eps) for a, b in zip(gp, gm)]
    assert all(torch.allclose(h, f, rtol=1e-4, atol=1e-7) for h, f in zip(hv, fd))


def test_rollback_rows_in_the_tasks_metric(reg, tmp_path):
    s = reg
    save_tensors(tmp_path / "t0.safetensors", s["theta0"])
    save_tensors(tmp_path / "t1.safetensors", s["theta1"])
    rows = rollback_rows(s["dir"], tmp_path / "t0.safetensors", tmp_path / "t1.safetensors", s["dev"],
                         {"low": [0, 0], "high": [1, 2]}, 160, 1, "pearson")
    assert [r["metric"] for r in rows] == ["pearson"] * 3 and "dev_acc" not in rows[0]
    assert rows[0]["score"] == rows[0]["dev_pearson"] and rows[2]["delta"] == pytest.approx(
        rows[2]["dev_pearson"] - rows[0]["dev_pearson"])
    c5 = C.c5_lower_layers({"STS-B": rows}, {}, {"low": [0, 0], "high": [1, 2]})
    assert c5[0]["measure"] == "rollback_dev_pearson" and "Pearson r change" in c5[0]["criterion"]


def test_c2_threshold_is_the_variance_of_the_training_targets():
    targets = [0.0, 1.0, 2.0, 5.0]
    var = M.target_variance(targets)
    assert var == pytest.approx(np.var(targets))  # the MSE of predicting the mean
    mean = float(np.mean(targets))
    assert var == pytest.approx(np.mean([(y - mean) ** 2 for y in targets]))
    ep = {("S", i): [{"epoch": 0, "train_loss": float("nan")}, {"epoch": 1, "train_loss": 0.5 * var - d}]
          for i, d in (("finetune", 0.01), ("scratch", -0.01))}
    rows = _c2_epochs_only(ep, var)
    assert rows[0]["values"]["threshold"] == pytest.approx(0.5 * var)
    assert "Var(train targets)" in rows[0]["criterion"]
    assert rows[0]["values"]["finetune"] == 1 and rows[0]["values"]["scratch"] is None and rows[0]["holds"]


def _c2_epochs_only(epochs, var):
    from bertscape.h5io import Grid

    a = np.linspace(-1, 2, 4)
    curve = Grid("curve", a, None, {"train_loss": np.array([3.0, 2.0, 1.5, 1.0])}, np.ones(4, bool),
                 {"start": {"alpha": 0.0, "beta": 0.0, "train_loss": 2.0}, "end": {"alpha": 1.0, "beta": 0.0, "train_loss": 1.5}})
    curves = {("S", i): curve for i in ("finetune", "scratch")}
    return [r for r in C.c2_easier_optimisation(epochs, curves, {}, ["S"], {}, 0.5, 0.01, {"S": var})
            if r["measure"] == "epochs_to_loss"]


def test_regression_labels_in_figures_and_table1():
    from bertscape.h5io import Grid
    from bertscape.figures.scales import metric_label
    from bertscape.figures.table import table1

    g = Grid("surface", np.zeros(2), np.zeros(2), {}, np.ones((2, 2), bool), attrs={"loss": "MSE", "dev_error_is": "1 − Pearson r"})
    assert metric_label("dev_error", [g]) == "generalization error (dev, 1 − Pearson r)"
    assert metric_label("train_loss", [g]) == "training loss (MSE)"
    assert metric_label("dev_error", []) == "generalization error (dev, 1 − acc)"
    md, _ = table1([{"task": "STS-B", "metric": "Pearson r", "finetuned": 80.0, "low": 79.5, "glue": "Pearson r 80.00 / Spearman rho 79.10"},
                    {"task": "RTE", "metric": "accuracy", "finetuned": 70.0, "low": 69.0}])
    assert "STS-B (Pearson r)" in md and "| RTE |" in md and "Pearson r 80.00 / Spearman rho 79.10" in md
    assert "accuracy (%), or the metric named after the dataset" in md and "Accuracy (%) on" not in md


@pytest.mark.parametrize("kind", ["roberta", "distilbert"])
def test_generic_engine_regression_on_other_encoders(kind, tmp_path):
    """RoBERTa / DistilBERT with one output unit: the generic engine's MSE and Pearson r equal transformers'."""
    from test_generic_engine import save_encoder

    d = save_encoder(kind, tmp_path)
    theta0 = state_dict(build_model(d, 1, "finetune", 0))
    prefix = kind + "."
    g = torch.Generator().manual_seed(2)
    d1 = {k: 0.05 * torch.randn(v.shape, generator=g) for k, v in theta0.items() if k.startswith(prefix)}
    assert len(d1) > 10  # the encoder moves
    dev = float_data(16, 4)
    dev["token_type_ids"].zero_()
    eng = HFLandscape(load_config(d, 1), theta0, d1, None, make_batches(dev, torch.arange(16), "dev", 160))
    m = build_model(d, 1, "finetune", 0)
    m.load_state_dict({k: theta0[k] + 0.6 * d1[k] if k in d1 else theta0[k] for k in theta0})
    ref, got = evaluate(m, dev, 160), eng.evaluate(0.6)
    assert got["dev_loss"] == pytest.approx(ref["mse"], rel=1e-5)
    assert got["dev_pearson"] == pytest.approx(ref["pearson"], abs=1e-5)
