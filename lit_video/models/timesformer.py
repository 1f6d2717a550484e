"""TimeSformer (Bertasius et al., ICML 2021): ViT over the 16 x 16 patches of every frame, with learned space and
time position embeddings, a class token, and one of three attention schemes (the lecture's "factorized attention:
attend over space / time"):

* ``space``: every frame attends only within itself (its own copy of the class token); the frames' class tokens
  are averaged at the end. No time embedding: the model cannot tell frame order.
* ``joint``: every token attends to every token of every frame (``1 + T * N`` tokens).
* ``divided``: in every block, temporal attention among the ``T`` patches at one position (projected by the
  paper's extra ``temporal_fc``), then spatial attention within each frame (the class token repeated per frame,
  its outputs averaged), then the MLP. Its temporal attention adds parameters (121 M against 86 M at Base).

``timesformer_<scheme>`` is a small configuration that trains on a CPU (dim 64, depth 4, 4 heads, 8 x 8 patches
of 32 px frames); ``timesformer_<scheme>_base`` is the paper's ViT-B/16 at 8 x 224 x 224, whose cost and
parameters are checked against MMAction2's model zoo in ``docs/fidelity.md``.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers.attention import Block, SelfAttention, TransformerConfig, VideoTransformer, embedding, init_transformer
from .published import EvalProtocol, Published
from .registry import register_model

ATTENTIONS = ("space", "joint", "divided")


class DividedBlock(nn.Module):
    """Divided space-time attention on ``(B, 1 + T * N, D)`` (the class token first, then frame by frame)."""

    def __init__(self, dim: int, heads: int, frames: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.frames = frames
        self.norm_time, self.attn_time = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.space = Block(dim, heads, mlp_ratio, dropout)  # its attention is spatial, its MLP the block's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, tokens, d = x.shape
        t, n = self.frames, (tokens - 1) // self.frames
        cls, patches = x[:, :1], x[:, 1:]  # (B, 1, D), (B, T*N, D)
        # Time: the T patches at each position attend to each other.
        xt = patches.reshape(b, t, n, d).transpose(1, 2).reshape(b * n, t, d)  # (B*N, T, D)
        xt = self.temporal_fc(self.attn_time(self.norm_time(xt)))
        patches = patches + xt.reshape(b, n, t, d).transpose(1, 2).reshape(b, t * n, d)
        # Space: each frame's patches with its own copy of the class token.
        xs = torch.cat([cls.expand(b, t, d).reshape(b * t, 1, d), patches.reshape(b * t, n, d)], 1)  # (B*T, 1+N, D)
        xs = self.space.attn(self.space.norm1(xs))
        cls = cls + xs[:, :1].reshape(b, t, d).mean(1, keepdim=True)  # the frames' class outputs averaged
        x = torch.cat([cls, patches + xs[:, 1:].reshape(b, t * n, d)], 1)  # (B, 1 + T*N, D)
        return x + self.space.mlp(self.space.norm2(x))


class TimeSformer(VideoTransformer):
    """TimeSformer with ``attention`` in ``ATTENTIONS``, built for clips of ``frames x size x size``."""

    def __init__(self, num_classes: int, attention: str, frames: int, size: int, patch: int, dim: int,
                 depth: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0, name: str = "timesformer"):
        if attention not in ATTENTIONS:
            raise ValueError(f"attention={attention!r} is not one of {', '.join(ATTENTIONS)}")
        super().__init__(name, num_classes, frames, size, patch, 1, dim, dropout)
        self.attention = attention
        t, n = self.grid
        self.cls_token = embedding(1, 1, dim)
        self.pos_embed = embedding(1, 1 + n, dim)  # space: the class token and the N patches of a frame
        self.time_embed = None if attention == "space" else embedding(1, t, 1, dim)  # one per frame
        if attention == "divided":
            self.blocks = nn.Sequential(*(DividedBlock(dim, heads, t, mlp_ratio, dropout) for _ in range(depth)))
        else:
            self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth)))
        init_transformer(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tokens(x) + self.pos_embed[:, None, 1:]  # (B, T, N, D)
        b, t, n, d = x.shape
        cls = self.cls_token + self.pos_embed[:, :1]  # (1, 1, D)
        if self.attention == "space":
            x = torch.cat([cls.expand(b * t, 1, d), x.reshape(b * t, n, d)], 1)  # (B*T, 1+N, D): frames apart
            x = self.blocks(x).reshape(b, t, 1 + n, d)[:, :, 0]  # the frames' class tokens: (B, T, D)
            return self.norm(x.mean(1))  # averaged over frames: (B, D)
        x = (x + self.time_embed).reshape(b, t * n, d)  # (B, T*N, D)
        x = self.blocks(torch.cat([cls.expand(b, 1, d), x], 1))  # (B, 1 + T*N, D)
        return self.norm(x[:, 0])


# Small: trains on a 2-core CPU (8 x 32 x 32 clips: 16 patches a frame). Base: ViT-B/16 as in the paper, 8 frames
# sampled 1 in 32 of 30 fps video.
SMALL = TransformerConfig(frames=8, size=32, patch=8, dim=64, depth=4, heads=4, fps=5.0)
BASE = TransformerConfig(frames=8, size=224, patch=16, dim=768, depth=12, heads=12, fps=30 / 32)

# MMAction2's TimeSformer zoo: GFLOPs (multiply-accumulates) and parameters of one 8 x 224 x 224 view, 400 classes;
# its test takes 1 clip x 3 crops (the original repository's setting, README note 2).
_MMACTION2 = "open-mmlab/mmaction2 configs/recognition/timesformer/metafile.yml @ 576623e"
_PUBLISHED = {  # attention: (config name, GMACs, params, top-1, top-5)
    "space": ("timesformer_spaceOnly_8xb8-8x32x1-15e_kinetics400-rgb", 141, 86.11e6, 76.93, 92.88),
    "joint": ("timesformer_jointST_8xb8-8x32x1-15e_kinetics400-rgb", 180, 86.11e6, 76.95, 93.28),
    "divided": ("timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb", 196, 122e6, 77.69, 93.45),
}


def _published(attention: str) -> Published:
    config, gmacs, params, top1, top5 = _PUBLISHED[attention]
    return Published(
        source=f"{_MMACTION2} ({config}: FLOPs {gmacs}G, params {params / 1e6:g}M)", input="3x8x224x224",
        gmacs=gmacs, params=int(params), dataset="Kinetics-400", top1=top1, top5=top5,
        protocol=EvalProtocol(frames=8, clips=1, crops=3, size=224))


def _register(attention: str, suffix: str, c: TransformerConfig) -> None:
    name = f"timesformer_{attention}{suffix}"

    def build(num_classes: int, frames: int, size: int, patch: int = c.patch,
              dim: int = c.dim, depth: int = c.depth, heads: int = c.heads, mlp_ratio: float = 4.0,
              dropout: float = 0.0) -> TimeSformer:
        return TimeSformer(num_classes, attention, frames, size, patch, dim, depth, heads, mlp_ratio, dropout,
                           name)

    build.__name__ = name
    build.__doc__ = (f"TimeSformer, {attention} attention, {'ViT-B/16' if suffix else 'small'}: dim {c.dim}, depth "
                     f"{c.depth}, {c.heads} heads, {c.patch} x {c.patch} patches of {c.frames} x {c.size}² clips.")
    published = [_published(attention)] if c is BASE else []
    register_model(name, family="timesformer", frames=c.frames, size=c.size, fps=c.fps, min_size=c.patch,
                   heavy=c is BASE, published=published)(build)


for _attention in ATTENTIONS:
    _register(_attention, "", SMALL)
    _register(_attention, "_base", BASE)
