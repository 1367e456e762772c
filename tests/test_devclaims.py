"""Per-example dev claims (issue 26): the exact McNemar test, C3 epoch by epoch, C5 as the paper's contrast, the
per-example records the train and rollback rules keep, and the per-epoch dev rows of the long run."""
import random

import pytest
import torch
from conftest import random_data
from scipy.stats import binomtest

from bertscape import claims as C
from bertscape.devclaims import c3_per_epoch, c5_contrast, effect_contrast, effect_worst_drop, paired_start_end
from bertscape.io import read_tsv, save_tensors, write_tsv
from bertscape.modeling import build_model, state_dict
from bertscape.paired import binom_two_sided, correct, decode, encode, mcnemar
from bertscape.rollback import rollback_rows
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, evaluate, train

GROUPS = {"low": [0, 0], "mid": [1, 1], "high": [2, 2]}


@pytest.mark.parametrize("k,n", [(0, 0), (0, 1), (1, 1), (0, 5), (2, 9), (5, 10), (7, 10), (13, 40), (30, 41),
                                 (200, 400), (170, 400)])
def test_two_sided_exact_p_is_scipys_binomtest(k, n):
    want = 1.0 if n == 0 else binomtest(k, n, 0.5, alternative="two-sided").pvalue
    assert binom_two_sided(k, n) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_mcnemar_counts_only_the_discordant_examples():
    rng = random.Random(0)
    a = [rng.random() < 0.7 for _ in range(400)]
    b = [x if rng.random() < 0.9 else not x for x in a]
    r = mcnemar(a, b)
    better = sum(y and not x for x, y in zip(a, b))
    worse = sum(x and not y for x, y in zip(a, b))
    assert (r["n"], r["b_better"], r["b_worse"]) == (400, better, worse) and better + worse > 0
    assert r["p"] == pytest.approx(binomtest(better, better + worse, 0.5).pvalue, rel=1e-12)
    assert mcnemar(a, a)["p"] == 1.0 and mcnemar(a, a)["b_better"] == 0
    assert mcnemar([False] * 20, [True] * 20)["p"] == pytest.approx(2 * 0.5 ** 20)  # 20 of 20 discordant one way
    assert mcnemar(None, b)["p"] is None and mcnemar(a, b[:-1])["b_better"] is None  # no record / not alike


def test_correctness_strings_round_trip_and_stay_strings_in_a_tsv(tmp_path):
    flags = [True, False, False, True, True]
    assert encode(flags) == "+--++" and decode(encode(flags)) == flags
    assert encode(None) == "" and decode("") is None and decode(float("nan")) is None
    with pytest.raises(ValueError, match="string of"):
        decode("0110")
    write_tsv(tmp_path / "e.tsv", [{"epoch": 0, "dev_correct": "++"}, {"epoch": 1, "dev_correct": "-+"}])
    assert [decode(r["dev_correct"]) for r in read_tsv(tmp_path / "e.tsv")] == [[True, True], [False, True]]
    logits = [torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([[0.0, 3.0]])]
    assert correct(logits, [torch.tensor([0, 0]), torch.tensor([1])]) == [True, False, True]
    assert correct([torch.zeros(2, 1)], [torch.tensor([0.5, 1.0])]) is None  # regression: no per-example record


def epochs_rows(scores, strings, first=12):
    return [{"epoch": first + i, "dev_acc": s, "dev_correct": c} for i, (s, c) in enumerate(zip(scores, strings))]


def test_c3_finds_the_worst_epoch_not_only_the_endpoints():
    start, dip, end = "++++++++--", "++++------", "+++++++++-"  # 0.8, then 0.4 at epoch 14, then 0.9
    rows = epochs_rows([0.8, 0.7, 0.4, 0.9], [start, "+++++++---", dip, end])
    [r] = c3_per_epoch(rows, "MRPC", 0.02)
    v = r["values"]
    assert (v["worst_epoch"], v["worst"], v["start"]) == (14, 0.4, 0.8) and v["worst_drop"] == pytest.approx(-0.4)
    assert r["holds"] is False and v["scores"] == [0.8, 0.7, 0.4, 0.9] and v["epochs"] == [12, 13, 14, 15]
    assert (v["paired_worst_vs_start"]["b_better"], v["paired_worst_vs_start"]["b_worse"]) == (0, 4)
    assert v["paired_worst_vs_start"]["p"] == pytest.approx(binomtest(0, 4, 0.5).pvalue)
    assert effect_worst_drop(v, {"acc_tol": 0.02}) == pytest.approx(-0.38)
    end_vs_start = paired_start_end(rows)
    assert (end_vs_start["b_better"], end_vs_start["b_worse"]) == (1, 0)  # the endpoints alone: one better
    [flat] = c3_per_epoch(epochs_rows([0.8, 0.8, 0.81], ["+-", "+-", "++"]), "MRPC", 0.02)
    assert flat["holds"] is True and flat["values"]["worst_drop"] == 0.0
    assert C.lookup("C3", "long_run_worst_drop").band == "long_run_dev"


def test_c3_endpoint_row_carries_the_paired_test_and_the_projected_point_is_not_a_claim():
    rows = C.c3_overfitting(epochs_rows([0.8, 0.4, 0.79], ["++++", "+---", "+++-"]), "MRPC", 0.02)
    assert [r["measure"] for r in rows] == ["long_run_dev_acc", "long_run_worst_drop"]
    assert rows[0]["values"]["paired_end_vs_start"]["b_worse"] == 1
    with pytest.raises(KeyError):
        C.lookup("C3", "long_run_stays_in_basin")
    with pytest.raises(KeyError):
        C.lookup("C3", "long_run_projected_point")  # descriptive (Figure 4), never decided


def table(deltas: dict, strings: dict, metric="acc"):
    rows = [{"group": "none", "first_layer": "", "last_layer": "", "metric": metric, "delta": 0.0,
             "dev_correct": strings["none"]}]
    return rows + [{"group": g, "first_layer": GROUPS[g][0], "last_layer": GROUPS[g][1], "metric": metric,
                    "delta": d, "dev_correct": strings[g]} for g, d in deltas.items()]


def test_c5_contrast_on_a_planted_contrast_and_its_reversal():
    s = {"none": "++++++++--", "low": "+++++++---", "mid": "++++++----", "high": "+++-------"}
    paper = table({"low": -0.1, "mid": -0.2, "high": -0.5}, s)
    [r] = c5_contrast({"RTE": paper}, GROUPS)
    v = r["values"]
    assert r["holds"] is True and v["costliest_lower"] == "mid" and v["contrast"] == pytest.approx(0.3)
    assert (v["paired_high_vs_lower"]["b_better"], v["paired_high_vs_lower"]["b_worse"]) == (0, 3)
    assert effect_contrast(v, {}) == pytest.approx(0.3)
    # a mid rollback as costly as high: no contrast (the total order's ties do not matter here, only high vs the rest)
    [tie] = c5_contrast({"RTE": table({"low": 0.0, "mid": -0.5, "high": -0.5}, s)}, GROUPS)
    assert tie["holds"] is False and tie["values"]["contrast"] == 0.0
    # reversed: low hurts most
    [rev] = c5_contrast({"RTE": table({"low": -0.5, "mid": -0.1, "high": 0.0}, s)}, GROUPS)
    assert rev["holds"] is False and rev["values"]["costliest_lower"] == "low" and rev["values"]["contrast"] == -0.5
    # a total order violated between low and mid does not decide the contrast (low -0.2 < mid 0.0, high -0.6)
    [mixed] = c5_contrast({"RTE": table({"low": -0.2, "mid": 0.0, "high": -0.6}, s)}, GROUPS)
    [order] = [x for x in C.c5_lower_layers({"RTE": table({"low": -0.2, "mid": 0.0, "high": -0.6}, s)}, {}, GROUPS)]
    assert mixed["holds"] is True and order["holds"] is False
    assert C.lookup("C5", "rollback_contrast").band == "rollback_contrast"


def test_rollback_keeps_per_example_correctness_with_a_planted_high_layer(tiny_bert_dir, tmp_path):
    """theta0 equals theta1 except in the high layer (noised): low and mid rollbacks are the full model example by
    example (no discordant example), high's record matches its own accuracy and its paired test."""
    theta1 = state_dict(build_model(tiny_bert_dir, 3, "finetune", 0))
    g = torch.Generator().manual_seed(5)
    theta0 = {k: v + 1.0 * torch.randn(v.shape, generator=g) if ".layer.2." in k else v.clone()
              for k, v in theta1.items()}
    save_tensors(tmp_path / "t0.safetensors", theta0)
    save_tensors(tmp_path / "t1.safetensors", theta1)
    dev = random_data(60, 120, 20, 3, 1)
    rows = rollback_rows(tiny_bert_dir, tmp_path / "t0.safetensors", tmp_path / "t1.safetensors", dev, GROUPS, 160, 3)
    by = {r["group"]: r for r in rows}
    for grp in by:
        flags = decode(by[grp]["dev_correct"])
        assert len(flags) == 60 and sum(flags) / 60 == pytest.approx(by[grp]["dev_acc"])
    assert by["low"]["dev_correct"] == by["mid"]["dev_correct"] == by["none"]["dev_correct"]
    assert by["high"]["dev_correct"] != by["none"]["dev_correct"]  # the planted layer changes predictions
    [r] = c5_contrast({"T": rows}, GROUPS)
    v = r["values"]
    assert v["contrast"] == pytest.approx(-by["high"]["delta"]) and r["holds"] == (by["high"]["delta"] < 0)
    p = v["paired_high_vs_lower"]
    assert p["b_better"] - p["b_worse"] == round(60 * by["high"]["delta"])


def test_train_keeps_per_example_dev_every_epoch_or_only_at_the_ends(tiny_bert_dir, tmp_path):
    spec = TrainSpec(epochs=3, batch_size=8, lr=1e-3, seed=3, eval_batch_tokens=256)
    data, dev = random_data(24, 120, 16, 2, 0), random_data(10, 120, 16, 2, 1)
    out = {}
    for every in (True, False):
        model = build_model(tiny_bert_dir, 2, "finetune", spec.seed)
        d = tmp_path / str(every)
        store = CheckpointStore([str(d / f"epoch{e}.safetensors") for e in range(4)], d / ".resume", identity="x")
        _, out[every] = train(model, data, dev, spec, store, progress=False, dev_every_epoch=every)
    assert all(len(decode(r["dev_correct"])) == 10 for r in out[True])
    assert [sum(decode(r["dev_correct"])) / 10 for r in out[True]] == [r["dev_acc"] for r in out[True]]
    ends = out[False]
    assert [bool(r["dev_correct"]) for r in ends] == [False, False, False, True] and ends[1]["dev_acc"] != ends[1]["dev_acc"]
    assert [list(r) for r in ends] == [list(r) for r in out[True]]  # the same columns, in the same order
    assert list(ends[0])[:3] == ["epoch", "train_loss", "dev_loss"] and list(ends[0])[-1] == "dev_correct"
    assert ends[3]["dev_correct"] == out[True][3]["dev_correct"]  # evaluating has no effect on the weights
    assert [r["train_loss"] for r in ends[1:]] == [r["train_loss"] for r in out[True][1:]]
    assert evaluate(model, dev, 256)["acc"] == ends[3]["dev_acc"]


def test_c3_contrast_scratch_overfits_finetune_does_not():
    ft = epochs_rows([0.80, 0.79, 0.80], ["++++", "++++", "++++"])
    sc = epochs_rows([0.80, 0.60, 0.55], ["++++", "++--", "+---"], first=20)
    [r] = C.c3_contrast(ft, sc, "MRPC", 0.02)
    v = r["values"]
    assert v["finetune"]["worst_drop"] == pytest.approx(-0.01) and v["scratch"]["worst_drop"] == pytest.approx(-0.25)
    assert r["holds"] is True and v["contrast"] == pytest.approx(0.24) and v["scratch"]["worst_epoch"] == 22
    assert v["scratch"]["paired_worst_vs_start"]["b_worse"] == 3
    [rev] = C.c3_contrast(sc, ft, "MRPC", 0.02)
    assert rev["holds"] is False and C.effect(rev, {}) == pytest.approx(-0.24)
    assert C.lookup("C3", "long_run_contrast").band == "long_run_dev"


def test_long_runs_follow_train_long_run_inits():
    from bertscape import config as cfg
    base = {"train": {"long_run": {"task": "MRPC", "extra_epochs": 3, "inits": ["finetune", "scratch"]}},
            "tasks": {"MRPC": {"epochs_finetune": 4, "epochs_scratch": 7, "lr": 1e-4, "scratch_lr": 3e-4,
                               "batch_size": 8}}}
    assert cfg.long_runs(base) == ["long", "long_scratch"]
    assert cfg.epochs(base, "MRPC", "long") == 7 and cfg.epochs(base, "MRPC", "long_scratch") == 10
    base["train"].update(weight_decay=0.01, warmup_ratio=0.1, max_grad_norm=1.0, dtype="fp32", batching="random")
    p = cfg.train_params(base, "MRPC", "long_scratch", 1)
    assert (p["epochs"], p["lr"]) == (3, 3e-4) and cfg.train_params(base, "MRPC", "long", 1)["lr"] == 1e-4
    base["train"].update(last_checkpoint="fp32_packed")  # the long runs publish no weights unless kept
    base["train"]["long_run"]["keep_checkpoint"] = False
    assert [cfg.last_checkpoint(base, i) for i in ("finetune", "scratch", "long", "long_scratch")] == [
        "fp32_packed", "fp32_packed", "none", "none"]
    base["train"]["long_run"]["keep_checkpoint"] = True
    assert {cfg.last_checkpoint(base, i) for i in ("finetune", "long", "long_scratch")} == {"fp32_packed"}
    base["train"]["long_run"]["inits"] = ["finetune"]
    assert cfg.long_runs(base) == ["long"]
    base["train"]["long_run"]["task"] = None
    assert cfg.long_runs(base) == []


def test_per_epoch_values_print_compactly_in_claims_tsv():
    from bertscape.verdicts import fmt
    assert fmt({"epochs": [12, 13], "scores": [0.81234, 0.5]}) == "{epochs: [12, 13], scores: [0.8123, 0.5]}"
