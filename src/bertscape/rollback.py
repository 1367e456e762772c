"""Table 1: the fine-tuned model's dev score (the task's metric) with one layer group reset to theta0, and which dev
examples each model gets right (``dev_correct``, :mod:`bertscape.paired`: C5's per-example paired test)."""

from __future__ import annotations

from .architectures import layer_keys, layer_map
from .checkpoints import load
from .modeling import build_model
from .metrics import score
from .paired import correct, encode
from .train import dev_outputs


def _evaluate(model, dev, batch_tokens: int) -> tuple[dict, str]:
    logits, labels = dev_outputs(model, dev, batch_tokens)
    return score(logits, labels), encode(correct(logits, labels))


def _row(group, lo, hi, ev: tuple[dict, str], metric: str, full: float | None) -> dict:
    r, right = ev
    return {"group": group, "first_layer": lo, "last_layer": hi, "dev_loss": r["loss"],
            **{f"dev_{k}": v for k, v in r.items() if k != "loss"}, "metric": metric, "score": r[metric],
            "delta": 0.0 if full is None else r[metric] - full, "dev_correct": right}


def rollback_rows(model_dir, theta0_path, theta1_path, dev, groups: dict[str, list[int]], batch_tokens: int,
                  num_labels: int, metric: str = "acc") -> list[dict]:
    """``metric``: the task's headline metric (acc, f1, mcc, pearson, spearman); ``score`` and ``delta`` use it."""
    theta0, theta1 = load(theta0_path), load(theta1_path)
    model = build_model(model_dir, num_labels, "finetune", 0)
    model.load_state_dict(theta1)
    full = _evaluate(model, dev, batch_tokens)
    lmap = layer_map(model)
    rows = [_row("none", "", "", full, metric, None)]
    for name, (lo, hi) in groups.items():
        keys = layer_keys(theta1, [lo, hi], lmap)
        model.load_state_dict({**theta1, **{k: theta0[k] for k in keys}})
        rows.append(_row(name, lo, hi, _evaluate(model, dev, batch_tokens), metric, full[0][metric]))
    return rows
