"""Tokenise a prepared split once, into a padded safetensors cache."""

from __future__ import annotations

import os

import torch

from ..io import read_jsonl, save_tensors
from . import check_rows


def tokenize_rows(rows: list[dict], tokenizer, max_length: int) -> dict[str, torch.Tensor]:
    a = [r["text_a"] for r in rows]
    b = [r["text_b"] for r in rows] if rows[0]["text_b"] is not None else None
    enc = tokenizer(a, b, truncation=True, max_length=max_length, padding="longest",
                    return_tensors="pt", return_token_type_ids=True)
    return {
        "input_ids": enc["input_ids"].to(torch.int32),
        "token_type_ids": enc["token_type_ids"].to(torch.int8),
        "lengths": enc["attention_mask"].sum(1).to(torch.int32),
        # class ids, or float targets for regression (the loss is chosen by this dtype)
        "labels": torch.tensor([r["label"] for r in rows],
                               dtype=torch.float32 if isinstance(rows[0]["label"], float) else torch.int64),
    }


def tokenize_file(src: str | os.PathLike, dst: str | os.PathLike, model_dir: str | os.PathLike,
                  max_length: int, metadata: dict | None = None) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    rows = check_rows(read_jsonl(src), str(src))
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tensors = tokenize_rows(rows, tok, max_length)
    meta = {"pad_token_id": tok.pad_token_id, "max_length": max_length, **(metadata or {})}
    save_tensors(dst, tensors, meta)
    return tensors
