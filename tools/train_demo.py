"""Train the built-in demo model (a tiny VQVAE tokenizer + VAR transformer) on a CPU budget.

Why: the app must work out of the box with no download. This trains the engine's own released-
format classes (``engine.models.var.vqvae.VQVAE``,
``engine.models.var.transformer.VAR``; unmodified) so the result loads through
``engine.store.loaders.load_model`` like any released checkpoint.

Stages (each resumable from ``<run>/<stage>.pt``; progress in ``<run>/train.log``):

1. ``tokenizer``: VQVAE on 64 px crops (schedule 1..8) then 128 px crops (the model's schedule),
   straight-through multi-scale residual quantisation written here (the engine's quantizer has
   no gradient path) with VAR's loss (beta 0.25) and dead-code restarts;
2. ``tokens``: 128 px crops with flips, encoded once into token pyramids;
3. ``transformer``: teacher-forced next-scale cross-entropy, bf16 autocast, label dropout;
4. ``export``: fp32 ``vae.safetensors`` + ``var.safetensors``; the run goes to ``metrics.json``.

    nice -n 10 python tools/train_demo.py all --out resources/models/demo
    python tools/train_demo.py transformer   # resume / continue one stage

Data comes from ``tools/demo_data.py`` (run it first). The run folder defaults to
``<data cache>/run``. Everything is seeded; with ``--device cuda`` it runs on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from engine.models.var.transformer import VAR, VARConfig  # noqa: E402
from engine.models.var.vqvae import VQVAE, VQVAEConfig  # noqa: E402
from engine.store.convert import converted_state  # noqa: E402

Log = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    """Everything that defines a run; saved next to the weights."""

    seed: int = 0
    resolution: int = 128
    patch_nums: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 11, 16)
    # tokenizer (engine VQVAE): f8, GroupNorm(32) needs channel counts that are multiples of 32
    vae_ch: int = 32
    vae_ch_mult: tuple[int, ...] = (1, 1, 2, 2)
    vae_res_blocks: int = 1
    z_channels: int = 32
    vocab_size: int = 1024
    share_quant_resi: int = 4
    small_crop: int = 64
    small_patch_nums: tuple[int, ...] = (1, 2, 3, 4, 6, 8)  # for 64 px crops (8x8 latent)
    tok_steps_small: int = 1000
    tok_steps_full: int = 150
    tok_batch_small: int = 32
    tok_batch_full: int = 8
    tok_lr: float = 6e-4
    beta: float = 0.25
    restart_every: int = 25
    # transformer (engine VAR)
    depth: int = 6
    embed_dim: int = 192
    num_heads: int = 3
    num_classes: int = 2  # 0 photo, 1 texture; 2 = unconditional (what the app uses)
    p_uncond: float = 0.5
    token_crops: int = 8000
    heldout_crops: int = 64
    var_steps: int = 1100
    var_batch: int = 16
    var_lr: float = 1e-3
    var_warmup: int = 60
    # data mix
    texture_fraction: float = 0.3
    photo_levels: tuple[int, ...] = (512, 362, 256, 181, 128)
    texture_levels: tuple[int, ...] = (384, 256, 128)
    minutes_tokenizer: float = 16.0
    minutes_transformer: float = 19.0
    extra: dict = field(default_factory=dict)

    def vqvae_config(self) -> VQVAEConfig:
        return VQVAEConfig(
            ch=self.vae_ch,
            ch_mult=self.vae_ch_mult,
            num_res_blocks=self.vae_res_blocks,
            z_channels=self.z_channels,
            vocab_size=self.vocab_size,
            share_quant_resi=self.share_quant_resi,
            patch_nums=self.patch_nums,
        )

    def var_config(self) -> VARConfig:
        return VARConfig(
            depth=self.depth,
            embed_dim=self.embed_dim,
            num_heads=self.num_heads,
            vocab_size=self.vocab_size,
            z_channels=self.z_channels,
            num_classes=self.num_classes,
            patch_nums=self.patch_nums,
        )


# ------------------------------------------------------------------------------------- data


class CropSampler:
    """Random square crops from image pyramids (photos and textures), with horizontal flips.

    Photos are cut at several scales so the model sees both wide views and close detail; the
    pyramid is built once. Sampling is a pure function of the numpy generator passed in.
    """

    def __init__(
        self,
        photos: Sequence[np.ndarray],
        textures: Sequence[np.ndarray],
        cfg: DemoConfig,
    ):
        self.texture_fraction = cfg.texture_fraction if len(textures) else 0.0
        self.photos = [_pyramid(p, cfg.photo_levels) for p in photos]
        self.textures = [_pyramid(t, cfg.texture_levels) for t in textures]
        if not self.photos and not self.textures:
            raise ValueError("no training images")
        if not self.photos:
            self.texture_fraction = 1.0

    def sample(self, rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, size, size, 3) uint8 crops and their labels (0 photo, 1 texture)."""
        crops = np.empty((n, size, size, 3), np.uint8)
        labels = np.empty(n, np.int64)
        for i in range(n):
            texture = rng.random() < self.texture_fraction
            pool = self.textures if texture else self.photos
            levels = [lv for lv in pool[rng.integers(len(pool))] if min(lv.shape[:2]) >= size]
            level = levels[rng.integers(len(levels))]
            h, w = level.shape[:2]
            y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
            crop = level[y : y + size, x : x + size]
            crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
            labels[i] = int(texture)
        return crops, labels


def _pyramid(rgb: np.ndarray, levels: Sequence[int]) -> list[np.ndarray]:
    """The image at each short side in ``levels`` that does not upscale it (at least one)."""
    short = min(rgb.shape[:2])
    out = []
    for side in levels:
        if side > short:
            continue
        scale = side / short
        size = (max(side, round(rgb.shape[1] * scale)), max(side, round(rgb.shape[0] * scale)))
        out.append(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb)
    return out or [rgb]


def load_images(split: str, kind: str) -> list[np.ndarray]:
    """Prepared RGB images of one split and kind from the demo data cache."""
    from PIL import Image

    from tools.demo_data import cache_dir, load_manifest

    root = cache_dir() / "images"
    entries = [e for e in load_manifest() if e.split == split and e.kind == kind]
    return [np.asarray(Image.open(root / e.file).convert("RGB")) for e in entries]


def heldout_crops(photos: Sequence[np.ndarray], n: int, size: int, seed: int = 1234) -> np.ndarray:
    """Fixed evaluation crops: ``n`` crops spread evenly over the held-out photos, 2 scales."""
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        pyr = _pyramid(photo, (256, 181) if (i // len(photos)) % 2 else (362, 256))
        level = pyr[0]
        h, w = level.shape[:2]
        y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
        crops.append(level[y : y + size, x : x + size])
    return np.stack(crops)


def to_tensor(crops: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(device)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1], over the whole batch, on the 0..255 scale."""
    a8 = a.clamp(-1, 1).add(1).mul(127.5).round()
    b8 = b.clamp(-1, 1).add(1).mul(127.5).round()
    mse = (a8 - b8).square().mean().item()
    return 10 * math.log10(255**2 / max(mse, 1e-10))


# -------------------------------------------------------------------------------- tokenizer


def quantize_st(
    vqvae: VQVAE, f: torch.Tensor, patch_nums: Sequence[int], beta: float
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Training-time multi-scale residual quantisation (VAR's VectorQuantizer2.forward).

    Uses the model's own ``embedding`` and Phi modules, so the trained state dict is the
    released format. Returns (straight-through f_hat, vq loss, ids per scale, the residual
    vectors of the finest scale, for dead-code restarts).
    """
    quant = vqvae.quantize
    B, C, H, W = f.shape
    f_nograd = f.detach()
    f_rest = f_nograd.clone()
    f_hat = torch.zeros_like(f)
    codes = quant.embedding.weight
    loss = f.new_zeros(())
    ids = []
    last = len(patch_nums) - 1
    for si, pn in enumerate(patch_nums):
        z = f_rest if si == last else F.interpolate(f_rest, size=(pn, pn), mode="area")
        z_NC = z.permute(0, 2, 3, 1).reshape(-1, C)
        with torch.no_grad():
            dist = z_NC.square().sum(1, keepdim=True) + codes.square().sum(1)
            dist.addmm_(z_NC, codes.T, alpha=-2, beta=1)
            idx = dist.argmin(1)
        h = quant.embedding(idx).view(B, pn, pn, C).permute(0, 3, 1, 2)
        if si != last:
            h = F.interpolate(h, size=(H, W), mode="bicubic")
        h = quant.quant_resi.pick(si / last)(h.contiguous())
        f_hat = f_hat + h
        f_rest = f_rest - h.detach()
        loss = loss + F.mse_loss(f_hat.detach(), f) * beta + F.mse_loss(f_hat, f_nograd)
        ids.append(idx.view(B, pn * pn))
    f_hat_st = (f_hat.detach() - f_nograd) + f
    return f_hat_st, loss / len(patch_nums), ids, z_NC.detach()


_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(x: torch.Tensor) -> torch.Tensor:
    kernel = _LAPLACE.to(x).view(1, 1, 3, 3).repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(x, kernel, padding=1, groups=x.shape[1])


def reconstruct(vqvae: VQVAE, x: torch.Tensor, patch_nums: Sequence[int], beta: float):
    f = vqvae.features(x)
    f_hat, vq_loss, ids, residual = quantize_st(vqvae, f, patch_nums, beta)
    y = vqvae.decoder(vqvae.post_quant_conv(f_hat))
    return y, vq_loss, ids, residual


def lr_at(step: int, progress: float, peak: float, warmup: int) -> float:
    """Linear warm-up (in steps) then cosine decay to 10 % of the peak (over ``progress``)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = min(1.0, max(0.0, progress))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def progress_of(step: int, total: int, elapsed: float, minutes: float) -> float:
    """Share of the stage done: steps or wall-clock, whichever is further along.

    On a shared CPU the step count alone could overrun the time budget with the learning rate
    still high; this way the schedule always anneals and the stage ends on time.
    """
    return max(step / total, elapsed / (minutes * 60))


def restart_dead_codes(
    vqvae: VQVAE, hits: torch.Tensor, residual: torch.Tensor, gen: torch.Generator
) -> int:
    """Move codes unused since the last restart onto random current residual vectors."""
    dead = (hits == 0).nonzero().flatten()
    if len(dead) == 0 or len(residual) == 0:
        return 0
    pick = torch.randint(len(residual), (len(dead),), generator=gen).to(residual.device)
    noise = torch.randn(len(dead), residual.shape[1], generator=gen).to(residual) * 1e-3
    with torch.no_grad():
        vqvae.quantize.embedding.weight[dead.to(residual.device)] = residual[pick] + noise
    return len(dead)


def save_checkpoint(path: Path, payload: dict) -> None:
    """Atomic: a crash mid-write never leaves a half checkpoint to resume from."""
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """Tensors, numbers and lists only: never unpickle code, even from our own run folder."""
    return torch.load(path, map_location=device, weights_only=True)


def tokenizer_state(vqvae, opt, step, elapsed, history, hits, usage) -> dict:
    """Everything a resumed tokenizer run needs."""
    return {"model": vqvae.state_dict(), "opt": opt.state_dict(), "step": step,
            "elapsed": elapsed, "history": history, "hits": hits, "usage": usage}  # fmt: skip


def transformer_state(var, opt, step, elapsed, history) -> dict:
    return {"model": var.state_dict(), "opt": opt.state_dict(), "step": step,
            "elapsed": elapsed, "history": history}  # fmt: skip


def train_tokenizer(
    cfg: DemoConfig,
    sampler: CropSampler,
    run: Path,
    device: torch.device,
    log: Log,
    eval_crops: np.ndarray | None = None,
    checkpoint_every: int = 100,
) -> VQVAE:
    """Train (or resume) the VQVAE; stops early at ``cfg.minutes_tokenizer`` of this stage."""
    torch.manual_seed(cfg.seed)
    vqvae = VQVAE(cfg.vqvae_config()).to(device)
    opt = torch.optim.AdamW(vqvae.parameters(), lr=cfg.tok_lr, betas=(0.9, 0.95), weight_decay=0)
    hits = torch.zeros(cfg.vocab_size, dtype=torch.long)
    usage = torch.zeros(len(cfg.patch_nums), cfg.vocab_size)
    step, elapsed, history = 0, 0.0, []
    ckpt = run / "tokenizer.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt, device)
        vqvae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        hits, usage = state["hits"], state["usage"]
        log(f"tokenizer: resumed at step {step} ({elapsed / 60:.1f} min)")
    total = cfg.tok_steps_small + cfg.tok_steps_full
    gen = torch.Generator().manual_seed(cfg.seed + 17)
    vqvae.train()
    started = time.perf_counter() - elapsed
    seen = 0
    while True:
        progress = progress_of(step, total, time.perf_counter() - started, cfg.minutes_tokenizer)
        if progress >= 1:
            break
        small = progress < cfg.tok_steps_small / total
        size = cfg.small_crop if small else cfg.resolution
        batch = cfg.tok_batch_small if small else cfg.tok_batch_full
        schedule = cfg.small_patch_nums if small else cfg.patch_nums
        rng = np.random.default_rng([cfg.seed, 1, step])
        crops, _ = sampler.sample(rng, batch, size)
        x = to_tensor(crops, device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, progress, cfg.tok_lr, 50)
        y, vq_loss, ids, residual = reconstruct(vqvae, x, schedule, cfg.beta)
        rec = (y - x).abs().mean() + F.mse_loss(y, x)
        edge = (laplacian(y) - laplacian(x)).abs().mean()
        loss = rec + 0.5 * edge + vq_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(vqvae.parameters(), 2.0)
        opt.step()
        for si, scale_ids in enumerate(ids):
            counts = torch.bincount(scale_ids.flatten().cpu(), minlength=cfg.vocab_size)
            hits += counts
            if not small:
                usage[si] = 0.99 * usage[si] + 0.01 * counts.float()
        step += 1
        seen += batch
        restart_every = cfg.restart_every if progress < 0.8 else 0
        if restart_every and step % restart_every == 0:
            moved = restart_dead_codes(vqvae, hits, residual, gen)
            used = int((hits > 0).sum())
            hits.zero_()
            if moved:
                log(f"  step {step}: codebook {used}/{cfg.vocab_size} used, {moved} restarted")
        if step % 20 == 0:
            elapsed = time.perf_counter() - started
            log(
                f"tokenizer step {step}/{total} {size}px loss {loss.item():.4f} "
                f"rec {rec.item():.4f} vq {vq_loss.item():.4f} "
                f"train-psnr {psnr(y, x):.2f} {elapsed / 60:.1f} min"
            )
        if eval_crops is not None and step % 200 == 0:
            value = evaluate_tokenizer(vqvae, eval_crops, device)
            history.append({"step": step, "heldout_psnr": value})
            log(f"tokenizer step {step}: held-out PSNR@{cfg.resolution} {value:.2f} dB")
            vqvae.train()
        if step % checkpoint_every == 0:
            elapsed = time.perf_counter() - started
            save_checkpoint(ckpt, tokenizer_state(vqvae, opt, step, elapsed, history, hits, usage))
    elapsed = time.perf_counter() - started
    if eval_crops is not None and (not history or history[-1]["step"] != step):
        history.append(
            {"step": step, "heldout_psnr": evaluate_tokenizer(vqvae, eval_crops, device)}
        )
        log(f"tokenizer step {step}: held-out PSNR {history[-1]['heldout_psnr']:.2f} dB")
    log(f"tokenizer: done, {step} steps in {elapsed / 60:.1f} min")
    save_checkpoint(ckpt, tokenizer_state(vqvae, opt, step, elapsed, history, hits, usage))
    with torch.no_grad():
        vqvae.quantize.ema_vocab_hit_SV.copy_(usage)
    _write_stage(run, "tokenizer", {"steps": step, "minutes": elapsed / 60, "history": history})
    return vqvae.eval()


@torch.no_grad()
def evaluate_tokenizer(vqvae: VQVAE, crops: np.ndarray, device: torch.device) -> float:
    """Held-out PSNR through the engine's own inference path (encode_ids -> ids_to_fhat)."""
    vqvae.eval()
    outs = []
    for start in range(0, len(crops), 16):
        x = to_tensor(crops[start : start + 16], device)
        outs.append((vqvae.decode(vqvae.ids_to_fhat(vqvae.encode_ids(x))), x))
    return psnr(torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs]))


# ----------------------------------------------------------------------------------- tokens


@torch.no_grad()
def encode_crops(vqvae: VQVAE, crops: np.ndarray, device: torch.device) -> np.ndarray:
    """(N, L) int16 token pyramids, scales concatenated coarse to fine."""
    vqvae.eval()
    rows = []
    for start in range(0, len(crops), 32):
        ids = vqvae.encode_ids(to_tensor(crops[start : start + 32], device))
        rows.append(torch.cat(ids, dim=1).to(torch.int16).cpu().numpy())
    return np.concatenate(rows)


def make_tokens(
    cfg: DemoConfig,
    vqvae: VQVAE,
    sampler: CropSampler,
    run: Path,
    device: torch.device,
    log: Log,
    heldout: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Pre-tokenise training crops once (and the held-out crops for validation loss)."""
    path = run / "tokens.npz"
    if path.exists():
        data = dict(np.load(path))
        log(f"tokens: reusing {len(data['ids'])} sequences")
        return data
    started = time.perf_counter()
    rng = np.random.default_rng([cfg.seed, 2])
    ids, labels = [], []
    for start in range(0, cfg.token_crops, 256):
        crops, lab = sampler.sample(rng, min(256, cfg.token_crops - start), cfg.resolution)
        ids.append(encode_crops(vqvae, crops, device))
        labels.append(lab)
        log(f"tokens: {start + len(lab)}/{cfg.token_crops}")
    data = {"ids": np.concatenate(ids), "labels": np.concatenate(labels)}
    if heldout is not None:
        data["heldout_ids"] = encode_crops(vqvae, heldout, device)
    np.savez(path, **data)
    minutes = (time.perf_counter() - started) / 60
    _write_stage(run, "tokens", {"sequences": len(data["ids"]), "minutes": minutes})
    log(f"tokens: {len(data['ids'])} sequences in {minutes:.1f} min")
    return data


def split_scales(flat: torch.Tensor, patch_nums: Sequence[int]) -> list[torch.Tensor]:
    return list(flat.split([pn * pn for pn in patch_nums], dim=1))


# ------------------------------------------------------------------------------ transformer


def init_var(var: VAR, cfg: DemoConfig) -> None:
    """VAR's initialisation: small normal weights, near-identity AdaLN blocks, a quiet head."""
    std = math.sqrt(1 / cfg.embed_dim / 3)
    for module in var.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.trunc_normal_(module.weight, std=std)
    for p in (var.pos_start, var.pos_1LC):
        nn.init.trunc_normal_(p, std=std)
    C = cfg.embed_dim
    with torch.no_grad():
        var.head.weight.mul_(0.02)
        var.head_nm.ada_lin[-1].weight.mul_(0.5)
        for block in var.blocks:
            block.attn.proj.weight.div_(math.sqrt(2 * cfg.depth))
            block.ffn.fc2.weight.div_(math.sqrt(2 * cfg.depth))
            block.ada_lin[-1].weight[2 * C :].mul_(0.5)
            block.ada_lin[-1].weight[: 2 * C].mul_(1e-3)


def train_transformer(
    cfg: DemoConfig,
    vqvae: VQVAE,
    tokens: dict[str, np.ndarray],
    run: Path,
    device: torch.device,
    log: Log,
    checkpoint_every: int = 100,
) -> VAR:
    """Teacher-forced next-scale training of the engine's VAR class (resumable)."""
    torch.manual_seed(cfg.seed + 1)
    var = VAR(cfg.var_config())
    init_var(var, cfg)
    var.to(device)
    decay = [p for n, p in var.named_parameters() if p.ndim >= 2 and "pos_" not in n]
    rest = [p for n, p in var.named_parameters() if not (p.ndim >= 2 and "pos_" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
        lr=cfg.var_lr,
        betas=(0.9, 0.95),
    )
    step, elapsed, history = 0, 0.0, []
    ckpt = run / "transformer.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt, device)
        var.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed, history = state["step"], state["elapsed"], state["history"]
        log(f"transformer: resumed at step {step} ({elapsed / 60:.1f} min)")
    ids_all = torch.from_numpy(tokens["ids"].astype(np.int64))
    labels_all = torch.from_numpy(tokens["labels"].astype(np.int64))
    quant = vqvae.quantize.to(device)
    autocast = device.type in ("cpu", "cuda")
    var.train()
    started = time.perf_counter() - elapsed
    total = cfg.var_steps
    last_loss = float("nan")
    while True:
        elapsed = time.perf_counter() - started
        progress = progress_of(step, total, elapsed, cfg.minutes_transformer)
        if progress >= 1:
            break
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + step)
        pick = torch.randint(len(ids_all), (cfg.var_batch,), generator=gen)
        flat = ids_all[pick].to(device)
        labels = labels_all[pick].clone()
        drop = torch.rand(cfg.var_batch, generator=gen) < cfg.p_uncond
        labels[drop] = cfg.num_classes
        with torch.no_grad():
            x_in = quant.teacher_forcing_input(split_scales(flat, cfg.patch_nums))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, progress, cfg.var_lr, cfg.var_warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = var(labels.to(device), x_in)
        loss = F.cross_entropy(logits.float().view(-1, cfg.vocab_size), flat.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(var.parameters(), 2.0)
        opt.step()
        step += 1
        last_loss = loss.item()
        if step % 20 == 0:
            elapsed = time.perf_counter() - started
            log(f"transformer step {step}/{total} ce {loss.item():.4f} {elapsed / 60:.1f} min")
        if "heldout_ids" in tokens and step % 150 == 0:
            value = validation_loss(var, quant, tokens["heldout_ids"], cfg, device)
            history.append({"step": step, "train_ce": loss.item(), "heldout_ce": value})
            log(f"transformer step {step}: held-out CE {value:.4f} nats/token")
            var.train()
        if step % checkpoint_every == 0:
            elapsed = time.perf_counter() - started
            save_checkpoint(ckpt, transformer_state(var, opt, step, elapsed, history))
    elapsed = time.perf_counter() - started
    if "heldout_ids" in tokens and (not history or history[-1]["step"] != step):
        value = validation_loss(var, quant, tokens["heldout_ids"], cfg, device)
        history.append({"step": step, "train_ce": last_loss, "heldout_ce": value})
        log(f"transformer step {step}: held-out CE {value:.4f} nats/token")
    log(f"transformer: done, {step} steps in {elapsed / 60:.1f} min")
    save_checkpoint(ckpt, transformer_state(var, opt, step, elapsed, history))
    _write_stage(run, "transformer", {"steps": step, "minutes": elapsed / 60, "history": history})
    return var.eval()


@torch.no_grad()
def validation_loss(
    var: VAR, quant: nn.Module, heldout: np.ndarray, cfg: DemoConfig, device: torch.device
) -> float:
    """Unconditional teacher-forced cross-entropy on held-out crops (fp32, as the app runs)."""
    var.eval()
    flat = torch.from_numpy(heldout.astype(np.int64)).to(device)
    labels = torch.full((len(flat),), cfg.num_classes, device=device)
    x_in = quant.teacher_forcing_input(split_scales(flat, cfg.patch_nums))
    logits = var(labels, x_in)
    return F.cross_entropy(logits.view(-1, cfg.vocab_size), flat.view(-1)).item()


# ----------------------------------------------------------------------------------- export


EXPORT_PRECISION = "fp16"  # measured: same held-out metrics as fp32 at half the size


def export(vqvae: VQVAE, var: VAR, out: Path, cfg: DemoConfig, run: Path | None = None) -> None:
    """fp16 safetensors (codebook fp32) in the released key layout (what ``load_model`` reads)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, module in (("vae", vqvae), ("var", var)):
        state = {
            k: (v.float() if v.is_floating_point() else v).detach().cpu()
            for k, v in module.state_dict().items()  # lvl_1L stays integer: it spells the schedule
        }
        state = converted_state(state, EXPORT_PRECISION)
        metadata = {"format": "pt", "precision": EXPORT_PRECISION}
        save_file(state, str(out / f"{name}.safetensors"), metadata=metadata)
    info = {"config": _jsonable(asdict(cfg))}
    if run is not None and (run / "stages.json").exists():
        info["stages"] = json.loads((run / "stages.json").read_text())
    info["parameters"] = {
        "vqvae": sum(p.numel() for p in vqvae.parameters()),
        "var": sum(p.numel() for p in var.parameters()),
    }
    metrics = out / "metrics.json"  # the evaluation (tools/eval_demo.py) lives beside it
    merged = json.loads(metrics.read_text()) if metrics.exists() else {}
    merged["training"] = info
    metrics.write_text(json.dumps(merged, indent=1))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _write_stage(run: Path, stage: str, info: dict) -> None:
    path = run / "stages.json"
    stages = json.loads(path.read_text()) if path.exists() else {}
    stages[stage] = info
    path.write_text(json.dumps(stages, indent=1))


def load_trained(run: Path, cfg: DemoConfig, device: torch.device) -> tuple[VQVAE, VAR | None]:
    """The stages' last checkpoints (for resuming a later stage or exporting)."""
    vqvae = VQVAE(cfg.vqvae_config()).to(device)
    state = load_checkpoint(run / "tokenizer.pt", device)
    vqvae.load_state_dict(state["model"])
    with torch.no_grad():
        vqvae.quantize.ema_vocab_hit_SV.copy_(state["usage"])
    var = None
    if (run / "transformer.pt").exists():
        var = VAR(cfg.var_config()).to(device)
        var.load_state_dict(load_checkpoint(run / "transformer.pt", device)["model"])
    return vqvae.eval(), (var.eval() if var is not None else None)


# -------------------------------------------------------------------------------------- CLI


def make_logger(run: Path) -> Log:
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / "train.log", "a", buffering=1)  # noqa: SIM115 - lives for the run

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        handle.write(line + "\n")
        print(line, flush=True)

    return log


def main(argv: list[str] | None = None) -> int:
    from tools.demo_data import cache_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=("tokenizer", "tokens", "transformer", "export", "all"))
    parser.add_argument("--run", type=Path, default=None, help="checkpoint folder")
    parser.add_argument("--out", type=Path, default=REPO / "resources/models/demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = replace(DemoConfig(), seed=args.seed)
    run = args.run or cache_dir() / "run"
    log = make_logger(run)
    (run / "config.json").write_text(json.dumps(_jsonable(asdict(cfg)), indent=1))
    log(f"stage {args.stage} on {device}, {args.threads} threads, run {run}")
    sampler = CropSampler(load_images("train", "photo"), load_images("train", "texture"), cfg)
    held_photos = load_images("heldout", "photo")
    eval_crops = heldout_crops(held_photos, 32, cfg.resolution)
    stages = ["tokenizer", "tokens", "transformer", "export"]
    todo = stages if args.stage == "all" else [args.stage]
    vqvae = var = None
    for stage in todo:
        if stage == "tokenizer":
            vqvae = train_tokenizer(cfg, sampler, run, device, log, eval_crops)
            continue
        if vqvae is None:
            vqvae, var = load_trained(run, cfg, device)
        if stage == "tokens":
            held = heldout_crops(held_photos, cfg.heldout_crops, cfg.resolution, seed=99)
            make_tokens(cfg, vqvae, sampler, run, device, log, held)
        elif stage == "transformer":
            tokens = make_tokens(cfg, vqvae, sampler, run, device, log)
            var = train_transformer(cfg, vqvae, tokens, run, device, log)
        elif stage == "export":
            if var is None:
                vqvae, var = load_trained(run, cfg, device)
            export(vqvae.cpu(), var.cpu(), args.out, cfg, run)
            log(f"exported to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
