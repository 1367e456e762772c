"""The multi-point engine: K grid nodes (alpha, beta) evaluated in one pass, as a batch of K weight sets.

Each node's weights are summed exactly as :class:`bertscape.landscape.BertLandscape` sums them (base + a d1 +
b d2, per node, into a stacked (K, ...) buffer); every batch's hidden states of the K nodes go through a layer
together: its matmuls are batched matmuls over the nodes (``baddbmm``), attention runs on K x B sequences, the
layer norms normalise once and apply each node's affine. So a layer's weights of all K nodes are built once per
pass and each kernel call does K nodes' work (fewer, larger calls: what a GPU, or a small model, needs to reach
its matmul rate). The numbers are the single-point engine's up to the batched kernels' summation order (tests:
logits within 1e-5, losses within 1e-6 relative). fp32 only (the engine the shipped configs use).

Memory: K x (one layer's weights + every batch's hidden states) on top of the single-point engine's base and
directions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import BertscapeError
from .landscape import BertLandscape, metrics, residual

LAYER_KEYS = ("qkv.w", "qkv.b", "ao.w", "ao.b", "ln1.w", "ln1.b", "ff1.w", "ff1.b", "ff2.w", "ff2.b", "ln2.w", "ln2.b")
EMB_KEYS = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
HEAD_KEYS = ["pool.w", "pool.b", "cls.w", "cls.b"]


class MultiPointLandscape(BertLandscape):
    """:class:`BertLandscape` with :meth:`evaluate_many`: a list of nodes per pass."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        if self.dtype != "fp32":
            raise BertscapeError(f"the multi-point engine evaluates in fp32 only (got {self.dtype})")

    @classmethod
    def of(cls, engine: BertLandscape) -> "MultiPointLandscape":
        """The multi-point engine over a built single-point engine's state (its base, directions, packed batches
        and cache: shared, not copied)."""
        if engine.dtype != "fp32":
            raise BertscapeError(f"the multi-point engine evaluates in fp32 only (got {engine.dtype})")
        many = cls.__new__(cls)
        many.__dict__.update(engine.__dict__)
        return many

    def _stacked(self, i: int, points: list[tuple[float, float]]) -> dict[str, torch.Tensor]:
        """Layer i's weights at every node, (K, ...): a varied tensor summed per node as the single-point engine
        sums it; an unvaried one the base, broadcast (no copy)."""
        K, out = len(points), {}
        for k in LAYER_KEYS:
            full = f"{i}.{k}"
            if full in self.d1:
                buf = torch.empty((K, *self.d1[full].shape), device=self.device)
                for j, (a, b) in enumerate(points):
                    self._mat(full, a, b, buf[j])
                out[k] = buf
            else:
                out[k] = self.base[full].unsqueeze(0).expand(K, *self.base[full].shape)
        return out

    def _ln(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (self.H,), None, None, self.eps).mul_(w.unsqueeze(1)).add_(b.unsqueeze(1))

    def _layer_many(self, W: dict, x: torch.Tensor, pk, mask) -> torch.Tensor:
        """One encoder layer on K nodes' packed tokens x (K, N, H)."""
        K, (B, T), H = x.shape[0], pk.shape, self.H
        lin = lambda h, k: torch.baddbmm(W[f"{k}.b"].unsqueeze(1), h, W[f"{k}.w"].transpose(1, 2))
        qkv = lin(x, "qkv")
        if pk.index is not None:  # pad rows are zeros: masked keys, queries whose outputs are dropped
            qkv = qkv.new_zeros(K, B * T, 3 * H).index_copy_(1, pk.index, qkv)
        qkv = qkv.view(K * B, T, 3, self.nh, H // self.nh).permute(2, 0, 3, 1, 4)
        m = None if mask is None else mask.repeat(K, *[1] * (mask.dim() - 1))
        att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=m).transpose(1, 2).reshape(K, B * T, H)
        if pk.index is not None:
            att = att.index_select(1, pk.index)
        x = self._ln(residual(lin(att, "ao"), x), W["ln1.w"], W["ln1.b"])
        f = lin(self.act(lin(x, "ff1")), "ff2")
        return self._ln(residual(f, x), W["ln2.w"], W["ln2.b"])

    def logits_many(self, points: list[tuple[float, float]]) -> list[list[torch.Tensor]]:
        """Each node's logits per batch (as :meth:`BertLandscape.logits` gives them for one node)."""
        K = len(points)
        with torch.inference_mode():
            if self.start < 0:
                hs = []
                for pk in self.packs:
                    h = torch.empty((K, pk.ids.numel(), self.H), device=self.device)
                    for j, (a, b) in enumerate(points):
                        h[j] = self._embed(self._params(EMB_KEYS, a, b), pk)
                    hs.append(h)
            else:
                hs = [h.unsqueeze(0).expand(K, *h.shape) for h in self.cached]
            for i in range(max(self.start, 0), self.L):
                W = self._stacked(i, points)
                hs = [self._layer_many(W, h, pk, bt.mask) for h, pk, bt in zip(hs, self.packs, self.batches)]
            out = []
            for j, (a, b) in enumerate(points):
                P = self._params(HEAD_KEYS, a, b)
                out.append([F.linear(torch.tanh(F.linear(h[j][pk.cls], P["pool.w"], P["pool.b"])), P["cls.w"], P["cls.b"])
                            for h, pk in zip(hs, self.packs)])
            return out

    def evaluate_many(self, points: list[tuple[float, float]]) -> list[dict[str, float]]:
        return [metrics(lg, self.batches) for lg in self.logits_many(points)]
