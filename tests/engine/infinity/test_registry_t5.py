"""The registry's Infinity/T5 entries: what is downloaded, what is kept, and their sizes."""

from __future__ import annotations

import torch

from engine.store.registry import T5_ENCODER, T5_ENCODER_BYTES, T5_SHARDS, released_model


def test_the_encoder_size_is_flan_t5_xl_s_encoder_tensors():
    """flan-t5-xl's config (d_model 2048, d_ff 5120, 24 layers, 32 heads, gated-gelu): the
    encoder-only model's tensors, the tied embedding counted once, on the meta device."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=32128, d_model=2048, d_kv=64, d_ff=5120, num_layers=24, num_heads=32,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False,
    )  # fmt: skip
    with torch.device("meta"):
        encoder = T5EncoderModel(config)
    state = encoder.state_dict()
    state.pop("encoder.embed_tokens.weight")  # = shared.weight
    assert sum(t.numel() * t.element_size() for t in state.values()) == T5_ENCODER_BYTES
    shards = sum(f.size_bytes for f in T5_SHARDS)
    assert round(shards / 1e9, 1) == 11.4 and round(T5_ENCODER_BYTES / 1e9, 2) == 4.89


def test_infinity_downloads_the_shards_and_keeps_the_encoder():
    spec = released_model("infinity-2b")
    kept = {f.filename for f in spec.files}
    fetched = {f.filename for f in spec.download_files}
    assert "model.safetensors" in kept and not kept & {f.filename for f in T5_SHARDS}
    assert {f.filename for f in T5_SHARDS} <= fetched and "model.safetensors" not in fetched
    assert spec.download_bytes - spec.total_bytes == sum(f.size_bytes for f in T5_SHARDS) - (
        T5_ENCODER.size_bytes
    )
    assert len(spec.files) == len({f.role for f in spec.files}), "one file per role"
    assert spec.family == "infinity" and set(spec.tasks) == {"generate", "inpaint", "outpaint"}
    assert "MIT" in spec.license and "Apache-2.0" in spec.license
    for model_id in ("varedit-2b-512", "varedit-8b-512", "varedit-8b-1024"):
        assert T5_ENCODER in released_model(model_id).files
