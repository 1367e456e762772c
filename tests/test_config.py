"""Config validation (one line naming the key), layer groups, the GPU-hours estimate, the CLI."""
import copy
import re

import pytest
import yaml
from conftest import REPO

from bertscape import BertscapeError
from bertscape.cli import main as cli
from bertscape.config import grid_axis, layer_groups, read_yaml, validate
from bertscape.estimate import PACKED_RATIO, checkpoint_bytes_before, disk, estimate, flops_per_token, n_params

TINY = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())


def bad(change: dict, path=()):
    c = copy.deepcopy(TINY)
    node = c
    for p in path:
        node = node[p]
    node.update(change)
    return c


@pytest.mark.parametrize("config, key", [
    (bad({"XNLI": {"other_task": "MNLI"}}, ("tasks",)), "tasks"),
    (bad({"other_task": "MNLI"}, ("tasks", "MNLI")), "tasks.MNLI.other_task"),
    (bad({"other_task": "RTE"}, ("tasks", "MNLI")), "tasks.MNLI.other_task"),
    (bad({"points": 1}, ("grid",)), "grid.points"),
    (bad({"min": 2.0, "max": -2.0}, ("grid",)), "grid.min"),
    (bad({"lr": 0}, ("tasks", "MRPC")), "tasks.MRPC.lr"),
    (bad({"lr": "fast"}, ("tasks", "MRPC")), "tasks.MRPC.lr"),
    (bad({"batch_size": 0}, ("tasks", "MRPC")), "tasks.MRPC.batch_size"),
    (bad({"batch_size": 2.5}, ("tasks", "MRPC")), "tasks.MRPC.batch_size"),
    (bad({"epochs_finetune": -1}, ("tasks", "MRPC")), "tasks.MRPC.epochs_finetune"),
    (bad({"groups": {"low": [0, 2], "mid": [2, 3]}}, ("layers",)), "layers.groups.mid"),
    (bad({"groups": {"low": [3, 1]}}, ("layers",)), "layers.groups.low"),
    (bad({"tasks": ["RTE"]}, ("layers",)), "layers.tasks"),
    (bad({"source": "glue_dir", "glue_dir": "/does/not/exist"}, ("data",)), "data.glue_dir"),
    (bad({"source": "glue_dir"}, ("data",)), "data.glue_dir"),
    (bad({"colour": "red"}, ("figures",)), "figures"),
    (bad({"flatness": {"lanczos": {"steps": 4, "top": 5}}}), "flatness.lanczos.top"),
    (bad({"flatness": {"worst_case": {"rhos": []}}}), "flatness.worst_case.rhos"),
    (bad({"flatness": {"examples": 0}}), "flatness.examples"),
    (bad({"long_run": {"task": "MRPC", "inits": ["scratch"]}}, ("train",)), "train.long_run.inits"),
    (bad({"long_run": {"task": "MRPC", "inits": ["long"]}}, ("train",)), "train.long_run.inits"),
])
def test_bad_values_name_their_key_in_one_line(config, key):
    with pytest.raises(BertscapeError) as e:
        validate(config)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"config key {key}"), msg


def test_defaults_are_filled_and_valid_configs_pass():
    c = validate(copy.deepcopy(TINY))
    assert c["train"]["warmup_ratio"] == 0.1 and c["eval"]["dtype"] == "fp32"
    for name in ("config.yaml", "config/embedded.yaml", "config/tiny.yaml"):
        validate(read_yaml(REPO / name))
    paper = validate(read_yaml(REPO / "config.yaml"))
    axis = grid_axis(paper)
    assert len(axis) == 41 and 0.0 in axis and 1.0 in axis and axis[0] == -4 and axis[-1] == 4
    # the paper's hub sources are pinned to commits (a branch name moves)
    for rev in (paper["model"]["revision"], paper["data"]["hub_revision"]):
        assert re.fullmatch(r"[0-9a-f]{40}", rev or ""), rev


def test_yaml_that_is_not_a_mapping(tmp_path):
    (tmp_path / "c.yaml").write_text("- a\n- b\n")
    with pytest.raises(BertscapeError, match="must be a YAML mapping"):
        read_yaml(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("a: [1,\n")
    with pytest.raises(BertscapeError, match=r"d.yaml:\d+: invalid YAML"):
        read_yaml(tmp_path / "d.yaml")


def test_layer_groups_default_to_thirds_and_are_checked_against_depth():
    c = validate(copy.deepcopy(TINY))
    assert layer_groups(c["layers"]["groups"], 24) == {"low": [0, 7], "mid": [8, 15], "high": [16, 23]}
    assert layer_groups(c["layers"]["groups"], 6) == {"low": [0, 1], "mid": [2, 3], "high": [4, 5]}
    c["layers"]["groups"] = {"a": [0, 5], "b": [6, 12]}
    with pytest.raises(BertscapeError, match="layers.groups.b: layer 12 is beyond the model's 12 layers"):
        layer_groups(c["layers"]["groups"], 12)


def test_estimate_by_hand():
    c = validate(copy.deepcopy(TINY))
    c["model"]["name"] = "bert-base-uncased"
    f = flops_per_token(12, 768, 3072, 48)  # MRPC's 53.5 tokens truncated at max_length 48
    assert f == 12 * (2 * (4 * 768**2 + 2 * 768 * 3072) + 4 * 48 * 768)
    lines = {x.rule: x for x in estimate(c, tflops=100)}
    # MRPC finetune 2 + scratch 2 + long 1 epochs, MNLI 2 + 1, each over the full GLUE train set
    mrpc = 3 * flops_per_token(12, 768, 3072, 48) * 48 * 3668 * 5
    mnli = 3 * flops_per_token(12, 768, 3072, 40.6) * 40.6 * 392_702 * 3
    assert lines["train"].pflop == pytest.approx((mrpc + mnli) / 1e15)
    assert lines["train"].gpu_hours == pytest.approx((mrpc + mnli) / 100e12 / 3600)
    # sharpness: 16-example training subset, 6 power iterations (tiny's cap), one HVP ~ 6 forward passes, both inits
    assert c["claims"]["hessian"]["iterations"] == 6
    hvp = sum(2 * 6 * flops_per_token(12, 768, 3072, t) * t * 16 * 6 for t in (48, 40.6))
    # flatness (tiny: 8 examples; Lanczos 4 + 3 steps + 4 explicit residuals + 2 probes = 13 HVPs, 1 rho x 1 start x
    # 2 forward+backward, 1 sigma x 3 forwards): 6 x 13 + 3 x 2 + 3 = 87 forward passes per example
    flat = sum(2 * flops_per_token(12, 768, 3072, t) * t * 8 * 87 for t in (48, 40.6))
    assert lines["sharpness"].jobs == 4 and lines["sharpness"].pflop == pytest.approx((hvp + flat) / 1e15)
    c["flatness"]["enabled"] = False
    lines = {x.rule: x for x in estimate(c, tflops=100)}
    assert lines["sharpness"].jobs == 4 and lines["sharpness"].pflop == pytest.approx(hvp / 1e15)
    # points: at most every in-grid node and claims.basin_points past the edge on the training subset, and C4's
    # window (tiny: step 1, window 1 -> 3 x 3 nodes) + C3's cell + the theta1 window's transect beyond it (beta +-2:
    # 2 nodes) on the dev set; MRPC dev 408, MNLI dev 9815
    pts = sum(2 * flops_per_token(12, 768, 3072, t) * t * (16 * (25 + c["claims"]["basin_points"]) + dev * 15)
              for t, dev in ((48, 408), (40.6, 9815)))
    assert lines["points"].jobs == 4 and lines["points"].pflop == pytest.approx(pts / 1e15)


def test_parameter_count_matches_a_real_model(tiny_bert_dir):
    from bertscape.modeling import build_model

    model = build_model(tiny_bert_dir, 2, "finetune", 0)  # 3 layers, hidden 32, intermediate 64, vocab 120, 64 positions
    assert n_params(3, 32, 64, vocab=120, positions=64) == sum(p.numel() for p in model.parameters())


def test_disk_estimate_by_hand():
    c = validate(copy.deepcopy(TINY))  # MNLI, MRPC x (finetune, scratch) x 2 epochs, but MNLI scratch 1; long +1
    P = n_params(6, 384, 1536)
    rows = {x.rule: x for x in disk(c)}
    head, enc = 4 * 2 * 385, 4 * (P - 2 * 385)  # a 2-label classifier; each init's shared encoder, once
    # every run: theta0's head + the last epoch in fp32, packed (epochs in between only while it trains); the two
    # long runs (long, long_scratch): nothing, or their last epochs with train.long_run.keep_checkpoint
    last = 4 * P * PACKED_RATIO
    assert rows["train"].bytes == 4 * (head + last)
    c["train"]["long_run"]["keep_checkpoint"] = True
    assert {x.rule: x for x in disk(c)}["train"].bytes == 4 * (head + last) + 2 * last
    c["train"]["last_checkpoint"] = "fp32"
    assert {x.rule: x for x in disk(c)}["train"].bytes == 4 * (head + 4 * P) + 2 * 4 * P
    assert rows["scratch_init"].bytes == rows["finetune_init"].bytes == enc
    # while the 2-epoch runs train: theta0, 2 epochs' weights and AdamW moments, epoch 1 as an fp16 delta
    assert rows["train"].transient == 2 * 4 * P + 2 * 8 * P + 2 * P and rows["directions"].bytes < 1e4
    c["train"]["keep_intermediate"] = True  # everything: theta0 whole (the deltas' base), epoch 1 as a delta
    assert {x.rule: x for x in disk(c)}["train"].bytes == 3 * (2 * 4 * P + 2 * P) + 2 * 4 * P + 2 * 4 * P
    c["train"]["intermediate_checkpoints"] = "fp32"  # (all three with plain last epochs)
    assert {x.rule: x for x in disk(c)}["train"].bytes == 3 * (head + 2 * 4 * P) + head + 4 * P + 2 * 4 * P
    # before: every epoch fp32, AdamW (2 moments) kept, delta1 + delta2 per task x init, the scratch init
    assert checkpoint_bytes_before(c) == 3 * (3 * 4 * P + 8 * P) + 2 * (2 * 4 * P + 8 * P) + 4 * 2 * 4 * P + enc


def test_cli_validate_and_estimate(capsys, tmp_path):
    assert cli(["validate", str(REPO / "config" / "tiny.yaml")]) == 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad({"points": 1}, ("grid",))))
    assert cli(["validate", str(tmp_path / "bad.yaml")]) == 2
    assert "config key grid.points" in capsys.readouterr().err
    assert cli(["estimate", str(REPO / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "surface_shard" in out and "MB on disk" in out and "peak footprint" in out


def test_equal_settings_validate_to_equal_params_whatever_their_spelling():
    """Snakemake's params trigger compares repr(): the validated config must not depend on key order,
    defaults left out or written, 2 or 2.0, strings from a nested --config, or path spelling."""
    a = validate(copy.deepcopy(TINY))
    b = copy.deepcopy(TINY)
    b = {k: b[k] for k in reversed(list(b))}
    b["tasks"] = {t: dict(reversed(list(s.items()))) for t, s in reversed(list(b["tasks"].items()))}
    b["grid"] = {"shards": 2, "curve_points": 9, "points": 5, "max": 2, "min": "-2"}
    b["eval"] = {"dtype": "fp32", "dev_subset": None, "batch_tokens": "2048", "train_subset": 16}
    b["train"]["weight_decay"] = 0.01
    b["results"] = "./" + a["results"] + "/"
    b = validate(b)
    assert repr(a) == repr(b) and list(a["tasks"]) == ["MNLI", "MRPC"] and a["grid"]["min"] == -2.0
    c = copy.deepcopy(TINY)
    c["layers"]["groups"] = {"top": [4, 5], "bottom": [0, 1], "middle": [2, 3]}
    assert list(validate(c)["layers"]["groups"]) == ["bottom", "middle", "top"]
    assert validate(copy.deepcopy(TINY)) != validate({**copy.deepcopy(TINY), "seed": 8})
