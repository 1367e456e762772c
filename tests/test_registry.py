"""The claim registry: every row a claim function emits is listed (with the function that emits it), and gating
reads the registry, so a renamed measure fails loudly instead of losing its gate."""
import dataclasses

import pytest

from bertscape import claims as C
from bertscape import preconditions as P
from bertscape.data import METRIC_NAMES
from test_claims import curve, surface
from test_flatness import record
from test_preconditions import bowl, by, checks_for

GROUPS = {"low": [0, 1], "mid": [2, 3], "high": [4, 5]}


def every_row(metric: str) -> list[tuple[object, dict]]:
    """(function, row) for each row every claim function emits on small synthetic inputs, in ``metric``."""
    bowl2 = surface(lambda a, b: 0.1 * ((a - 1) ** 2 + b ** 2), n=21)
    bowl1 = curve(lambda a: 0.1 * (a - 1) ** 2, n=21)
    for a in bowl2.anchors.values():
        a["dev_error"] = a["train_loss"] / 10
    inits = ("finetune", "scratch")
    surfaces, curves = {("T", i): bowl2 for i in inits}, {("T", i): bowl1 for i in inits}
    epochs = {("T", i): [{"epoch": 0, "train_loss": 0.7}, {"epoch": 1, "train_loss": 0.2}] for i in inits}
    traj = {("T", i): [{"epoch": 1, "cos": 0.5, "d_alpha": 1.0, "d_beta": 0.1}] for i in inits}
    long = [{"epoch": 2, f"dev_{metric}": 0.8}, {"epoch": 4, f"dev_{metric}": 0.79}]
    rollback = {"T": [{"group": "none", "delta": 0.0, "metric": metric}]
                + [{"group": g, "delta": -0.1 * k, "metric": metric} for k, g in enumerate(GROUPS)]}
    layer = surface(lambda a, b: a * a + b * b, n=5)
    layer.anchors["rollback"] = {"alpha": -1.0, "beta": 0.0, "train_loss": 1.0}
    hessian = {("T", i): {"lambda_max": 3.0, "iterations": 5, "rel_change": 1e-3} for i in inits}
    filt = {("T", i): {"summary": {"width": {"mean": 0.3, "sd": 0.1, "n": 3}, "censored": 0,
                                   "rise": {"0.1": {"mean": 0.02, "sd": 0.01}},
                                   "local_width": {"radius": 0.1, "censored": False}}} for i in inits}
    calls = [(C.c1_wider_optima, (surfaces, curves, ["T"], 0.1)),
             (C.sharpness, (hessian, ["T"])),
             (C.c1_flatness, ({("T", i): {"flatness": record()} for i in inits}, ["T"])),
             (C.c2_easier_optimisation, (epochs, curves, traj, ["T"], {"T": 2}, 0.5, 0.01)),
             (C.c3_overfitting, (long, "T", 0.01, metric)),
             (C.c4_consistency, (surfaces, ["T"], 0.5, 0.5)),
             (C.c5_lower_layers, (rollback, {("T", g): layer for g in GROUPS}, GROUPS)),
             (C.c5_contrast, (rollback, GROUPS)),
             (C.c3_contrast, (long, [{"epoch": 20, f"dev_{metric}": 0.7}, {"epoch": 22, f"dev_{metric}": 0.6}], "T",
                              0.01, metric)),
             (C.c6_orthogonal, ({("T", "finetune"): {"other_task": "U", "cos_delta1_delta2": 0.01}}, 0.2)),
             (C.c2_matched, (epochs, {("T", i): [{"epoch": 1, "step": 1, "lr": 1e-4}] for i in inits}, traj, ["T"],
                             {"T": 0.35}, [0.5])),
             (C.c2_dense_path, (curves, ["T"], 0.01)),
             (C.c4_theta1_window, (surfaces, ["T"], {"alpha_min": 0.75, "alpha_max": 1.5, "beta_max": 1.0,
                                                     "transect": 2.0}, 0.5)),
             (C.c1_filter_normalized, (filt, ["T"], 0.1))]
    sizes = C.c1_wider_optima(*calls[0][1]) + C.sharpness(*calls[1][1])
    calls.append((C.in_units, (sizes, {("T", i): {"norm_delta1": 2.0, "norm_theta1": 20.0} for i in inits})))
    return [(f, r) for f, args in calls for r in f(*args)]


@pytest.mark.parametrize("metric", ["acc", "pearson"])
def test_every_emitted_row_has_a_registry_entry_naming_its_function(metric):
    rows = every_row(metric)
    assert {f for f, _ in rows} == {m.function for m in C.CLAIMS}  # every claim function was exercised
    for f, r in rows:
        entry = C.lookup(r["claim"], r["measure"])
        assert entry.function is f and entry.title == C.TITLES[r["claim"]]


def test_registry_lists_each_row_kind_once_with_known_preconditions_and_titles():
    keys = [(m.claim, m.measure) for m in C.CLAIMS]
    assert len(keys) == len(set(keys))
    assert {m.claim for m in C.CLAIMS} == set(C.TITLES)
    named = {q.partition("/")[0] for m in C.CLAIMS for p in m.needs + m.explained_by for q in p.split("|")}
    assert named <= set(P.NAMES) and {"P2a", "P2b"} <= named
    assert {m.measure for m in C.CLAIMS} >= {f"long_run_dev_{k}" for k in METRIC_NAMES}


def test_gate_refuses_a_row_the_registry_does_not_list():
    row = {"claim": "C1", "measure": "basin_area_renamed", "task": "MRPC", "values": {}, "criterion": "", "holds": True}
    with pytest.raises(KeyError, match="C1/basin_area_renamed"):
        C.gate([row], checks_for(bowl(1.0), bowl(1.0)))


def test_gate_follows_each_entrys_needs():
    """P2a and P2b fail for MRPC's fine-tuned run (minimum at alpha 1.67, 0.13 below theta1): exactly the entries
    that need P2 (either clause) become n/a."""
    checks = checks_for(bowl(1.67), bowl(1.0))
    assert by(checks, "P2a", "finetune")["holds"] is False and by(checks, "P2b", "finetune")["holds"] is False
    for m in C.CLAIMS:
        row = {"claim": m.claim, "measure": m.measure, "task": "MRPC", "values": {}, "criterion": "", "holds": True}
        gated = C.gate([row], checks)[0]
        if C.P2 in m.needs:
            assert gated["holds"] is None and gated["reason"].startswith("P2a: curve minimum at alpha = 1.67")
        else:
            assert gated["holds"] is True and gated["reason"] == ""


def test_gate_gives_an_undecided_rows_registered_reason(monkeypatch):
    row = {"claim": "C4", "measure": "spearman_loss_error", "task": "MRPC", "values": {}, "criterion": "", "holds": None}
    checks = checks_for(bowl(1.0), bowl(1.0))
    assert C.gate([row], checks)[0]["reason"] == C.lookup("C4", "spearman_loss_error").undefined
    entry = C.lookup("C4", "spearman_loss_error")
    edited = dataclasses.replace(entry, undefined="edited for {t}")
    monkeypatch.setattr(C, "lookup", lambda claim, measure: edited)
    assert C.gate([row], checks)[0]["reason"] == "edited for MRPC"


def test_evaluate_refuses_inputs_and_keys_that_do_not_line_up():
    """The rule passes each input list with its (task, init) keys; a list and its keys of different lengths would
    pair a file with the wrong run, so evaluate stops naming the list instead."""
    with pytest.raises(ValueError, match="2 surfaces inputs but 1 keys"):
        C.evaluate({"surfaces": ["a.h5", "b.h5"]}, {"surfaces": [["T", "finetune"]]}, {"tasks": ["T"], "claims": {}})


def test_claims_page_lists_every_decision_with_its_effects_and_title():
    from bertscape.evidence import aggregate
    from bertscape.report import claims_html
    from test_evidence import CL

    rows = C.gate([r for _, r in every_row("acc")], checks_for(bowl(1.0), bowl(1.0)))
    doc = aggregate({42: {"claims": rows, "preconditions": [], "table1_vs_paper": [],
                          "precision": [{"grid": "surface/T/finetune", "max_rel_train_loss": 0.0012, "within_budget": True}]}},
                    CL, 42)
    page = claims_html(doc)
    # the headline per claim, every decision (per task and pooled: 2 per measure), the grid
    assert page.count("<tr class=") == len(C.TITLES) + len(doc["decisions"]) + 1
    assert len(doc["decisions"]) == 2 * len({(r["claim"], r["measure"]) for r in rows})
    assert C.TITLES["C4"] in page and "<code>T/42: " in page and "1.20e-03" in page
