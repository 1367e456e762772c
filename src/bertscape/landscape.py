"""The landscape engine: J(base + alpha*d1 + beta*d2) on many grid points, fast.

Evaluation is layer-major: at each grid point the weights of one layer are materialised
into a single reusable buffer and every batch passes through that layer before the next
one is built. Layers below the lowest varied layer are not recomputed: their output is
cached once (layer-group surfaces). Hidden states are packed: only real tokens go through
the matmuls, layer norms and activation; they are scattered into a padded block for
attention alone. The word-embedding matrix is cut down to the token ids that occur in the
evaluation data (exactly the same numbers, far less memory traffic).

Memory: private copies of base, d1, d2 (vocabulary cut), one layer of weights, one buffer
holding every batch's hidden states (each layer's output is copied over its input), and one
batch's activations, all freed before the next batch (so the heap is reused, not fragmented).

Determinism: a point's value depends only on (base, d1, d2, alpha, beta, data, batching,
threads), never on which other points were evaluated before, so shards of a grid merge to
bit-identical results whatever the shard count.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import BertscapeError
from .batches import Batch
from .metrics import dev_error, is_regression, score
from .precision import LOW, matmul_mode, resolve

State = dict[str, torch.Tensor]
# activations in place: the (tokens x intermediate) buffer is the largest transient of a layer
_MATMUL = ("qkv", "ao.", "ff1", "ff2")  # weight-name prefixes of the matmuls (what low precision rounds)
_ACTS = {"gelu": torch.ops.aten.gelu_, "relu": torch.Tensor.relu_,
         "gelu_new": lambda x: torch.ops.aten.gelu_(x, approximate="tanh"),
         "gelu_pytorch_tanh": lambda x: torch.ops.aten.gelu_(x, approximate="tanh")}


@dataclass
class Pack:
    """One batch's real tokens, packed row after row (what the fast engine keeps per batch)."""
    ids: torch.Tensor           # (N,) compact-vocabulary ids of the real tokens
    types: torch.Tensor         # (N,)
    pos: torch.Tensor           # (N,) position of each token in its example
    index: torch.Tensor | None  # (N,) row of each token in the padded (B*T) block; None without padding
    cls: torch.Tensor           # (B,) row of each example's first token
    shape: tuple[int, int]      # (B, T)


def pack(b: Batch, ids: torch.Tensor) -> Pack:
    B, T = b.ids.shape
    real = torch.ones(B, T, dtype=torch.bool, device=ids.device) if b.mask is None else b.mask.view(B, T)
    index = real.flatten().nonzero().squeeze(1)  # row-major: tokens of example 0, then 1, ...
    lengths = real.sum(1)
    return Pack(ids.flatten()[index], b.types.flatten()[index], index % T, None if b.mask is None else index,
                torch.cumsum(lengths, 0) - lengths, (B, T))


def _own(v: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A private fp32 copy. Tensors read with safetensors are views of the file's mmap: every page a
    view ever touched stays resident (RSS) while any view of that file lives, dead tensors' pages included."""
    return v.to(device=device, dtype=torch.float32, copy=True)


def residual(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x + f, in f's buffer when that loses nothing; a bf16/fp16 f is widened first (the same sum, and 1.6x
    faster on CPU than the mixed-dtype x + f)."""
    return f.add_(x) if f.dtype == x.dtype else f.float().add_(x)


def _layer_of(key: str, n_layers: int) -> int:
    head = key.split(".")[0]
    if head == "emb":
        return -1
    if head.isdigit():
        return int(head)
    return n_layers


def fuse_bert(p: State, n_layers: int) -> State:
    """HF BERT names -> engine names (fused QKV). Linear, so it maps directions too; partial dicts allowed."""
    out: State = {}
    emb = {"word": "word_embeddings.weight", "pos": "position_embeddings.weight", "type": "token_type_embeddings.weight",
           "ln.w": "LayerNorm.weight", "ln.b": "LayerNorm.bias"}
    for k, v in emb.items():
        if f"bert.embeddings.{v}" in p:
            out[f"emb.{k}"] = p[f"bert.embeddings.{v}"]
    for i in range(n_layers):
        L = f"bert.encoder.layer.{i}."
        if L + "attention.self.query.weight" not in p:
            continue
        a = L + "attention.self."
        out[f"{i}.qkv.w"] = torch.cat([p[a + "query.weight"], p[a + "key.weight"], p[a + "value.weight"]])
        out[f"{i}.qkv.b"] = torch.cat([p[a + "query.bias"], p[a + "key.bias"], p[a + "value.bias"]])
        for k, v in {"ao": "attention.output.dense", "ln1": "attention.output.LayerNorm", "ff1": "intermediate.dense",
                     "ff2": "output.dense", "ln2": "output.LayerNorm"}.items():
            out[f"{i}.{k}.w"], out[f"{i}.{k}.b"] = p[L + v + ".weight"], p[L + v + ".bias"]
    for k, v in {"pool": "bert.pooler.dense", "cls": "classifier"}.items():
        if v + ".weight" in p:
            out[f"{k}.w"], out[f"{k}.b"] = p[v + ".weight"], p[v + ".bias"]
    return out


def supports_fast(config) -> bool:
    """Whether the fast engine applies: a BERT model with absolute positions and an activation it knows."""
    return getattr(config, "model_type", None) == "bert" and config.hidden_act in _ACTS \
        and getattr(config, "position_embedding_type", "absolute") == "absolute"


class BertLandscape:
    """Evaluate J(base + a*d1 + b*d2) for BERT-architecture sequence classifiers."""

    def __init__(self, config, base: State, d1: State, d2: State | None, batches: list[Batch],
                 device: str | torch.device | None = None, dtype: str = "fp32"):
        if not supports_fast(config):
            raise BertscapeError(f"the fast engine supports BERT models only (got {config.model_type})")
        self.L, self.H, self.nh = config.num_hidden_layers, config.hidden_size, config.num_attention_heads
        self.eps, self.act = config.layer_norm_eps, _ACTS[config.hidden_act]
        if set(d1) - set(base) or (d2 is not None and set(d2) != set(d1)):
            raise BertscapeError("directions must cover the same parameters, all present in the base point")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = resolve(dtype, self.device)  # auto -> bf16 or fp32 for this device
        dev = self.device
        # compact vocabulary: only the ids that occur in the data
        vocab = torch.unique(torch.cat([b.ids.flatten() for b in batches]))
        self.batches = [Batch(b.ids.to(dev), b.types.to(dev), None if b.mask is None else b.mask.to(dev),
                              b.labels.to(dev), b.set_name, b.n_tokens) for b in batches]
        self.packs = [pack(b, torch.searchsorted(vocab.to(dev), b.ids)) for b in self.batches]
        # the hidden states of all batches, in one persistent buffer (see the module docstring)
        ends = torch.cumsum(torch.tensor([pk.ids.numel() for pk in self.packs]), 0).tolist()
        hbuf = torch.empty(ends[-1], self.H, device=dev)
        self.hs = [hbuf[e - pk.ids.numel():e] for e, pk in zip(ends, self.packs)]
        cut = lambda s: {k: (v[vocab] if k == "bert.embeddings.word_embeddings.weight" else v) for k, v in s.items()}
        put = lambda s: {k: _own(v, dev).contiguous() for k, v in fuse_bert(cut(s), self.L).items()}
        self.base, self.d1 = put(base), put(d1)
        self.d2 = None if d2 is None else put(d2)
        self.buf = {k: torch.empty_like(v) for k, v in self.d1.items() if _layer_of(k, self.L) < 0 or
                    _layer_of(k, self.L) >= self.L}
        layer_keys = [k for k in self.d1 if 0 <= _layer_of(k, self.L) < self.L]
        if layer_keys:  # one reusable layer-sized buffer, shared by all varied layers
            i0 = _layer_of(layer_keys[0], self.L)
            self.layer_buf = {k.split(".", 1)[1]: torch.empty_like(self.d1[k]) for k in layer_keys if k.startswith(f"{i0}.")}
        # low precision: the matmul weights of a point, rounded once from the fp32 sum into these buffers
        low = LOW.get(self.dtype)
        self.low_buf = {} if low is None or not layer_keys else \
            {k: torch.empty_like(v, dtype=low) for k, v in self.layer_buf.items() if k[:3] in _MATMUL}
        self.base_low = {} if low is None else {  # layers recomputed at every point but not varied
            k: v.to(low) for k, v in self.base.items() if k[:1].isdigit() and k not in self.d1
            and _layer_of(k, self.L) >= max(self.start_of(self.d1), 0) and k.split(".", 1)[1][:3] in _MATMUL}
        self.start = self.start_of(self.d1)
        self.cached = None
        if self.start >= 0:  # inputs to the lowest varied layer never change across the grid
            with torch.inference_mode():
                hs = [self._embed(self.base, pk) for pk in self.packs]
                for i in range(min(self.start, self.L)):
                    W = self._layer_params(i, 0.0, 0.0, use_base=True)
                    hs = [self._layer(W, h, pk, b.mask) for h, pk, b in zip(hs, self.packs, self.batches)]
            self.cached = hs

    def start_of(self, d1: State) -> int:
        return min(_layer_of(k, self.L) for k in d1)

    # -- weights -----------------------------------------------------------------
    def _mat(self, key: str, a: float, b: float, out: torch.Tensor) -> torch.Tensor:
        torch.add(self.base[key], self.d1[key], alpha=a, out=out)
        if self.d2 is not None:
            out.add_(self.d2[key], alpha=b)
        return out

    def _params(self, keys, a, b) -> State:
        return {k: (self._mat(k, a, b, self.buf[k]) if k in self.d1 else self.base[k]) for k in keys}

    def _layer_params(self, i: int, a: float, b: float, use_base: bool = False, low: bool = False) -> State:
        """Layer i's weights at (a, b): summed in fp32; with ``low`` the matmul weights and biases are then
        rounded once into bf16/fp16 (layer-norm parameters stay fp32)."""
        out = {}
        for k in ("qkv.w", "qkv.b", "ao.w", "ao.b", "ln1.w", "ln1.b", "ff1.w", "ff1.b", "ff2.w", "ff2.b", "ln2.w", "ln2.b"):
            full = f"{i}.{k}"
            varied = full in self.d1 and not use_base
            out[k] = self._mat(full, a, b, self.layer_buf[k]) if varied else self.base[full]
            if low and k[:3] in _MATMUL:
                out[k] = self.low_buf[k].copy_(out[k]) if varied else self.base_low[full]
        return out

    # -- forward -----------------------------------------------------------------
    def _embed(self, P: State, pk: Pack) -> torch.Tensor:
        x = P["emb.word"][pk.ids] + P["emb.pos"][pk.pos] + P["emb.type"][pk.types]
        return F.layer_norm(x, (self.H,), P["emb.ln.w"], P["emb.ln.b"], self.eps)

    def _layer(self, W: State, x: torch.Tensor, pk: Pack, mask) -> torch.Tensor:
        """One encoder layer on packed tokens x (N, H); only attention sees the padded (B, T) block.
        The residual stream x and the layer norms stay fp32; with low-precision weights W the matmul inputs
        are rounded to W's dtype and the matmuls, attention and activation run in it (fp32 accumulation)."""
        (B, T), H = pk.shape, self.H
        low = W["qkv.w"].dtype
        qkv = F.linear(x.to(low), W["qkv.w"], W["qkv.b"])
        if pk.index is not None:  # pad rows are zeros: masked keys, queries whose outputs are dropped
            qkv = qkv.new_zeros(B * T, 3 * H).index_copy_(0, pk.index, qkv)
        qkv = qkv.view(B, T, 3, self.nh, H // self.nh).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=mask).transpose(1, 2).reshape(B * T, H)
        if pk.index is not None:
            att = att.index_select(0, pk.index)
        x = F.layer_norm(residual(F.linear(att, W["ao.w"], W["ao.b"]), x), (H,), W["ln1.w"], W["ln1.b"], self.eps)
        f = F.linear(self.act(F.linear(x.to(low), W["ff1.w"], W["ff1.b"])), W["ff2.w"], W["ff2.b"])
        return F.layer_norm(residual(f, x), (H,), W["ln2.w"], W["ln2.b"], self.eps)

    def logits(self, a: float, b: float = 0.0, dtype: str | None = None) -> list[torch.Tensor]:
        """Logits at (a, b) in the engine's precision, or in ``dtype`` (e.g. fp32 for the accuracy check)."""
        dtype = self.dtype if dtype is None else dtype
        low = dtype in LOW
        if low and dtype != self.dtype:
            raise BertscapeError(f"engine built for {self.dtype} cannot evaluate in {dtype}")
        with torch.inference_mode(), matmul_mode(dtype):
            if self.start < 0:
                P = self._params(["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"], a, b)
                hs = [h.copy_(self._embed(P, pk)) for h, pk in zip(self.hs, self.packs)]
            else:
                hs = self.cached
            for i in range(max(self.start, 0), self.L):
                W = self._layer_params(i, a, b, low=low)
                hs = [o.copy_(self._layer(W, h, pk, bt.mask)) for o, h, pk, bt in zip(self.hs, hs, self.packs, self.batches)]
            P = self._params(["pool.w", "pool.b", "cls.w", "cls.b"], a, b)
            return [F.linear(torch.tanh(F.linear(h[pk.cls], P["pool.w"], P["pool.b"])), P["cls.w"], P["cls.b"])
                    for h, pk in zip(hs, self.packs)]

    def evaluate(self, a: float, b: float = 0.0, dtype: str | None = None) -> dict[str, float]:
        return metrics(self.logits(a, b, dtype), self.batches)

    def useful_flops(self) -> float:
        """FLOPs of the real tokens through the layers recomputed at each point (matmuls + attention)."""
        return useful_flops(self.H, self.base["0.ff1.w"].shape[0], self.L - max(self.start, 0), self.batches)


def useful_flops(hidden: int, inter: int, n_layers: int, batches: list[Batch]) -> float:
    """FLOPs of the real (non-pad) tokens through ``n_layers`` transformer layers: the matmuls, 2 x (4 H^2 + 2 H I)
    per token, plus attention scores and mixing, ~4 T H per token at the batch's mean length T."""
    per_tok = 2 * (4 * hidden * hidden + 2 * hidden * inter)
    att = sum(4 * bt.n_tokens * (bt.n_tokens / bt.ids.shape[0]) * hidden for bt in batches)
    return n_layers * (per_tok * sum(bt.n_tokens for bt in batches) + att)


def metrics(logits: list[torch.Tensor], batches: list[Batch]) -> dict[str, float]:
    """Per evaluation set: the mean loss and accuracy (classification: cross-entropy) or the mean loss and
    Pearson r (regression: MSE), sums in float64 in a fixed order; ``dev_error`` (see :mod:`.metrics`)."""
    sets: dict[str, tuple[list, list]] = {}
    for lg, bt in zip(logits, batches):
        lgs, ys = sets.setdefault(bt.set_name, ([], []))
        lgs.append(lg)
        ys.append(bt.labels)
    out = {}
    for name, (lgs, ys) in sets.items():
        m = score(lgs, ys)
        key = "pearson" if is_regression(ys[0]) else "acc"
        out[f"{name}_loss"], out[f"{name}_{key}"] = m["loss"], m[key]
    if "dev_loss" in out:
        out["dev_error"] = dev_error({k[4:]: v for k, v in out.items() if k.startswith("dev_")})
    return out


class HFLandscape:
    """The same J(base + a*d1 + b*d2) for any transformers sequence classifier (RoBERTa, DistilBERT, ...):
    weights written in place into one model from base, d1, d2 at every point (no drift, no copies), the
    model's own forward on the same length-sorted batches. Slower than ``BertLandscape`` (no layer-major
    materialisation, no hidden-state cache), but architecture-agnostic."""

    def __init__(self, config, base: State, d1: State, d2: State | None, batches: list[Batch],
                 device: str | torch.device | None = None, dtype: str = "fp32"):
        from transformers import AutoModelForSequenceClassification

        from .modeling import batch_inputs, quiet_transformers

        if set(d1) - set(base) or (d2 is not None and set(d2) != set(d1)):
            raise BertscapeError("directions must cover the same parameters, all present in the base point")
        quiet_transformers()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.dtype = resolve(dtype, self.device)  # bf16/fp16: the model's own forward under autocast
        self.model = AutoModelForSequenceClassification.from_config(config).to(self.device).eval()
        self.model.load_state_dict({k: v.float() for k, v in base.items()})
        params = dict(self.model.named_parameters())
        put = lambda s: {k: _own(v, self.device) for k, v in s.items()}
        self.targets = {k: params[k] for k in d1}
        self.base, self.d1 = put({k: base[k] for k in d1}), put(d1)
        self.d2 = None if d2 is None else put(d2)
        self.batches = [Batch(b.ids.to(self.device), b.types.to(self.device), None if b.mask is None else b.mask.to(self.device),
                              b.labels.to(self.device), b.set_name, b.n_tokens) for b in batches]
        self.inputs = [batch_inputs(self.model, b.ids, b.types, b.mask) for b in self.batches]
        self.config = config

    def logits(self, a: float, b: float = 0.0, dtype: str | None = None) -> list[torch.Tensor]:
        dtype = self.dtype if dtype is None else dtype
        ac = torch.autocast(self.device.type, dtype=LOW[dtype]) if dtype in LOW else nullcontext()
        with torch.inference_mode(), matmul_mode(dtype):
            for k, p in self.targets.items():  # theta = base + a d1 + b d2, recomputed from base every time
                torch.add(self.base[k], self.d1[k], alpha=a, out=p)
                if self.d2 is not None:
                    p.add_(self.d2[k], alpha=b)
            with ac:
                return [self.model(**kw).logits for kw in self.inputs]

    def evaluate(self, a: float, b: float = 0.0, dtype: str | None = None) -> dict[str, float]:
        return metrics(self.logits(a, b, dtype), self.batches)

    def useful_flops(self) -> float:
        """Matmul + attention FLOPs of the real tokens through every layer (nothing is cached here)."""
        c = self.config
        inter = getattr(c, "intermediate_size", None) or getattr(c, "hidden_dim", 4 * c.hidden_size)
        return useful_flops(c.hidden_size, inter, c.num_hidden_layers, self.batches)


def make_engine(config, base: State, d1: State, d2: State | None, batches: list[Batch], dtype: str = "fp32"):
    """The fast BERT engine where it applies, the generic one otherwise."""
    return (BertLandscape if supports_fast(config) else HFLandscape)(config, base, d1, d2, batches, dtype=dtype)
