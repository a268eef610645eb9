"""Convolutions on small feature maps as one matrix product each (im2col / col2im).

On CPUs the library convolution kernels reach the bfloat16 matrix rate on large feature maps but not
on the small-spatial, many-channel layers at the narrow end of a DCGAN (a 4×4 stride-2 convolution
over an 8×8 map with 256 → 512 channels is a (B·16 × 4096) by (4096 × 512) product), where bf16 even
runs slower than float32 (../shared/REFERENCES.md §6).  Written as ``unfold`` + one GEMM (and GEMM +
``fold`` for transposed convolutions) those layers run at the matmul rate, forward and backward, with
the same parameters and the same result up to rounding.

:func:`use_gemm_convolutions` switches the qualifying layers of a player in place; the modules, their
state-dict names and any parametrization (spectral norm) stay as they were.
"""

from __future__ import annotations

import types

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["conv2d_gemm", "conv_transpose2d_gemm", "use_gemm_convolutions"]


def conv2d_gemm(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int) -> Tensor:
    """``F.conv2d`` as im2col + one GEMM: (B, C, H, W) → (B, O, Ho, Wo), channels-last."""
    B, _, H, W = x.shape
    O, C, k, _ = weight.shape
    Ho, Wo = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    cols = F.unfold(x, k, padding=padding, stride=stride)  # (B, C·k·k, Ho·Wo)
    rows = cols.transpose(1, 2).reshape(B * Ho * Wo, C * k * k)
    out = rows @ weight.reshape(O, C * k * k).t().to(rows.dtype)  # (B·Ho·Wo, O)
    if bias is not None:
        out = out + bias.to(out.dtype)
    return out.view(B, Ho, Wo, O).permute(0, 3, 1, 2)


def conv_transpose2d_gemm(x: Tensor, weight: Tensor, bias: Tensor | None, stride: int, padding: int,
                          output_padding: int = 0) -> Tensor:
    """``F.conv_transpose2d`` as one GEMM + col2im: (B, C, H, W) → (B, O, Ho, Wo)."""
    B, C, H, W = x.shape
    _, O, k, _ = weight.shape
    Ho = (H - 1) * stride - 2 * padding + k + output_padding
    Wo = (W - 1) * stride - 2 * padding + k + output_padding
    rows = x.permute(0, 2, 3, 1).reshape(B * H * W, C)
    cols = rows @ weight.reshape(C, O * k * k).to(rows.dtype)  # (B·H·W, O·k·k)
    if H == W == 1 and stride == 1 and padding == 0 and Ho == Wo == k:
        out = cols.view(B, O, k, k)  # a projection of a vector: no overlap to add up
    else:
        cols = cols.view(B, H * W, O * k * k).transpose(1, 2)
        out = F.fold(cols, (Ho, Wo), k, padding=padding, stride=stride)
    if bias is not None:
        out = out + bias.to(out.dtype).view(1, O, 1, 1)
    return out


def _conv_forward(self: nn.Conv2d, x: Tensor) -> Tensor:
    return conv2d_gemm(x, self.weight, self.bias, self.stride[0], self.padding[0])


def _conv_transpose_forward(self: nn.ConvTranspose2d, x: Tensor, output_size=None) -> Tensor:
    return conv_transpose2d_gemm(x, self.weight, self.bias, self.stride[0], self.padding[0], self.output_padding[0])


def _plain(m: nn.Module) -> bool:
    square = len(set(m.kernel_size)) == 1 and len(set(m.stride)) == 1 and len(set(m.padding)) == 1
    return (square and m.groups == 1 and m.dilation == (1, 1) and isinstance(m.padding[0], int)
            and m.padding_mode == "zeros")


def use_gemm_convolutions(module: nn.Module, max_pixels: int = 64, input_size: int | None = None) -> list[str]:
    """Route the convolutions of ``module`` whose *smaller* feature map (input or output) has at most
    ``max_pixels`` pixels through :func:`conv2d_gemm` / :func:`conv_transpose2d_gemm`.  Map sizes are
    found by one traced forward pass on a probe input of ``input_size`` (images) — or, for generators,
    pass ``input_size=None`` and a module with ``z_dim``.  Returns the names of the layers switched."""
    sizes: dict[str, int] = {}
    hooks = []
    for name, m in module.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and _plain(m):
            def record(mod, inp, out, name=name):
                sizes[name] = min(inp[0].shape[-1] * inp[0].shape[-2], out.shape[-1] * out.shape[-2])
            hooks.append(m.register_forward_hook(record))
    was_training = module.training
    module.eval()
    p = next(module.parameters())
    with torch.no_grad():
        if input_size is None:
            module(torch.zeros(2, module.z_dim, device=p.device))
        else:
            channels = next(m for m in module.modules() if isinstance(m, nn.Conv2d)).in_channels
            module(torch.zeros(2 * getattr(module, "pack", 1), channels // getattr(module, "pack", 1), input_size,
                               input_size, device=p.device))
    module.train(was_training)
    for h in hooks:
        h.remove()
    switched = []
    for name, m in module.named_modules():
        if name in sizes and sizes[name] <= max_pixels:
            fwd = _conv_transpose_forward if isinstance(m, nn.ConvTranspose2d) else _conv_forward
            m.forward = types.MethodType(fwd, m)
            switched.append(name)
    return switched
