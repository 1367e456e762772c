"""An existing fine-tuned model as theta1 (tasks.<T>.finetuned): imported, it gives the train rule's outputs with
the same bits as the pipeline's own training of those weights, surfaces included; bad checkpoints are one line."""
import os
import subprocess
import sys

import pytest
import torch
import yaml

from bertscape import BertscapeError
from bertscape import checkpoints as ck
from bertscape.imported import check_compatible, checkpoint_dir, import_run, load_checkpoint, no_history
from bertscape.io import save_tensors
from bertscape.batches import make_batches
from bertscape.modeling import base_prefix, build_model, is_encoder_param, load_config
from bertscape.surfaces import build_engine
from bertscape.store import CheckpointStore
from bertscape.train import TrainSpec, train
from conftest import REPO, random_data, save_tiny

EPOCHS = 2


def trained_run(model_dir, init_path, out, data, seed):
    """A fine-tuning run as the train rule makes it: epoch0 (shared base) and the last epoch."""
    model = build_model(model_dir, 3, "finetune", 0)
    paths = [str(out / f"epoch{e}.safetensors") if e in (0, EPOCHS) else None for e in range(EPOCHS + 1)]
    moved = []
    spec = TrainSpec(epochs=EPOCHS, batch_size=8, lr=1e-3, eval_batch_tokens=160, seed=seed)
    out.mkdir()
    store = CheckpointStore(paths, out.parent / f".resume-{seed}", theta0_base=init_path, keep_intermediate=False,
                            displacements=moved)
    train(model, data, data, spec, store, progress=False)
    return moved


@pytest.fixture(scope="module")
def runs(tiny_bert_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("imported")
    m = build_model(tiny_bert_dir, 2, "finetune", 0)  # what finetune_init writes
    prefix = base_prefix(m)
    save_tensors(tmp / "finetune.safetensors", {k: v for k, v in m.state_dict().items() if is_encoder_param(k, prefix)})
    data, other = random_data(24, 120, 16, 3, 5), random_data(24, 120, 16, 3, 6)
    moved = trained_run(tiny_bert_dir, tmp / "finetune.safetensors", tmp / "own", data, 1)
    trained_run(tiny_bert_dir, tmp / "finetune.safetensors", tmp / "other", other, 2)
    # the user's copy of the same weights, as transformers saves a fine-tuned model
    user = build_model(tiny_bert_dir, 3, "finetune", 0)
    user.load_state_dict(ck.load(tmp / "own" / f"epoch{EPOCHS}.safetensors"))
    user.save_pretrained(tmp / "user_model")
    theta1, loaded = load_checkpoint(tmp / "user_model", tiny_bert_dir, 3, "tasks.MRPC.finetuned")
    rows, imported_moved = import_run(theta1, tiny_bert_dir, 3, "finetune", 0, tmp / "finetune.safetensors", data, 160,
                                      EPOCHS, tmp / "imported", {"task": "MRPC"})
    return {"tmp": tmp, "data": data, "moved": moved, "imported_moved": imported_moved, "rows": rows,
            "loaded": loaded, "model_dir": tiny_bert_dir}


def test_imported_checkpoints_are_the_trained_bits(runs):
    t = runs["tmp"]
    for e in (0, EPOCHS):
        a, b = ck.load(ck.full_path(t / "own", e)), ck.load(ck.full_path(t / "imported", e))
        assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a), e
    assert sorted(p.name for p in (t / "imported").iterdir()) == ["epoch0.safetensors", f"epoch{EPOCHS}.safetensors"]
    assert runs["imported_moved"] == [r for r in runs["moved"] if r["epoch"] in (0, EPOCHS)]
    assert [r["epoch"] for r in runs["rows"]] == [0, EPOCHS] and runs["loaded"]["labels"] == 3


@pytest.mark.parametrize("kind", ["surface", "layer_surface"])
def test_surfaces_from_an_imported_checkpoint_are_bit_identical(runs, kind):
    t = runs["tmp"]
    batches = make_batches(runs["data"], torch.arange(24), "train", 200)
    config = load_config(runs["model_dir"], 3)
    values = []
    for run in ("own", "imported"):
        d1, d2, _ = ck.directions(t / run, EPOCHS, t / "other", EPOCHS)
        eng, _ = build_engine(kind, config, t / run / "epoch0.safetensors", t / run / f"epoch{EPOCHS}.safetensors",
                              (d1, d2), batches, [1, 2] if kind == "layer_surface" else None)
        values.append([eng.evaluate(a, b) for a, b in [(0.0, 0.0), (1.0, 0.0), (0.5, -0.75), (-1.0, 1.0)]])
    assert values[0] == values[1]


def test_bad_checkpoints_are_one_line_errors(runs, tmp_path):
    md, key = runs["model_dir"], "tasks.MRPC.finetuned"

    def err(fn, *args):
        with pytest.raises(BertscapeError) as e:
            fn(*args)
        assert "\n" not in str(e.value) and key in str(e.value)
        return str(e.value)

    assert "does not exist" in err(checkpoint_dir, str(tmp_path / "nowhere"), None, key)
    (tmp_path / "empty").mkdir()
    assert "no config.json" in err(checkpoint_dir, str(tmp_path / "empty"), None, key)
    (tmp_path / "empty" / "config.json").write_text("{}")
    assert "no safetensors" in err(checkpoint_dir, str(tmp_path / "empty"), None, key)
    assert "not in the cache" in err(checkpoint_dir, "someone/model@abc123", tmp_path, key)
    other = save_tiny("modernbert", tmp_path / "modernbert")
    msg = err(check_compatible, other, md, key, "my-bert")
    assert "modernbert (vocab 120)" in msg and "bert (vocab 120)" in msg and "my-bert" in msg
    bigger = save_tiny("bert", tmp_path / "bert200", vocab=200)
    assert "vocab 200" in err(check_compatible, bigger, md, key, "my-bert")
    assert "lacks" in err(load_checkpoint, save_tiny("bert", tmp_path / "base"), md, 2, key)  # a base model: no head
    assert "3 labels, the task has 2" in err(load_checkpoint, runs["tmp"] / "user_model", md, 2, key)


def test_history_claims_are_na_for_imported_runs():
    rows = [{"claim": c, "measure": m, "task": t, "holds": True, "reason": ""}
            for c, m, t in [("C2", "epochs_to_loss", "MRPC"), ("C2", "path_ascent", "MRPC"), ("C2", "direction_epoch1", "MRPC"),
                            ("C2", "epochs_to_loss", "RTE"), ("C3", "long_run_dev_acc", "MRPC"), ("C1", "basin", "MRPC")]]
    out = no_history(rows, ["MRPC/finetune"], "MRPC")
    na = [(r["claim"], r["measure"], r["task"]) for r in out if r["holds"] is None]
    assert na == [("C2", "epochs_to_loss", "MRPC"), ("C2", "direction_epoch1", "MRPC"), ("C3", "long_run_dev_acc", "MRPC")]
    assert all("MRPC/finetune is an imported checkpoint" in r["reason"] for r in out if r["holds"] is None)
    assert no_history(rows, ["MRPC/scratch"], "MRPC")[4]["holds"] is True  # C3 continues the fine-tuning run only


def test_workflow_stops_on_a_bad_checkpoint_before_any_job(tmp_path):
    conf = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    conf["results"] = str(tmp_path / "out")
    conf["tasks"]["MRPC"]["finetuned"] = str(tmp_path / "missing")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--configfile", str(tmp_path / "c.yaml"), "--cores", "1"],
                       cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertscape:")]
    assert r.returncode != 0 and len(lines) == 1 and "tasks.MRPC.finetuned" in lines[0] and "does not exist" in lines[0], \
        r.stderr[-2000:]


def test_an_imported_scratch_run_has_the_trained_runs_theta0_and_theta1(tiny_bert_dir, tmp_path):
    """tasks.<T>.scratch: theta0 is the pipeline's shared random encoder + the seeded head, theta1 the given weights."""
    from bertscape.modeling import scratch_encoder_state

    save_tensors(tmp_path / "scratch.safetensors", scratch_encoder_state(tiny_bert_dir, 7))
    data = random_data(16, 120, 16, 3, 3)
    model = build_model(tiny_bert_dir, 3, "scratch", 0, ck.load(tmp_path / "scratch.safetensors"))
    (tmp_path / "own").mkdir()
    paths = [str(tmp_path / "own" / f"epoch{e}.safetensors") for e in (0, 1)]
    train(model, data, data, TrainSpec(epochs=1, batch_size=8, lr=1e-3, eval_batch_tokens=160),
          CheckpointStore(paths, tmp_path / "resume", theta0_base=tmp_path / "scratch.safetensors"), progress=False)
    model.save_pretrained(tmp_path / "user_model")
    theta1, _ = load_checkpoint(tmp_path / "user_model", tiny_bert_dir, 3, "tasks.MRPC.scratch")
    import_run(theta1, tiny_bert_dir, 3, "scratch", 0, tmp_path / "scratch.safetensors", data, 160, 1,
               tmp_path / "imported", {})
    for e in (0, 1):
        a, b = ck.load(ck.full_path(tmp_path / "own", e)), ck.load(ck.full_path(tmp_path / "imported", e))
        assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a), e
