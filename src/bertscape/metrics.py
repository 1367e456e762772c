"""Task losses and GLUE's metrics, chosen by the labels' dtype: integer class ids (classification,
cross-entropy) or float targets (regression: one output unit, mean squared error).

GLUE reports accuracy (SST-2, MNLI, QNLI, RTE, WNLI), F1 and accuracy (MRPC, QQP; F1 of class 1),
Matthews correlation (CoLA) and Pearson/Spearman correlation (STS-B). The ``dev_error`` of the
surfaces is 1 - accuracy for classification (the paper's) and 1 - Pearson r for regression:
bounded like 1 - accuracy, GLUE's own STS-B metric, invariant to the scale of the targets, and
not a copy of the dev loss (which already is the dev MSE). Constant predictions (Pearson r
undefined) count as r = 0, i.e. no better than predicting the mean.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .measures import ranks


def is_regression(labels: torch.Tensor) -> bool:
    return labels.is_floating_point()


def as_labels(labels: torch.Tensor) -> torch.Tensor:
    """Labels as the loss wants them: int64 class ids, or float32 targets."""
    return labels.float() if labels.is_floating_point() else labels.long()


def task_loss(logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy for class ids; MSE of the single output unit for float targets."""
    if labels.is_floating_point():
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype), reduction=reduction)
    return F.cross_entropy(logits, labels, reduction=reduction)


def predictions(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.float().squeeze(-1) if labels.is_floating_point() else logits.argmax(-1)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum()) / den if den > 0 else 0.0


def glue_metrics(pred: np.ndarray, gold: np.ndarray, regression: bool, n_classes: int = 2) -> dict[str, float]:
    """Regression: pearson, spearman, mse. Classification: acc, mcc, and f1 (of class 1) for two classes."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    if regression:
        pred, gold = pred.astype(np.float64), gold.astype(np.float64)
        ok = np.isfinite(pred).all()
        return {"pearson": _pearson(pred, gold),
                "spearman": _pearson(ranks(pred), ranks(gold)) if ok else float("nan"),
                "mse": float(((pred - gold) ** 2).mean())}
    out = {"acc": float((pred == gold).mean())}
    k = max(int(pred.max()), int(gold.max()), n_classes - 1) + 1
    c = np.zeros((k, k), dtype=np.float64)  # confusion: c[gold, pred]
    np.add.at(c, (gold, pred), 1)
    t, p, n, correct = c.sum(1), c.sum(0), c.sum(), np.trace(c)
    den = math.sqrt((n * n - float((p * p).sum())) * (n * n - float((t * t).sum())))
    out["mcc"] = (correct * n - float((t * p).sum())) / den if den > 0 else 0.0  # Gorodkin's multiclass MCC
    if n_classes == 2:
        tp, fp, fn = c[1, 1], c[0, 1], c[1, 0]
        out["f1"] = 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0
    return {k: float(v) for k, v in out.items()}  # plain floats: TSV/JSON writers print numpy scalars as reprs


def score(logits: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, float]:
    """Mean loss (float64 sum over the batches in order) and GLUE's metrics over all examples."""
    loss, n = 0.0, 0
    preds, golds = [], []
    for lg, y in zip(logits, labels):
        loss += float(task_loss(lg.float(), y, reduction="none").double().sum())
        n += len(y)
        preds.append(predictions(lg, y).cpu())
        golds.append(y.cpu())
    reg = is_regression(labels[0])
    return {"loss": loss / n, **glue_metrics(torch.cat(preds).numpy(), torch.cat(golds).numpy(), reg,
                                             logits[0].shape[-1])}


def dev_error(m: dict[str, float]) -> float:
    """The error the dev surfaces show: 1 - acc, or 1 - Pearson r for regression."""
    return 1.0 - (m["pearson"] if "pearson" in m else m["acc"])
