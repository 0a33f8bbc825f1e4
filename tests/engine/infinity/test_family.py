"""VAREdit behind the family protocol: same bits as the reference, teacher forcing, previews."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from engine.api import Sampling
from engine.models.family import Condition, FamilyModel
from tests.engine.infinity.recipes import FIXTURES, PROMPT, fixture_tensors

REFERENCE_SAMPLING = Sampling(cfg=4.0, top_k=900, top_p=0.97, tau=0.5)


def test_protocol_and_schedule(edit_model):
    assert isinstance(edit_model, FamilyModel)
    assert edit_model.resolution == 256
    assert edit_model.schedule == tuple((s, s) for s in (1, 2, 4, 6, 8, 12, 16))


def test_full_path_with_t5_gives_the_reference_edit(edit_model, source_rgb):
    """Tokenizer + T5 folder + transformer + VAE: the fixture's bits and PNG."""
    ref = fixture_tensors("edit_cfg4_tau0.5_seed42.safetensors")
    condition = Condition(text=PROMPT, reference=source_rgb)
    seen: list[int] = []
    sampled = edit_model.sample(
        condition, REFERENCE_SAMPLING, 42, on_scale=lambda si, latent: seen.append(si)
    )
    assert seen == list(range(7))
    for si, bits in enumerate(sampled.tokens):
        assert torch.equal(bits, ref[f"bits_{si}"].reshape(1, -1, 32)), f"scale {si}"
    image = edit_model.decode(sampled.latent).astype(np.int16)
    golden = np.asarray(Image.open(FIXTURES / "edit_cfg4_tau0.5_seed42_output.png"))
    diff = np.abs(image - golden.astype(np.int16))
    assert diff.max() <= 1 and diff.any(axis=-1).mean() <= 0.005


def test_teacher_forcing_everything_reproduces_the_source_tokens(edit_model, source_rgb):
    tokens = edit_model.encode_tokens(source_rgb)
    assert [tuple(t.shape) for t in tokens] == [(1, s * s, 32) for s in (1, 2, 4, 6, 8, 12, 16)]
    keep = [torch.ones(1, t.shape[1], dtype=torch.bool) for t in tokens]
    override = edit_model.teacher_force(tokens, keep)
    sampled = edit_model.sample(
        Condition(text="make it red", reference=source_rgb),
        REFERENCE_SAMPLING,
        3,
        override=override,
    )
    assert all(torch.equal(a, b) for a, b in zip(sampled.tokens, tokens, strict=True))


def test_previews_follow_the_latent_without_the_decoder(edit_model, source_rgb):
    """After a source is seen, previews map the latent to RGB with a map fitted on it: the
    source's own latent previews close to the source, a blank latent does not."""
    tokens = edit_model.encode_tokens(source_rgb)
    latent = edit_model.latent_of(tokens)
    assert torch.equal(latent, edit_model.latent_of(edit_model.encode_tokens(source_rgb)))
    preview = edit_model.preview(latent, 6)
    assert preview.shape == (64, 64, 3)  # 16x16 cells, 4 px each
    target = np.asarray(Image.fromarray(source_rgb).resize((16, 16), Image.BOX), np.float32)
    cells = preview[::4, ::4].astype(np.float32)
    blank = edit_model.preview(torch.zeros_like(latent), 6)[::4, ::4].astype(np.float32)
    assert np.abs(cells - target).mean() < np.abs(blank - target).mean()
    assert edit_model.preview(latent, 2).shape == (16, 16, 3)
    assert edit_model.memory_bytes() > 0


def test_bf16_blocks_run_the_edit_with_a_half_size_cache(edit_files, source_rgb):
    """--dtype bf16: the blocks and their KV cache in bf16, the rest float32; the edit still
    lands near the fp32 one (same coarse bits, same picture up to small differences)."""
    from engine.models.infinity.config import SQUARE_SIDES
    from engine.store.infinity import load_varedit_files

    model = load_varedit_files(edit_files, dtype="bf16", patch_nums=SQUARE_SIDES[:7])
    sa = model.transformer.block_chunks[1].module[1].sa
    assert sa.mat_qkv.weight.dtype == torch.bfloat16
    assert model.transformer.head.weight.dtype == torch.float32
    cached = []
    sa.register_forward_hook(lambda m, a, o: cached.append(m.cache.keys.dtype))
    sampled = model.sample(Condition(text=PROMPT, reference=source_rgb), REFERENCE_SAMPLING, 42)
    assert set(cached) == {torch.bfloat16}
    ref = fixture_tensors("edit_cfg4_tau0.5_seed42.safetensors")
    for si in range(3):
        assert torch.equal(sampled.tokens[si], ref[f"bits_{si}"].reshape(1, -1, 32))
    image = model.decode(sampled.latent).astype(np.float32)
    golden = np.asarray(Image.open(FIXTURES / "edit_cfg4_tau0.5_seed42_output.png"), np.float32)
    assert np.abs(image - golden).mean() < 8  # measured 4.9 levels (0.3% of bits differ)
