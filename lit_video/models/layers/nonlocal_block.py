"""Non-local block (Wang et al., "Non-local Neural Networks", CVPR 2018): spatio-temporal self-attention.

Embedded-Gaussian form: every position of a ``(B, C, T, H, W)`` feature map attends to all ``T x H x W``
positions, ``y_i = sum_j softmax_j(theta(x_i) . phi(x_j) / sqrt(C')) g(x_j)``, and the block returns
``x + BN(W_z y)``. The ``1 / sqrt(C')`` (``C'`` the inner channels) is what the paper's reference code computes
(its configs set ``NONLOCAL.USE_SCALE = True``), as do PySlowFast, PyTorchVideo and MMAction2; ``scaled=False``
gives the unscaled affinity of the paper's equation. BN's scale starts at zero, so a freshly inserted block is
the identity and does not disturb a trained 3D CNN.
"""

from __future__ import annotations

import torch
from torch import nn


class NonLocalBlock(nn.Module):
    def __init__(self, channels: int, inner_channels: int | None = None, subsample: bool = True,
                 scaled: bool = True):
        super().__init__()
        inner = inner_channels or channels // 2
        self.scale = inner**-0.5 if scaled else 1.0
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        # The paper max-pools keys and values 2x in space: 4x fewer pairs, same receptive field.
        self.pool = nn.MaxPool3d((1, 2, 2)) if subsample else nn.Identity()
        self.out = nn.Conv3d(inner, channels, 1, bias=False)
        self.bn = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.bn.weight)  # starts as identity (residual branch outputs exactly 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        # Scaling the queries scales every affinity, at THW x C' multiplies instead of THW x N.
        query = self.theta(x).flatten(2).transpose(1, 2) * self.scale  # (B, THW, C')
        key = self.phi(self.pool(x)).flatten(2)  # (B, C', N), N = T * H/2 * W/2
        value = self.g(self.pool(x)).flatten(2).transpose(1, 2)  # (B, N, C')
        # Plain matmuls (not scaled_dot_product_attention): FLOP counters count them on every device.
        attention = torch.softmax(query @ key, dim=-1)  # (B, THW, N)
        y = (attention @ value).transpose(1, 2).reshape(b, -1, t, h, w)  # (B, THW, C') -> (B, C', T, H, W)
        return x + self.bn(self.out(y))
