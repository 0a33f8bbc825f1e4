"""VARSR's diffusion refiner: a per-token AdaLN MLP (MAR's ``DiffLoss``) and its 10-step iDDPM.

It predicts the continuous residual the last scale's codebook could not express, from the last
transformer layer's hidden state plus the sampled token's embedding. Keys follow the released
``diffloss.net.*`` layout; width and depth come from the tensors (released 1024 x 6).
Legend: N rows (tokens of both CFG halves), W width, Cv latent channels (32).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

VAE_SCALE = 0.6  # the refiner works on residual / 0.6
STEPS = 10
TRAIN_STEPS = 1000


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class TimestepEmbedder(nn.Module):
    """Sinusoidal embedding of the original timestep (0..999), then a 2-layer MLP."""

    def __init__(self, width: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t_N: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
        args = t_N[:, None].float() * freqs.to(t_N.device)[None]
        return self.mlp(torch.cat((torch.cos(args), torch.sin(args)), dim=-1))


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.in_ln = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 3 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.adaLN_modulation(y).chunk(3, dim=-1)
        return x + gate * self.mlp(_modulate(self.in_ln(x), shift, scale))


class FinalLayer(nn.Module):
    def __init__(self, width: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(y).chunk(2, dim=-1)
        return self.linear(_modulate(self.norm_final(x), shift, scale))


class RefinerNet(nn.Module):
    """``SimpleMLPAdaLN``: rows are independent; output = [eps (Cv) | variance values (Cv)]."""

    def __init__(self, channels: int, width: int, cond_dim: int, depth: int):
        super().__init__()
        self.channels = channels
        self.time_embed = TimestepEmbedder(width)
        self.cond_embed = nn.Linear(cond_dim, width)
        self.input_proj = nn.Linear(channels, width)
        self.res_blocks = nn.ModuleList(ResBlock(width) for _ in range(depth))
        self.final_layer = FinalLayer(width, 2 * channels)

    def forward(self, x_NC: torch.Tensor, t_N: torch.Tensor, z_ND: torch.Tensor) -> torch.Tensor:
        h = self.input_proj(x_NC)
        y = self.time_embed(t_N) + self.cond_embed(z_ND)
        for block in self.res_blocks:
            h = block(h, y)
        return self.final_layer(h, y)

    def forward_cfg(
        self, x_NC: torch.Tensor, t_N: torch.Tensor, z_ND: torch.Tensor, cfg: float
    ) -> torch.Tensor:
        """Guidance on eps only; both halves see the first half of x (the reference's rule)."""
        half = x_NC[: len(x_NC) // 2]
        out = self.forward(torch.cat((half, half)), t_N, z_ND)
        eps, rest = out[:, : self.channels], out[:, self.channels :]
        cond, uncond = torch.split(eps, len(eps) // 2, dim=0)
        guided = cond * (1 + cfg) - cfg * uncond
        return torch.cat((torch.cat((guided, guided)), rest), dim=1)


class Refiner(nn.Module):
    """Holds ``net`` under the released key ``diffloss``."""

    def __init__(self, channels: int, width: int, cond_dim: int, depth: int):
        super().__init__()
        self.net = RefinerNet(channels, width, cond_dim, depth)


@dataclass(frozen=True)
class Schedule:
    """iDDPM constants (float64, as the reference keeps them) of the respaced 10-step chain."""

    timestep_map: tuple[int, ...]
    betas: np.ndarray
    log_betas: np.ndarray
    sqrt_recip_ac: np.ndarray
    sqrt_recipm1_ac: np.ndarray
    post_log_var: np.ndarray
    post_coef1: np.ndarray
    post_coef2: np.ndarray


def _cosine_alphas_cumprod() -> np.ndarray:
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [
        min(1 - alpha_bar((i + 1) / TRAIN_STEPS) / alpha_bar(i / TRAIN_STEPS), 0.999)
        for i in range(TRAIN_STEPS)
    ]
    return np.cumprod(1.0 - np.array(betas, dtype=np.float64))


def respaced_schedule(steps: int = STEPS) -> Schedule:
    """``space_timesteps(1000, "10")``: evenly strided original steps, betas rebuilt from ᾱ."""
    stride = (TRAIN_STEPS - 1) / (steps - 1)
    kept = [round(k * stride) for k in range(steps)]
    full = _cosine_alphas_cumprod()
    betas, last = [], 1.0
    for step in kept:
        betas.append(1 - full[step] / last)
        last = full[step]
    b = np.array(betas, dtype=np.float64)
    ac = np.cumprod(1.0 - b)
    ac_prev = np.append(1.0, ac[:-1])
    post_var = b * (1.0 - ac_prev) / (1.0 - ac)
    return Schedule(
        timestep_map=tuple(kept),
        betas=b,
        log_betas=np.log(b),
        sqrt_recip_ac=np.sqrt(1.0 / ac),
        sqrt_recipm1_ac=np.sqrt(1.0 / ac - 1),
        post_log_var=np.log(np.append(post_var[1], post_var[1:])),
        post_coef1=b * np.sqrt(ac_prev) / (1.0 - ac),
        post_coef2=(1.0 - ac_prev) * np.sqrt(1.0 - b) / (1.0 - ac),
    )


def _at(values: np.ndarray, i: int) -> float:
    """One constant as the float32 value the reference's ``_extract_into_tensor`` yields."""
    return float(torch.tensor(values[i], dtype=torch.float64).float())


StepHook = Callable[[int, torch.Tensor, torch.Tensor], None]  # (t index, noise, new x)


@torch.inference_mode()
def refine(
    net: RefinerNet,
    z_ND: torch.Tensor,
    cfg: float,
    schedule: Schedule,
    *,
    temperature: float = 1.0,
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """The refiner's sample (N, Cv), already x ``VAE_SCALE``; draws from the global CPU generator.

    Random numbers in the reference's order: the initial noise (half the rows, duplicated, when
    guided; all rows when ``cfg == 1``), then one ``randn_like`` per step (t = 9..0, the last
    one drawn and masked).
    """
    N, C = z_ND.shape[0], net.channels
    guided = cfg != 1.0
    if guided:
        noise = torch.randn(N // 2, C)
        x = torch.cat((noise, noise)).to(z_ND.device)
    else:
        x = torch.randn(N, C).to(z_ND.device)
    for i in reversed(range(len(schedule.timestep_map))):
        t_N = torch.full((N,), schedule.timestep_map[i], device=z_ND.device, dtype=torch.long)
        out = net.forward_cfg(x, t_N, z_ND, cfg) if guided else net(x, t_N, z_ND)
        eps, var_values = torch.split(out, C, dim=1)
        frac = (var_values + 1) / 2
        log_var = frac * _at(schedule.log_betas, i) + (1 - frac) * _at(schedule.post_log_var, i)
        x0 = (_at(schedule.sqrt_recip_ac, i) * x - _at(schedule.sqrt_recipm1_ac, i) * eps).clamp(
            -1, 1
        )
        mean = _at(schedule.post_coef1, i) * x0 + _at(schedule.post_coef2, i) * x
        step_noise = torch.randn_like(x)
        x = mean + float(i != 0) * torch.exp(0.5 * log_var) * step_noise * temperature
        if on_step is not None:
            on_step(i, step_noise, x)
    return x * VAE_SCALE


def refiner_dims(state: dict[str, torch.Tensor], prefix: str = "diffloss.net.") -> dict:
    """Width, depth, condition width and latent channels from the refiner's tensors."""
    width, channels = state[prefix + "input_proj.weight"].shape
    depth = len({k.split(".")[3] for k in state if k.startswith(prefix + "res_blocks.")})
    return {
        "channels": channels,
        "width": width,
        "cond_dim": state[prefix + "cond_embed.weight"].shape[1],
        "depth": depth,
    }
