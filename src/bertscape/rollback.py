"""Table 1: dev accuracy of the fine-tuned model with one layer group reset to theta0."""

from __future__ import annotations

from .io import load_tensors
from .modeling import build_model
from .surfaces import layer_keys
from .train import evaluate


def rollback_rows(model_dir, theta0_path, theta1_path, dev, groups: dict[str, list[int]], batch_tokens: int,
                  num_labels: int) -> list[dict]:
    theta0, theta1 = load_tensors(theta0_path), load_tensors(theta1_path)
    model = build_model(model_dir, num_labels, "finetune", 0)
    model.load_state_dict(theta1)
    full = evaluate(model, dev, batch_tokens)
    rows = [{"group": "none", "first_layer": "", "last_layer": "", "dev_loss": full["loss"], "dev_acc": full["acc"], "delta": 0.0}]
    for name, (lo, hi) in groups.items():
        keys = layer_keys(theta1, [lo, hi])
        model.load_state_dict({**theta1, **{k: theta0[k] for k in keys}})
        r = evaluate(model, dev, batch_tokens)
        rows.append({"group": name, "first_layer": lo, "last_layer": hi, "dev_loss": r["loss"], "dev_acc": r["acc"],
                     "delta": r["acc"] - full["acc"]})
    return rows
