"""ViViT (Arnab et al., ICCV 2021): a clip cut into tubelets (2 frames x 16 x 16 pixels), each embedded as a token,
and four ways to attend over the ``T' x N`` token grid:

* model 1, ``spatiotemporal``: every token attends to every token (plus a class token).
* model 2, ``factorised_encoder``: a spatial encoder over each time step's tokens (its own class token), then a
  temporal encoder over the steps' class tokens (another class token): late fusion of frame-level transformers.
* model 3, ``factorised_self_attention``: in every block, self-attention within each step, then over time at each
  position, then the MLP; no class token (tokens averaged at the end, as the paper does for this model).
* model 4, ``factorised_dot_product``: one attention layer whose first half of heads attends within each step
  and second half over time at each position; no class token.

``vivit_<model>`` is a small configuration that trains on a CPU (dim 64, depth 4, 4 heads, tubelets of
2 x 8 x 8 over 8 x 32 x 32 clips); ``vivit_<model>_base`` is ViViT-B/16x2 at 32 x 224 x 224 (model 2: 12 spatial
and 4 temporal layers), whose cost is checked against the paper's Table 2 in ``docs/fidelity.md``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers.attention import (
    Block,
    Mlp,
    SelfAttention,
    TransformerConfig,
    VideoTransformer,
    embedding,
    init_transformer,
)
from .published import Published
from .registry import register_model

MODELS = ("spatiotemporal", "factorised_encoder", "factorised_self_attention", "factorised_dot_product")


class FactorisedSelfAttentionBlock(nn.Module):
    """Model 3 on a token grid ``(B, T, N, D)``: spatial attention, temporal attention, MLP, each pre-norm."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.norm_space, self.attn_space = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.norm_time, self.attn_time = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.norm_mlp, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, d = x.shape
        xs = x.reshape(b * t, n, d)  # each step's N tokens
        x = (xs + self.attn_space(self.norm_space(xs))).reshape(b, t, n, d)
        xt = x.transpose(1, 2).reshape(b * n, t, d)  # each position's T tokens
        x = (xt + self.attn_time(self.norm_time(xt))).reshape(b, n, t, d).transpose(1, 2)  # (B, T, N, D)
        return x + self.mlp(self.norm_mlp(x))


class FactorisedDotProductAttention(SelfAttention):
    """Model 4's attention on ``(B, T, N, D)``: one qkv projection; the first half of the heads attends among the
    N tokens of each step, the second half among the T tokens at each position; one output projection."""

    def __init__(self, dim: int, heads: int):
        if heads % 2:
            raise ValueError(f"factorised dot-product attention splits the heads in two halves: heads={heads} is odd")
        super().__init__(dim, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, d = x.shape
        h, dh = self.heads // 2, d // self.heads
        q, k, v = self.split_heads(x.reshape(b, t * n, d))  # each (B, heads, T*N, dh)

        def space(z):  # (B, h, T*N, dh) -> (B*T, h, N, dh)
            return z.reshape(b, h, t, n, dh).transpose(1, 2).reshape(b * t, h, n, dh)

        def time(z):  # (B, h, T*N, dh) -> (B*N, h, T, dh)
            return z.reshape(b, h, t, n, dh).permute(0, 3, 1, 2, 4).reshape(b * n, h, t, dh)

        out_space = F.scaled_dot_product_attention(space(q[:, :h]), space(k[:, :h]), space(v[:, :h]))
        out_time = F.scaled_dot_product_attention(time(q[:, h:]), time(k[:, h:]), time(v[:, h:]))
        out_space = out_space.reshape(b, t, h, n, dh).transpose(1, 2)  # (B, h, T, N, dh)
        out_time = out_time.reshape(b, n, h, t, dh).permute(0, 2, 3, 1, 4)  # (B, h, T, N, dh)
        out = torch.cat([out_space, out_time], 1).permute(0, 2, 3, 1, 4)  # (B, T, N, heads, dh)
        return self.proj(out.reshape(b, t, n, d))


class FactorisedDotProductBlock(Block):
    """Model 4's block on ``(B, T, N, D)``: ViT's pre-norm block with factorised dot-product attention."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__(dim, heads, mlp_ratio, dropout)
        # Replaces the block's self-attention after it was built: building it draws from the RNG, and the committed
        # results (results/lecture) were initialised with that draw, so it stays.
        self.attn = FactorisedDotProductAttention(dim, heads)


class ViViT(VideoTransformer):
    """ViViT ``model`` (one of ``MODELS``) built for clips of ``frames x size x size``; ``temporal_depth`` is
    model 2's temporal encoder (the other models have ``depth`` blocks)."""

    def __init__(self, num_classes: int, model: str, frames: int, size: int, patch: int, tubelet: int, dim: int,
                 depth: int, heads: int, temporal_depth: int = 4, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 name: str = "vivit"):
        if model not in MODELS:
            raise ValueError(f"model={model!r} is not one of {', '.join(MODELS)}")
        super().__init__(name, num_classes, frames, size, patch, tubelet, dim, dropout)
        self.model = model
        t, n = self.grid

        def blocks(kind: type[nn.Module], count: int) -> nn.Sequential:
            return nn.Sequential(*(kind(dim, heads, mlp_ratio, dropout) for _ in range(count)))

        if model == "spatiotemporal":
            self.cls_token, self.pos_embed = embedding(1, 1, dim), embedding(1, 1 + t * n, dim)
            self.blocks = blocks(Block, depth)
        elif model == "factorised_encoder":
            self.cls_token, self.pos_embed = embedding(1, 1, dim), embedding(1, 1 + n, dim)  # per step
            self.blocks = blocks(Block, depth)  # spatial encoder
            self.spatial_norm = nn.LayerNorm(dim)
            self.temporal_cls_token, self.temporal_pos_embed = embedding(1, 1, dim), embedding(1, 1 + t, dim)
            self.temporal_blocks = blocks(Block, temporal_depth)
        else:
            self.pos_embed = embedding(1, t, n, dim)
            kind = FactorisedSelfAttentionBlock if model == "factorised_self_attention" else FactorisedDotProductBlock
            self.blocks = blocks(kind, depth)
        init_transformer(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tokens(x)  # (B, T', N, D)
        b, t, n, d = x.shape
        if self.model == "spatiotemporal":
            x = torch.cat([self.cls_token.expand(b, 1, d), x.reshape(b, t * n, d)], 1) + self.pos_embed
            return self.norm(self.blocks(x)[:, 0])  # (B, 1 + T'*N, D) -> the class token
        if self.model == "factorised_encoder":
            x = torch.cat([self.cls_token.expand(b * t, 1, d), x.reshape(b * t, n, d)], 1) + self.pos_embed
            steps = self.spatial_norm(self.blocks(x)[:, 0]).reshape(b, t, d)  # each step's class token
            x = torch.cat([self.temporal_cls_token.expand(b, 1, d), steps], 1) + self.temporal_pos_embed
            return self.norm(self.temporal_blocks(x)[:, 0])  # (B, 1 + T', D) -> the class token
        x = self.blocks(x + self.pos_embed)  # (B, T', N, D)
        return self.norm(x.mean((1, 2)))  # tokens averaged: (B, D)


# Small: trains on a 2-core CPU (8 x 32 x 32 clips: 4 steps of 16 tubelets). Base: ViViT-B/16x2, 32 frames sampled
# 1 in 2 of 25 fps video.
SMALL = TransformerConfig(frames=8, size=32, patch=8, tubelet=2, dim=64, depth=4, heads=4, temporal_depth=2, fps=5.0)
BASE = TransformerConfig(frames=32, size=224, patch=16, tubelet=2, dim=768, depth=12, heads=12, temporal_depth=4,
                         fps=12.5)

# ViViT-B/16x2 at 32 x 224 x 224, Kinetics-400: GFLOPs (multiply-accumulates) of each model, the paper's Table 2.
_PAPER_GMACS = {"spatiotemporal": 455.2, "factorised_encoder": 284.4, "factorised_self_attention": 372.3,
                "factorised_dot_product": 277.1}
_PAPER = "Arnab et al., 'ViViT: A Video Vision Transformer', ICCV 2021, Table 2 (ViViT-B, tubelet 16x2)"


def _register(model: str, suffix: str, c: TransformerConfig) -> None:
    name = f"vivit_{model}{suffix}"

    def build(num_classes: int, frames: int, size: int, patch: int = c.patch,
              tubelet: int = c.tubelet, dim: int = c.dim, depth: int = c.depth, heads: int = c.heads,
              temporal_depth: int = c.temporal_depth, mlp_ratio: float = 4.0, dropout: float = 0.0) -> ViViT:
        return ViViT(num_classes, model, frames, size, patch, tubelet, dim, depth, heads, temporal_depth,
                     mlp_ratio, dropout, name)

    build.__name__ = name
    build.__doc__ = (f"ViViT model {MODELS.index(model) + 1} ({model.replace('_', ' ')}), "
                     f"{'ViViT-B/16x2' if suffix else 'small'}: dim {c.dim}, depth {c.depth}, {c.heads} heads, "
                     f"{c.tubelet} x {c.patch} x {c.patch} tubelets of {c.frames} x {c.size}² clips.")
    published = [Published(source=_PAPER, input="3x32x224x224", gmacs=_PAPER_GMACS[model])] if c is BASE else []
    register_model(name, family="vivit", frames=c.frames, size=c.size, fps=c.fps, min_frames=c.tubelet,
                   min_size=c.patch, heavy=c is BASE, published=published)(build)


for _model in MODELS:
    _register(_model, "", SMALL)
    _register(_model, "_base", BASE)
