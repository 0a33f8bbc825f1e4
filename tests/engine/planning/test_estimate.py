"""The estimator: weights equal what the loaders build, KV/activations match a measured peak."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.api.memory import RESIDENT, MemoryStrategy
from engine.models.infinity.bsq_vae import BSQVae
from engine.models.infinity.transformer import InfinityTransformer
from engine.planning.estimate import estimate
from engine.planning.shapes import SHAPES, shape_named
from engine.planning.weights import infinity_bytes, vae_bytes
from engine.runtime.cancel import UserFacingError

ROOT = Path(__file__).resolve().parents[3]


def _loader_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


@pytest.mark.parametrize("name", ["varedit-2b", "varedit-8b"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_transformer_weights_equal_the_meta_built_model(name, dtype):
    cfg = SHAPES[name].transformer
    with torch.device("meta"):
        model = InfinityTransformer(cfg)
    model.set_block_dtype(dtype)  # what load_varedit_files does for bf16
    size = 2 if dtype == torch.bfloat16 else 4
    assert infinity_bytes(cfg, size, int8=False).total == _loader_bytes(model)


def test_released_sizes_match_the_reference_counts():
    """varedit.md §1: 2,204,564,032 / 8,375,791,824 parameters (+ the zero_k_bias buffers of
    every attention); VAEs 110.1M / 81.6M."""
    for name, params in (("varedit-2b", 2_204_564_032), ("varedit-8b", 8_375_791_824)):
        cfg = SHAPES[name].transformer
        buffers = (2 * cfg.depth + 1) * cfg.embed_dim
        assert infinity_bytes(cfg, 4, False).total == 4 * (params + buffers)
    for name, millions in (("varedit-2b", 110.1), ("varedit-8b", 81.6)):
        cfg = SHAPES[name].vae
        with torch.device("meta"):
            params = sum(p.numel() for p in BSQVae(cfg).parameters())
        assert round(params / 1e6, 1) == millions
        assert vae_bytes(cfg) == 4 * params


def test_demo_weights_equal_the_loaded_demo_model():
    from engine.store.loaders import load_var_files

    folder = ROOT / "resources" / "models" / "demo"
    files = {"vae": str(folder / "vae.safetensors"), "transformer": str(folder / "var.safetensors")}
    model = load_var_files(files, "cpu", "fp32")
    components = dict(estimate(SHAPES["demo"], 128, RESIDENT, "cpu", "fp32"))
    assert components["weights"] == _loader_bytes(model.var)
    assert vae_bytes(SHAPES["demo"].vae) == _loader_bytes(model.vqvae)


def test_int8_and_streaming_shrink_the_resident_weights():
    shape = SHAPES["varedit-8b"]
    bf16 = dict(estimate(shape, 512, RESIDENT))["weights"]
    int8 = dict(estimate(shape, 512, MemoryStrategy(int8_blocks=True)))["weights"]
    streamed = dict(estimate(shape, 512, MemoryStrategy(int8_blocks=True, stream_blocks=True)))
    block = infinity_bytes(shape.transformer, 2, True)
    assert 0.5 * bf16 < int8 < 0.53 * bf16  # int8 + per-channel scales; the rest stays fp32
    assert streamed["weights"] == block.rest + 2 * block.block
    on_cpu = estimate(shape, 512, MemoryStrategy(int8_blocks=True, stream_blocks=True), "cpu")
    assert dict(on_cpu)["weights"] == int8  # RAM to RAM: streaming keeps everything there


def test_kv_cache_of_8b_matches_the_issue_arithmetic():
    """Without the last scale, CFG, bf16: ~2.9 GB at 512 (+ the SAR layer's source), and the
    ScaleKV-style budget shrinks only the large scales."""
    shape = SHAPES["varedit-8b"]
    kv = dict(estimate(shape, 512, RESIDENT))["kv_cache"]
    per_token = 40 * 2 * 2 * 3584 * 2
    assert kv == per_token * (1024 + 2521 - 1024) + 2 * 1024 * 2 * 2 * 3584 * 2
    assert 2.85e9 < kv < 3.0e9
    budget = dict(estimate(shape, 1024, RESIDENT, kv_budget=0.1))["kv_cache"]
    full = dict(estimate(shape, 1024, RESIDENT))["kv_cache"]
    assert budget < 0.25 * full
    with_last = dict(estimate(shape, 1024, RESIDENT, last_scale_cached=True))["kv_cache"]
    assert with_last - full == per_token * 64 * 64


def test_t5_counts_where_it_runs():
    shape = SHAPES["varedit-2b"]
    resident = dict(estimate(shape, 512, RESIDENT))["text_encoder"]
    assert 2.4e9 < resident < 2.5e9  # 1.22B parameters in bf16
    assert dict(estimate(shape, 512, MemoryStrategy(text_encoder="cpu")))["text_encoder"] == 0
    released = dict(estimate(shape, 512, MemoryStrategy(text_encoder="release")))
    assert 0 < released["text_encoder"] < resident  # only its peak above sampling's


def test_unknown_shape_and_resolution_are_clear_errors():
    with pytest.raises(UserFacingError, match="No memory plan for 'custom-x'"):
        shape_named("custom-x")
    with pytest.raises(UserFacingError, match="not 300 px"):
        SHAPES["varedit-8b"].check_resolution(300)


def test_activation_and_kv_estimate_match_a_measured_peak():
    """A small VAREdit shape, one real sampling run in a child process (RSS high-water mark)."""
    from benchmarks.memory_plan import measure

    result = measure(
        ["--width", "512", "--depth", "4", "--heads", "4", "--ffn", "2048",
         "--resolution", "512", "--threads", "1"]
    )  # fmt: skip
    assert abs(result["error"]) < 0.15, result


def test_vae_phase_estimate_matches_a_measured_decode():
    from benchmarks.memory_plan import measure

    result = measure(["--vae", "varedit-8b", "--resolution", "128", "--threads", "1"])
    assert abs(result["error"]) < 0.15, result
