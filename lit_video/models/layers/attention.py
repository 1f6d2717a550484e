"""Transformer blocks shared by the video transformers (TimeSformer, ViViT): tubelet embedding, multi-head self-
attention through ``F.scaled_dot_product_attention`` (fused kernels on GPU; counted on every device, see
``profiling/counting.py``), the MLP and the pre-norm block of ViT.

Every attention here takes sequences ``(B', L, D)``: a family chooses what a sequence is (the tokens of one
frame, of one position over time, or all of them) by reshaping before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .classifier import ClassifierMixin
from .common import CheckShape


class TubeletEmbed(nn.Module):
    """Non-overlapping ``t x p x p`` tubelets, each linearly embedded (a strided 3D conv): a clip
    ``(B, C, T, H, W)`` becomes a token grid ``(B, T / t, (H / p) * (W / p), D)``. ``t = 1`` is ViT's patch
    embedding applied to every frame (TimeSformer); ViViT's tubelets span ``t = 2`` frames."""

    def __init__(self, in_channels: int, dim: int, patch: int, tubelet: int = 1):
        super().__init__()
        self.patch, self.tubelet = patch, tubelet
        self.proj = nn.Conv3d(in_channels, dim, (tubelet, patch, patch), stride=(tubelet, patch, patch))

    def grid(self, frames: int, size: int, model: str) -> tuple[int, int]:
        """(time steps, patches per step) of a ``frames x size x size`` clip; a clear error where the tubelet
        does not tile it."""
        if frames % self.tubelet or size % self.patch:
            raise ValueError(f"{model}: tubelets of {self.tubelet} frames x {self.patch} x {self.patch} pixels must "
                             f"tile the clip, but {frames} frames x {size} x {size} pixels leave a remainder; "
                             f"choose frames divisible by {self.tubelet} and a size divisible by {self.patch}")
        return frames // self.tubelet, (size // self.patch) ** 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x).flatten(3)  # (B, D, T', H', W') -> (B, D, T', N)
        return x.permute(0, 2, 3, 1)  # (B, T', N, D)


class SelfAttention(nn.Module):
    """Multi-head self-attention over sequences ``(B', L, D)``: one qkv projection, ``heads`` heads, an output
    projection."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v of ``x (B', L, D)``, each ``(B', heads, L, D / heads)``."""
        b, length, dim = x.shape
        qkv = self.qkv(x).reshape(b, length, 3, self.heads, dim // self.heads)  # (B', L, 3, h, D/h)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B', h, L, D/h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        out = F.scaled_dot_product_attention(q, k, v)  # (B', h, L, D/h)
        return self.proj(out.transpose(1, 2).flatten(2))  # (B', L, h, D/h) -> (B', L, D)


class Mlp(nn.Sequential):
    """ViT's MLP: ``dim -> hidden -> dim`` with GELU."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                         nn.Dropout(dropout))


class Block(nn.Module):
    """ViT's pre-norm block over sequences ``(B', L, D)``: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), SelfAttention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def init_transformer(module: nn.Module) -> None:
    """ViT's initialisation: linear weights truncated normal (std 0.02), biases zero, norms identity; position
    embeddings and class tokens are initialised where they are made."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def embedding(*shape: int) -> nn.Parameter:
    """A learned position embedding or class token, truncated normal (std 0.02) as in ViT."""
    return nn.Parameter(nn.init.trunc_normal_(torch.empty(*shape), std=0.02))


@dataclass(frozen=True)
class TransformerConfig:
    """A named size of a video transformer: its clip, tubelet (``tubelet`` frames x ``patch`` x ``patch``), width,
    depth (``temporal_depth``: ViViT model 2's temporal encoder), heads, and the frame rate of its clips."""

    frames: int
    size: int
    patch: int
    dim: int
    depth: int
    heads: int
    fps: float
    tubelet: int = 1
    temporal_depth: int = 0


class VideoTransformer(ClassifierMixin, nn.Module):
    """What the video transformers share: the tubelet embedding of a clip of the shape the model was built for
    (learned position embeddings fix it), the final norm, and the head (dropout, then ``fc``)."""

    def __init__(self, name: str, num_classes: int, frames: int, size: int, patch: int, tubelet: int, dim: int,
                 dropout: float):
        super().__init__()
        self.embed = TubeletEmbed(3, dim, patch, tubelet)
        self.grid = self.embed.grid(frames, size, name)  # (T', N): time steps, tokens per step
        hint = (f"{name} was built for clips of frames={frames}, size={size} (its position embeddings are learned "
                "per time step and patch); pass frames=/size= to build it for other clips")
        self.check = CheckShape((frames, size, size), "clip (frames, height, width)", hint)
        self.norm = nn.LayerNorm(dim)
        self.head_drop, self.fc = nn.Dropout(dropout), nn.Linear(dim, num_classes)
        self.classifier_name, self.num_features, self.num_classes = "fc", dim, num_classes

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The clip ``(B, C, T, H, W)`` as a token grid ``(B, T', N, D)``."""
        return self.embed(self.check(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.head_drop(features))
