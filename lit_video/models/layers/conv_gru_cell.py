"""Convolutional GRU cell (Ballas et al., ICLR 2016): a GRU whose matrix multiplies are 2D convolutions.

    z = sigmoid(W_z * x + U_z * h)          r = sigmoid(W_r * x + U_r * h)
    h' = (1 - z) . h + z . tanh(W * x + U * (r . h))

``*`` is a 2D convolution, ``.`` an element-wise product. States keep their spatial layout ``(C, H, W)``,
and the same weights serve every time step.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvGRUCell(nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        self.hidden_channels = hidden_channels
        padding = kernel_size // 2
        hidden = hidden_channels
        self.input_conv = nn.Conv2d(in_channels, 3 * hidden, kernel_size, padding=padding)  # W_z, W_r, W
        self.gate_conv = nn.Conv2d(hidden, 2 * hidden, kernel_size, padding=padding, bias=False)  # U_z, U_r
        self.candidate_conv = nn.Conv2d(hidden, hidden, kernel_size, padding=padding, bias=False)  # U

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: input ``x`` ``(B, C_in, H, W)`` and previous state ``h`` (zeros if None) -> new state."""
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_channels, *x.shape[2:])
        xz, xr, xn = self.input_conv(x).chunk(3, dim=1)  # 3 x (B, hidden, H, W)
        hz, hr = self.gate_conv(h).chunk(2, dim=1)  # 2 x (B, hidden, H, W)
        z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
        candidate = torch.tanh(xn + self.candidate_conv(r * h))
        return (1 - z) * h + z * candidate
