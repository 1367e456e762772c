"""Where the bf16 engine's error comes from, on a run's real curves/surfaces (issue 13's accuracy contract).

    PYTHONPATH=src python benchmarks/bf16_accuracy.py --config CONFIG [--results DIR] [--grid TASK/INIT/KIND ...]
                                                       [--variants ...] [--reps 2]

Builds the engine for each grid exactly as the curve/surface_shard rules do (same checkpoints, directions,
seeded training subset, batching) and evaluates every node of the grid (curves: all nodes; surfaces: a seeded
sample) in fp32 and in each variant. Variants:

- ``engine:<dtype>``: the engine itself (``bf16`` = the current bf16 engine, ``fp32`` = the reference);
- ``emul:<flags>``: fp32 kernels that round (to bf16 and back) only what the flags name:
  ``w`` matmul weights and biases, ``x`` matmul inputs, ``y`` matmul outputs, ``att`` attention
  (q, k, v rounded, SDPA in bf16), ``act`` the activation in bf16, ``w2`` weights split hi + lo (W ~ W_hi + W_lo,
  both bf16: what two bf16 matmuls see), ``x2`` the same for matmul inputs; ``keep:<op>`` leaves one op in fp32 (qkv, q, k, att, ao, ff1, act,
  ff2); ``top:K`` rounds only in the top K layers
  (``engine:bf16,top:K``: the real bf16 kernels in the top K layers, fp32 below). ``w,x,y,att,act`` is the bf16 engine's arithmetic emulated.

``--scan FILE`` evaluates every curve node and ``--surface-nodes`` seeded nodes of every surface of the run (all tasks
x inits) in fp32 and with the bf16 engine, writes one TSV row per node (fp32 and bf16 train loss, relative deviation,
seconds of each) and prints the deviation by band of loss / chance loss: whether a node's loss predicts its error.

``--matmul-bench`` also times one layer's matmuls as fp32, bf16, hi/lo weights (2 bf16 matmuls) and bf16x3
(3 matmuls, or 1 with K concatenated; still rounding the output to bf16, so a lower bound on their cost).

Prints per variant: max / median relative train-loss deviation from fp32 over the nodes, the worst node, and
points/s (all measured in this one process; ratios to the fp32 engine are what to compare).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bertscape.checkpoints import directions
from bertscape.config import data_seed, read_yaml, validate
from bertscape.data import task_spec
from bertscape.io import load_tensors, read_json
from bertscape.landscape import BertLandscape, residual
from bertscape.modeling import load_config, resolve_model_dir
from bertscape.batches import eval_batches
from bertscape.surfaces import build_engine, points

BF = torch.bfloat16


def r(t: torch.Tensor) -> torch.Tensor:
    return t.to(BF).float()


class Emulated(BertLandscape):
    """fp32 kernels; rounds to bf16 exactly the pieces named in ``self.flags`` (evaluate with dtype='fp32')."""

    flags: frozenset = frozenset()
    layer = 0

    def _layer_params(self, i, *args, **kw):
        self.layer = i  # the layer whose batches _layer runs next
        return super()._layer_params(i, *args, **kw)

    def _layer(self, W, x, pk, mask):
        f = self.flags
        top = [int(g[4:]) for g in f if g.startswith("top:")]  # only the top K layers rounded
        if not f or (top and self.layer < self.L - top[0]):
            return super()._layer(W, x, pk, mask)
        keep = {g[5:] for g in f if g.startswith("keep:")}  # ops left in fp32: qkv, q, k, att, ao, ff1, act, ff2
        idt = lambda t: t
        if "w" in f:
            rw = r
        elif "w2" in f:
            rw = lambda t: (lambda hi: hi + r(t - hi))(r(t))
        else:
            rw = idt
        rx, ry = (r if "x" in f else idt), (r if "y" in f else idt)
        if "x2" in f:  # inputs split hi + lo too: with w2, the three-product bf16x3 scheme (lo*lo dropped)
            rx = lambda t: (lambda hi: hi + r(t - hi))(r(t))

        def lin(op, x, w, b):
            if op in keep:
                return F.linear(x, w, b)
            return ry(F.linear(rx(x), rw(w), rw(b)))

        (B, T), H = pk.shape, self.H
        if {"q", "k"} & keep:  # per block of rows of the fused qkv weight
            qkv = torch.cat([lin(op, x, W["qkv.w"][j * H:(j + 1) * H], W["qkv.b"][j * H:(j + 1) * H])
                             for j, op in enumerate(("q", "k", "v"))], 1)
        else:
            qkv = lin("qkv", x, W["qkv.w"], W["qkv.b"])
        if pk.index is not None:
            qkv = qkv.new_zeros(B * T, 3 * H).index_copy_(0, pk.index, qkv)
        qkv = qkv.view(B, T, 3, self.nh, H // self.nh).permute(2, 0, 3, 1, 4)
        if "att" in f and "att" not in keep:
            q = qkv.to(BF)
            att = F.scaled_dot_product_attention(q[0], q[1], q[2], attn_mask=mask).float()
        else:
            att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask)
        att = att.transpose(1, 2).reshape(B * T, H)
        if pk.index is not None:
            att = att.index_select(0, pk.index)
        x = F.layer_norm(residual(lin("ao", att, W["ao.w"], W["ao.b"]), x), (H,), W["ln1.w"], W["ln1.b"], self.eps)
        h = lin("ff1", x, W["ff1.w"], W["ff1.b"])
        h = self.act(h.to(BF)).float() if "act" in f and "act" not in keep else self.act(h)
        return F.layer_norm(residual(lin("ff2", h, W["ff2.w"], W["ff2.b"]), x), (H,), W["ln2.w"], W["ln2.b"], self.eps)


class TopLow(BertLandscape):
    """The real bf16 engine in its top ``top`` layers only, fp32 below (``engine:bf16,top:K``)."""

    top = 0

    def _layer_params(self, i, a, b, use_base=False, low=False):
        return super()._layer_params(i, a, b, use_base, low and i >= self.L - self.top)


def grid_engine(c: dict, task: str, init: str, kind: str, dtype: str, cls=None):
    R = Path(c["results"])
    model_dir = resolve_model_dir(c["model"]["name"], c["resources_dir"], c["model"]["revision"])
    spec = task_spec(task, c["tasks"])
    mconf = load_config(model_dir, spec.num_labels)
    seed = c["display_seed"]  # the run whose surfaces are drawn
    data, run = R / "data" / f"seed{data_seed(c, seed)}" / task, R / f"seed{seed}"
    train = load_tensors(data / "train.tokens.safetensors")
    dev = load_tensors(data / "dev.tokens.safetensors")
    batches = eval_batches(train, dev if kind == "surface" else None, c["eval"], seed)
    ckpts = run / "train" / task / init / "checkpoints"
    other = run / "train" / c["tasks"][task]["other_task"] / init / "checkpoints"
    stats = read_json(run / "directions" / task / f"{init}.json")
    epochs = stats["epoch_theta1"]
    d1, d2, _ = directions(ckpts, epochs, other, stats["epoch_theta2"])
    import bertscape.surfaces as S
    old = S.make_engine
    if cls is not None:
        S.make_engine = lambda config, base, d1, d2, batches, dtype="fp32": cls(config, base, d1, d2, batches, dtype=dtype)
    try:
        eng, _ = build_engine(kind, mconf, ckpts / "epoch0.safetensors", ckpts / f"epoch{epochs}.safetensors", (d1, d2),
                              batches, None, dtype=dtype)
    finally:
        S.make_engine = old
    return eng


def matmul_bench(n: int = 520, h: int = 384, inter: int = 1536, reps: int = 15) -> None:
    """One layer's four matmuls (qkv, ao, ff1, ff2 at n tokens) as fp32, bf16, hi/lo schemes; interleaved, medians."""
    import statistics
    shapes = [(h, 3 * h), (h, h), (h, inter), (inter, h)]
    X = [torch.randn(n, k) for k, _ in shapes]
    W = [torch.randn(m, k) * 0.05 for k, m in shapes]
    Bs = [torch.randn(m) for _, m in shapes]
    hi = [w.to(BF) for w in W]
    lo = [(w - v.float()).to(BF) for w, v in zip(W, hi)]
    cat = [torch.cat([a, a, b], 1) for a, b in zip(hi, lo)]
    hib = [b.to(BF) for b in Bs]

    def split(x):
        xh = x.to(BF)
        return xh, (x - xh.float()).to(BF)

    def x3(x, a, b, bias):
        xh, xl = split(x)
        y = F.linear(xh, a).float()
        y += F.linear(xl, a).float()
        y += F.linear(xh, b).float()
        return y.add_(bias)

    fns = {"fp32": lambda: [F.linear(x, w, b) for x, w, b in zip(X, W, Bs)],
           "bf16 (engine)": lambda: [F.linear(x.to(BF), w, b) for x, w, b in zip(X, hi, hib)],
           "bf16 hi/lo weights (2 matmuls)": lambda: [F.linear(x.to(BF), a).float().add_(F.linear(x.to(BF), b).float())
                                                     .add_(c) for x, a, b, c in zip(X, hi, lo, Bs)],
           "bf16x3 (3 matmuls)": lambda: [x3(x, a, b, c) for x, a, b, c in zip(X, hi, lo, Bs)],
           "bf16x3 (1 matmul, K concatenated)": lambda: [F.linear(torch.cat([*split(x), split(x)[0]], 1), w).float().add_(c)
                                                        for x, w, c in zip(X, cat, Bs)]}
    t = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(reps):
        for k, f in fns.items():
            s = time.perf_counter()
            f()
            t[k].append(time.perf_counter() - s)
    m = {k: statistics.median(v) for k, v in t.items()}
    print(f"\none layer's matmuls at {n} tokens ({torch.get_num_threads()} threads), median of {reps}:")
    for k in fns:
        print(f"  {k:36s} {m[k] * 1e3:7.2f} ms  {m['fp32'] / m[k]:5.2f}x fp32")


def grid_nodes(c: dict, kind: str, n_surface: int, seed: int, alphas=None) -> list[tuple[str, float, float]]:
    """A grid's nodes as the rules evaluate them (curves: all, ``alphas`` = (min, max, n) overriding the config's
    axis; surfaces: ``n_surface`` of them, chosen by ``seed``)."""
    alpha = np.linspace(c["grid"]["min"], c["grid"]["max"], c["grid"]["curve_points" if kind == "curve" else "points"])
    if alphas and kind == "curve":
        alpha = np.linspace(alphas[0], alphas[1], int(alphas[2]))
    nodes = points(kind, alpha, None if kind == "curve" else alpha)
    if kind == "surface":
        pick = np.random.default_rng(seed).choice(len(nodes), min(n_surface, len(nodes)), replace=False)
        nodes = [nodes[i] for i in sorted(pick)]
    return nodes


def scan(c: dict, path: str, n_surface: int) -> None:
    """Every grid of the run: per node, fp32 vs bf16 engine train loss and time (TSV), then deviation by loss band."""
    rows = []
    for task in c["tasks"]:
        spec = task_spec(task, c["tasks"])
        chance = 1.0 if spec.regression else np.log(spec.num_labels)  # (regression: the bands are raw MSE)
        for init, kind in [(i, k) for i in ("finetune", "scratch") for k in ("curve", "surface")]:
            nodes = grid_nodes(c, kind, n_surface, seed=1)
            engines = [grid_engine(c, task, init, kind, d) for d in ("fp32", "bf16")]
            for name, x, y in nodes:
                out = []
                for eng in engines:
                    t = time.perf_counter()
                    out += [eng.evaluate(x, y)["train_loss"], time.perf_counter() - t]
                rows.append((f"{task}/{init}/{kind}", name, x, y, out[0], out[2], abs(out[2] - out[0]) / abs(out[0]),
                             out[0] / chance, out[1], out[3]))
    with open(path, "w") as f:
        f.write("grid\tnode\talpha\tbeta\tfp32\tbf16\trel\tloss_over_chance\ts_fp32\ts_bf16\n")
        f.writelines("\t".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows)
    rel, band = np.array([r[6] for r in rows]), np.array([r[7] for r in rows])
    print(f"{len(rows)} nodes; time fp32 / bf16 {sum(r[8] for r in rows) / sum(r[9] for r in rows):.2f}x; by loss / chance:")
    for lo, hi in [(0, .01), (.01, .1), (.1, .5), (.5, 1), (1, np.inf)]:
        m = (band >= lo) & (band < hi)
        if m.any():
            print(f"  [{lo:g}, {hi:g}): {m.sum():4d} nodes, max rel {rel[m].max():.3%}, median {np.median(rel[m]):.4%}, "
                  f"over 0.5 %: {(rel[m] > 0.005).sum()}")
    for r in sorted(rows, key=lambda r: -r[6])[:8]:
        print(f"  {r[0]:24s} {r[1]:>8s} alpha {r[2]:5.2f} beta {r[3]:5.2f}  loss {r[4]:.4g} ({r[7]:.3g} x chance)  {r[6]:.3%}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--results")
    ap.add_argument("--grid", nargs="+", default=["RTE/finetune/curve"])
    ap.add_argument("--variants", nargs="+",
                    default=["engine:bf16", "emul:w", "emul:x", "emul:y", "emul:att", "emul:act", "emul:w,x,y,att,act",
                             "emul:x,y,att,act", "emul:w2,x,y,att,act"])
    ap.add_argument("--surface-nodes", type=int, default=12)
    ap.add_argument("--alphas", type=float, nargs=3, metavar=("MIN", "MAX", "N"),
                    help="curves: evaluate this alpha grid instead of the config's (e.g. 1 2 21: a dense far range)")
    ap.add_argument("--reps", type=int, default=1, help="timing repetitions over the nodes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--scan", metavar="TSV", help="every grid of the run: fp32 vs bf16 per node, by loss band")
    ap.add_argument("--matmul-bench", action="store_true", help="also time hi/lo matmul schemes against fp32 and bf16")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.matmul_bench:
        matmul_bench()
    c = validate(read_yaml(a.config))
    if a.results:
        c["results"] = a.results
    if a.scan:
        return scan(c, a.scan, a.surface_nodes)
    for g in a.grid:
        task, init, kind = g.split("/")
        nodes = grid_nodes(c, kind, a.surface_nodes, seed=0, alphas=a.alphas)
        ref_eng = grid_engine(c, task, init, kind, "fp32")
        ref, t = {}, time.perf_counter()
        for _ in range(a.reps):
            ref = {n: ref_eng.evaluate(x, y)["train_loss"] for n, x, y in nodes}
        ref_rate = a.reps * len(nodes) / (time.perf_counter() - t)
        print(f"\n{g}: {len(nodes)} nodes, fp32 engine {ref_rate:.2f} points/s; "
              f"train loss {min(ref.values()):.4g} .. {max(ref.values()):.4g}")
        print(f"{'variant':28s} {'max rel':>9s} {'median':>9s} {'worst node':>12s} {'pts/s':>7s} {'x fp32':>7s}")
        for v in a.variants:
            how, spec = v.split(":", 1)
            if how == "engine" and ",top:" in spec:
                eng, dt = grid_engine(c, task, init, kind, spec.split(",")[0], TopLow), None
                eng.top = int(spec.split(",top:")[1])
            elif how == "engine":
                eng, dt = grid_engine(c, task, init, kind, spec), None
            else:
                eng, dt = grid_engine(c, task, init, kind, "fp32", Emulated), "fp32"
                eng.flags = frozenset(spec.split(","))
            t = time.perf_counter()
            for _ in range(a.reps):
                val = {n: eng.evaluate(x, y, dtype=dt)["train_loss"] for n, x, y in nodes}
            rate = a.reps * len(nodes) / (time.perf_counter() - t)
            rel = {n: abs(val[n] - ref[n]) / abs(ref[n]) for n in ref}
            worst = max(rel, key=rel.get)
            print(f"{v:28s} {rel[worst]:9.3%} {np.median(list(rel.values())):9.3%} {worst:>12s} {rate:7.2f} "
                  f"{rate / ref_rate:7.2f}")
            if a.reps and v == a.variants[0]:
                print("   per node:", " ".join(f"{n}={rel[n]:.2%}" for n, _, _ in nodes))


if __name__ == "__main__":
    main()
