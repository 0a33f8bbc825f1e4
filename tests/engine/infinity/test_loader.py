"""Strict loading of released Infinity/VAREdit files and their quirks."""

from __future__ import annotations

import pytest
import torch

from engine.models.infinity.bsq_vae import VaeConfig
from engine.models.infinity.build import build_transformer, build_vae, default_uncond_rows
from engine.models.infinity.pixels import source_tokens
from engine.runtime.cancel import UserFacingError
from engine.samplers.bitwise import BitwiseSettings, sample_bits
from engine.store.infinity import load_vae
from tests.engine.infinity.random_models import (
    random_transformer_state,
    random_vae_state,
    stride8_vae_config,
)
from tests.engine.infinity.recipes import build_state_dict


@pytest.fixture(scope="module")
def transformer_state():
    return dict(build_state_dict("weights_infinity.json"))


def test_config_is_read_from_the_tensors(transformer_state):
    model = build_transformer(dict(transformer_state), "2B-256.pth")
    cfg = model.cfg
    assert (cfg.embed_dim, cfg.depth, cfg.block_chunks, cfg.num_heads) == (128, 4, 2, 2)
    assert (cfg.token_dim, cfg.text_dim, cfg.pool_heads, cfg.ffn_hidden) == (32, 128, 1, 512)
    assert not any(t.is_meta for t in model.state_dict().values())


def test_scale_mul_in_the_flash_layout_loads(transformer_state):
    state = dict(transformer_state)
    key = "block_chunks.1.module.0.sa.scale_mul_1H11"
    state[key] = transformer_state[key].reshape(1, 1, 2, 1)
    model = build_transformer(state, "flash.pth")
    loaded = model.block_chunks[1].module[0].sa.scale_mul_1H11
    assert torch.equal(loaded, transformer_state[key])


def test_cfg_uncond_rows_are_padded_and_truncated_like_the_reference(transformer_state):
    state = dict(transformer_state)
    state["cfg_uncond"] = transformer_state["cfg_uncond"][:300]
    padded = build_transformer(dict(state), "short.pth").cfg_uncond  # building consumes it
    assert torch.equal(padded[:300], transformer_state["cfg_uncond"][:300])
    assert torch.equal(padded[300:], default_uncond_rows(128)[300:])
    state["cfg_uncond"] = torch.cat([transformer_state["cfg_uncond"]] * 2)
    assert build_transformer(state, "long.pth").cfg_uncond.shape == (512, 128)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("head.bias"), "missing key.*head.bias"),
        (lambda s: s.update(extra=torch.zeros(1)), "unexpected key.*extra"),
        (lambda s: s.update({"head.bias": torch.zeros(3)}), "mis-shaped.*head.bias"),
    ],
)
def test_a_wrong_transformer_file_names_the_keys(transformer_state, edit, message):
    state = dict(transformer_state)
    edit(state)
    with pytest.raises(UserFacingError, match=message):
        build_transformer(state, "bad.pth")


def test_not_a_transformer_is_a_clear_error():
    with pytest.raises(UserFacingError, match="not an Infinity"):
        build_transformer({"weight": torch.zeros(2)}, "other.pth")


def test_vae_plain_flux_names_and_container(tmp_path):
    state = dict(build_state_dict("weights_vae.json"))
    plain = {
        k.replace(".conv.weight", ".weight").replace(".conv.bias", ".bias"): v
        for k, v in state.items()
    }
    plain = {
        k.replace(".norm.weight", ".weight").replace(".norm.bias", ".bias"): v
        for k, v in plain.items()
    }
    assert "encoder.conv_in.weight" in plain and "encoder.down.0.downsample.conv.weight" in plain
    path = tmp_path / "vae.pth"
    torch.save({"vae": plain}, path)
    vae = load_vae(str(path))
    assert torch.equal(
        vae.encoder.down[0].downsample.conv.conv.weight,
        state["encoder.down.0.downsample.conv.conv.weight"],
    )
    assert vae.cfg == VaeConfig(32, (1, 2, 4, 4, 4), 2, 32, (0, 1, 2, 3), (1, 2, 3, 4))


def test_vae_with_a_wrong_bit_mask_is_refused():
    state = dict(build_state_dict("weights_vae.json"))
    state["quantizer.lfq.mask"] = torch.arange(32)
    with pytest.raises(UserFacingError, match="bit mask"):
        build_vae(state, "vae.pth")


def test_stride8_patchify_layout_runs_end_to_end():
    """8B layout: stride-8 VAE with 8 bits, 2x2 latents per token (32-bit tokens)."""
    vae = build_vae(random_vae_state(stride8_vae_config(8)), "d8_f8.pth")
    assert vae.cfg.stride == 8
    model = build_transformer(random_transformer_state(token_dim=32), "8B-tiny.pth")
    schedule = ((1, 1), (2, 2), (4, 4))
    with torch.inference_mode():
        raw = vae.encode_raw(torch.rand(1, 3, 64, 64) * 2 - 1)
        assert raw.shape == (1, 8, 8, 8)
        source = source_tokens(raw, schedule[-1], patchify=True)
        assert source.shape == (1, 16, 32)
        text = model.encode_text(torch.randn(5, 128), guided=True)
        settings = BitwiseSettings.constant(3, 3.0, 1.0)
        out = sample_bits(
            model,
            text,
            source,
            schedule,
            settings,
            patchify=True,
            generator=torch.Generator().manual_seed(0),
        )
        assert [tuple(b.shape) for b in out.bits] == [(1, 4, 8), (1, 16, 8), (1, 64, 8)]
        assert out.latent.shape == (1, 8, 8, 8)
        assert vae.decode(out.latent).shape == (1, 3, 64, 64)


def test_registry_t5_files_make_the_text_encoder_folder(tmp_path):
    from engine.store.infinity import with_text_folder

    files = {"vae": "v.pth", "t5:config.json": str(tmp_path / "config.json")}
    files["t5:tokenizer.json"] = str(tmp_path / "tokenizer.json")
    assert with_text_folder(files)["text_encoder"] == str(tmp_path)
    files["t5:spiece.model"] = str(tmp_path / "other" / "spiece.model")
    with pytest.raises(UserFacingError, match="one folder"):
        with_text_folder(files)
