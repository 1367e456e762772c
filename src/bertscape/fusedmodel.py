"""S models of one architecture and shape as one module: every parameter stacked along a leading run axis.

The fused module is a copy of the first model whose ``nn.Linear``, ``nn.LayerNorm``, ``nn.Embedding`` and
``nn.Dropout`` are replaced by stacked versions; everything between them (attention reshapes, masks, softmax,
activations, residuals) is the architecture's own code, run on a batch of S x B rows: rows s*B .. s*B+B-1
belong to run s. A linear layer is one batched matmul over the runs (``baddbmm``: weights (S, out, in)),
an embedding one lookup in the S tables laid end to end, a layer norm one normalisation and a per-run affine.

Dropout is per run and independent of the group: run s's masks are drawn from its own generator at its own
batch's shape (its real rows and tokens), by the CPU sampler torch's dropout uses, then padded, so a run's random
stream is the separate loop's and does not depend on which other runs share its group or how far the group pads.
The attention probabilities' dropout is done the same way by an attention function registered with transformers
(:data:`ATTENTION`); without dropout that function is the model's own (SDPA), so a dropout-free fused run
computes what the separate run computes, batched.

Supported (:data:`SUPPORTED`, forward equal to the separate models' to ~1e-8, tested): BERT, RoBERTa, XLM-R,
ELECTRA, DistilBERT -- their parameters all live in those four module types and are used only through them.
DeBERTa-v2 (its relative position table is read as a raw tensor) and ModernBERT are not: a one-line error.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import BertscapeError

ATTENTION = "bertscape_fused"


@dataclass
class Layout:
    """This step's batch: S runs x B rows x T tokens; ``real[s]`` = (rows, tokens) of run s's own batch
    ((0, 0): run s takes no step now); ``gens[s]``: run s's dropout generator."""
    S: int
    B: int
    T: int
    real: list[tuple[int, int]] = field(default_factory=list)
    gens: list[torch.Generator] = field(default_factory=list)


_LAYOUT: ContextVar[Layout | None] = ContextVar("bertscape_fused_layout", default=None)


def layout() -> Layout:
    lay = _LAYOUT.get()
    if lay is None:
        raise BertscapeError("a fused model runs only inside fusedmodel.step_layout(...)")
    return lay


class step_layout:
    """``with step_layout(lay): fused(...)``: the layout the stacked modules read during one forward/backward."""

    def __init__(self, lay: Layout):
        self.lay = lay

    def __enter__(self):
        self.token = _LAYOUT.set(self.lay)
        return self.lay

    def __exit__(self, *exc):
        _LAYOUT.reset(self.token)


def _rows(x: torch.Tensor, S: int) -> torch.Tensor:
    """x (S*B, ..., d) as (S, B*..., d)."""
    return x.reshape(S, -1, x.shape[-1])


class StackedLinear(nn.Module):
    """The weights stored transposed, (S, in, out): the forward and both backward matmuls then read and write
    contiguous blocks (measured: 1.4x faster fp32 fwd+bwd than (S, out, in) at MiniLM's shapes, batch 8)."""

    def __init__(self, mods: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach().T for m in mods]))
        self.bias = None if mods[0].bias is None else nn.Parameter(torch.stack([m.bias.detach() for m in mods]))

    def forward(self, x):
        S = self.weight.shape[0]
        x3 = _rows(x, S)
        y = torch.bmm(x3, self.weight) if self.bias is None else torch.baddbmm(self.bias.unsqueeze(1), x3, self.weight)
        return y.reshape(*x.shape[:-1], y.shape[-1])


class StackedLayerNorm(nn.Module):
    def __init__(self, mods: list[nn.LayerNorm]):
        super().__init__()
        self.shape, self.eps = tuple(mods[0].normalized_shape), mods[0].eps
        if len(self.shape) != 1:
            raise BertscapeError("fused training: layer norms over more than the last axis are not supported")
        if mods[0].weight is None:
            raise BertscapeError("fused training: layer norms without a weight are not supported")
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in mods]))
        self.bias = None if mods[0].bias is None else nn.Parameter(torch.stack([m.bias.detach() for m in mods]))

    def forward(self, x):
        S = self.weight.shape[0]
        y = _rows(F.layer_norm(x, self.shape, None, None, self.eps), S) * self.weight.unsqueeze(1)
        return (y if self.bias is None else y + self.bias.unsqueeze(1)).reshape(x.shape)


class StackedEmbedding(nn.Module):
    def __init__(self, mods: list[nn.Embedding]):
        super().__init__()
        m = mods[0]
        if m.max_norm is not None or m.sparse:
            raise BertscapeError("fused training: embeddings with max_norm or sparse gradients are not supported")
        self.padding_idx = m.padding_idx
        self.weight = nn.Parameter(torch.stack([x.weight.detach() for x in mods]))

    def forward(self, ids):
        S, V, H = self.weight.shape
        lay = layout()
        if ids.shape[0] == 1:  # position ids shared by every row
            ids = ids.expand(S * lay.B, *ids.shape[1:])
        run = torch.arange(S, device=ids.device).repeat_interleave(ids.shape[0] // S)
        out = F.embedding(ids + (run * V).view(-1, *[1] * (ids.dim() - 1)), self.weight.reshape(S * V, H))
        if self.padding_idx is not None:  # nn.Embedding's padding row gets no gradient
            out = torch.where((ids == self.padding_idx).unsqueeze(-1), out.detach(), out)
        return out


def run_masks(shape: tuple[int, ...], p: float, device, dtype, token_axes: tuple[int, ...]) -> torch.Tensor:
    """Per-run dropout multipliers for a tensor of ``shape`` = (S*B, ...): run s's drawn from its generator at
    its own (rows, tokens) along ``token_axes``, 1 elsewhere (padding, runs that take no step).

    Drawn as torch's own dropout draws them on the CPU (``empty(shape, dtype).bernoulli_(1 - p)``, then divided
    by 1 - p: ``nn.Dropout``, and SDPA's math path for the attention probabilities), so a run's masks are the
    masks the separate loop draws from its (seed, epoch)-seeded global generator, call for call."""
    lay = layout()
    keep = 1.0 - p
    out = torch.ones((lay.S, lay.B, *shape[1:]), device=device, dtype=dtype)
    for s, (b, t) in enumerate(lay.real):
        if b == 0:
            continue
        own = [b, *shape[1:]]
        for a in token_axes:
            own[a] = t
        noise = torch.empty(own, device=device, dtype=dtype).bernoulli_(keep, generator=lay.gens[s])
        idx = [s, slice(0, b)] + [slice(0, t) if a in token_axes else slice(None) for a in range(1, len(shape))]
        out[tuple(idx)] = noise.div_(keep)
    return out.reshape(shape)


class RunDropout(nn.Module):
    """Dropout with each run's masks from its own generator; inputs (S*B, T, ...) or (S*B, d)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        if x.dim() >= 3 and x.shape[1] != layout().T:
            raise BertscapeError(f"fused training: dropout input of shape {tuple(x.shape)} has no token axis 1")
        return x * run_masks(tuple(x.shape), self.p, x.device, x.dtype, (1,) if x.dim() >= 3 else ())


def fused_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
    """The model's own attention without dropout; with dropout, eager attention with per-run masks on the
    probabilities ((S*B, heads, T, T): run s's drawn at its own (rows, heads, tokens, tokens))."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    if dropout == 0.0:
        return ALL_ATTENTION_FUNCTIONS[module.config.bertscape_inner_attention](
            module, query, key, value, attention_mask, scaling=scaling, dropout=0.0, **kw)
    if kw.get("is_causal") or getattr(module, "is_causal", False):
        raise BertscapeError("fused training: causal attention is not supported")
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    w = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        w = w.masked_fill(~attention_mask, torch.finfo(w.dtype).min) if attention_mask.dtype == torch.bool \
            else w + attention_mask
    w = F.softmax(w, dim=-1)
    # SDPA's CPU math path keeps reduced-precision attention in fp32, so its masks are drawn in fp32
    cpu_low = w.device.type == "cpu" and w.dtype in (torch.bfloat16, torch.float16)
    w = w * run_masks(tuple(w.shape), dropout, w.device, torch.float32 if cpu_low else w.dtype, (2, 3)).to(w.dtype)
    return torch.matmul(w, value).transpose(1, 2).contiguous(), w


def _register(inner: str) -> None:
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(ATTENTION, fused_attention)
    if inner in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionMaskInterface.register(ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS[inner])


STACKED = {nn.Linear: StackedLinear, nn.LayerNorm: StackedLayerNorm, nn.Embedding: StackedEmbedding}
SUPPORTED = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")  # config.model_type


def fuse(models: list[nn.Module]) -> nn.Module:
    """One module computing all ``models`` (same class, same parameter names and shapes) on S x B rows."""
    first = models[0]
    kind = getattr(first.config, "model_type", "?")
    if kind not in SUPPORTED:
        raise BertscapeError(f"fused training: model type {kind!r} is not supported "
                             f"(supported: {', '.join(SUPPORTED)}); set train.fused: false")
    shapes = {n: p.shape for n, p in first.named_parameters()}
    for m in models[1:]:
        if type(m) is not type(first) or {n: p.shape for n, p in m.named_parameters()} != shapes:
            raise BertscapeError("fused training: the runs of a group need one architecture and one shape")
    fused = copy.deepcopy(first)
    subs = [dict(m.named_modules()) for m in models]
    for name, mod in list(fused.named_modules()):
        kind = next((k for k in STACKED if type(mod) is k), None)
        if kind is None and type(mod) is not nn.Dropout:
            if any(True for _ in mod.parameters(recurse=False)):
                raise BertscapeError(f"fused training: {type(first).__name__} keeps parameters in {name} "
                                     f"({type(mod).__name__}), which cannot be stacked")
            continue
        new = RunDropout(mod.p) if kind is None else STACKED[kind]([s[name] for s in subs])
        parent, _, attr = name.rpartition(".")
        setattr(fused.get_submodule(parent) if parent else fused, attr, new)
    inner = first.config._attn_implementation or "eager"
    _register(inner)
    fused.config.bertscape_inner_attention = inner  # the copy's config: every submodule of the copy holds it
    fused.config._attn_implementation = ATTENTION
    return fused


def transposed(fused: nn.Module) -> set[str]:
    """Names of the stacked parameters kept transposed (the linear layers' weights)."""
    return {f"{n}.weight" for n, m in fused.named_modules() if isinstance(m, StackedLinear)}


def run_slice(t: torch.Tensor, s: int, flip: bool) -> torch.Tensor:
    """Run s's slice of a stacked parameter (or of its moments), in the separate model's layout (a view)."""
    return t[s].T if flip else t[s]


def unstack(fused: nn.Module, s: int) -> dict[str, torch.Tensor]:
    """Run s's parameters (views into the stacked tensors), named and laid out as in the separate model."""
    flip = transposed(fused)
    return {n: run_slice(p.detach(), s, n in flip) for n, p in fused.named_parameters()}
