"""Bring your own task, end to end: config/tiny-custom.yaml (STS-B regression from a GLUE-format directory,
a custom csv classification task) runs every rule; figures, Table 1, summary and claims name each task's metric."""
import json

import pytest
from conftest import REPO
from test_workflow import smk

from bertscape.h5io import read_grid
from bertscape.io import read_tsv


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_custom") / "results"
    r = smk("--configfile", "config/tiny-custom.yaml", "--config", f"results={out}", "--cores", "2", timeout=2400)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    return out


@pytest.mark.slow
def test_regression_and_custom_task_end_to_end(custom_run):
    out = custom_run
    for f in ["fig1_train_loss_surfaces", "fig2_training_curves", "fig3_trajectories", "fig4_long_run", "fig5_curves",
              "fig6_dev_error_surfaces", "fig7_layer_surfaces", "table1_rollback"]:
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{f}.{ext}").stat().st_size > 1000
    sts = read_grid(out / "seed7" / "surfaces" / "STS-B" / "finetune.h5")
    assert sts.attrs["loss"] == "MSE" and sts.attrs["dev_error_is"] == "1 − Pearson r"
    assert {"train_pearson", "dev_pearson", "dev_error"} <= set(sts.values) and "dev_acc" not in sts.values
    assert sts.anchors["end"]["dev_error"] == pytest.approx(1 - sts.anchors["end"]["dev_pearson"])
    pol = read_grid(out / "seed7" / "surfaces" / "Polarity" / "finetune.h5")
    assert pol.attrs["dev_error_is"] == "1 − acc" and "dev_acc" in pol.values
    epochs = read_tsv(out / "seed7" / "train" / "STS-B" / "finetune" / "epochs.tsv")
    assert {"dev_pearson", "dev_spearman", "dev_mse"} <= set(epochs[0]) and "dev_acc" not in epochs[0]
    table = (out / "figures" / "table1_rollback.md").read_text()
    assert "| STS-B (Pearson r) |" in table and "| Polarity |" in table and "Spearman rho" in table
    summary = (out / "summary.md").read_text()
    assert "Pearson r" in summary and "accuracy" in summary
    doc = json.loads((out / "claims" / "claims.json").read_text())
    claims = doc["per_seed"][str(doc["display_seed"])]
    m = {(c["measure"], c["task"]): c for c in claims}
    assert ("long_run_dev_pearson", "STS-B") in m and ("rollback_dev_pearson", "STS-B") in m
    assert "Var(train targets)" in m["epochs_to_loss", "STS-B"]["criterion"]
    assert "ln(2)" in m["epochs_to_loss", "Polarity"]["criterion"]
    assert not any("accuracy" in c["criterion"] for c in claims if c["task"] == "STS-B")
    assert (REPO / "config" / "tiny-custom.yaml").is_file()
