"""Loading straight to the run's dtype: no fp32 copy of the model, one tensor at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.runtime.cancel import UserFacingError
from engine.store.infinity import load_transformer
from engine.store.tensor_stream import SafetensorsStream
from tests.engine.infinity.recipes import build_state_dict

ROOT = Path(__file__).parents[3]


def test_stream_reads_every_dtype_like_safetensors(tmp_path):
    from safetensors.torch import load_file

    g = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(3, 5, generator=g),
        "bf16": torch.randn(7, generator=g).bfloat16(),
        "f16": torch.randn(2, 2, 2, generator=g).half(),
        "i64": torch.arange(6).reshape(2, 3),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "flag": torch.tensor([True, False]),
        "empty": torch.zeros(0, 4),
        "scalar": torch.tensor(2.5),
    }
    path = tmp_path / "all.safetensors"
    save_file(tensors, str(path))
    done: list[int] = []
    stream = SafetensorsStream(str(path), lambda d, total: done.append(d))
    assert sorted(stream) == sorted(tensors) and len(stream) == len(tensors)
    reference = load_file(str(path))
    for key in list(stream):
        got = stream.pop(key)
        assert got.dtype == reference[key].dtype and torch.equal(got, reference[key]), key
    assert len(stream) == 0 and done[-1] <= path.stat().st_size
    with pytest.raises(KeyError):
        stream["f32"]


def test_stream_refuses_a_damaged_file(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(64, 64)}, str(path))
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(UserFacingError, match="cut.safetensors.*outside the file"):
        SafetensorsStream(str(tmp_path / "cut.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"\x10" + b"\x00" * 7 + b"not json at all!")
    with pytest.raises(UserFacingError, match="junk.safetensors.*header"):
        SafetensorsStream(str(tmp_path / "junk.safetensors"))
    with pytest.raises(UserFacingError, match="not found or empty"):
        SafetensorsStream(str(tmp_path / "none.safetensors"))


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_bf16_load_equals_fp32_load_then_cast(tmp_path, released_pth, fmt):
    """Blocks go from the file straight to bf16 (the same values as fp32 then bf16), the
    rest stays float32, and a bf16 file converts without going through fp32."""
    state = dict(build_state_dict("weights_infinity.json"))
    path = tmp_path / f"model.{fmt}"
    half_file = {k: v.bfloat16() if k.startswith("block_chunks.") else v for k, v in state.items()}
    save_file(half_file, str(path)) if fmt == "safetensors" else torch.save(half_file, path)
    direct = load_transformer(str(path), block_dtype=torch.bfloat16).state_dict()
    old = load_transformer(str(released_pth[0]))
    old.set_block_dtype(torch.bfloat16)
    for key, tensor in old.state_dict().items():
        assert direct[key].dtype == tensor.dtype and torch.equal(direct[key], tensor), key
    assert direct["head.weight"].dtype == torch.float32
    assert direct["block_chunks.0.module.0.ffn.fc1.weight"].dtype == torch.bfloat16


def _peak_anonymous_growth(path: Path) -> dict:
    script = ROOT / "benchmarks" / "load_memory.py"
    out = subprocess.run(
        [sys.executable, str(script), "--measure", str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_loading_a_bf16_file_never_holds_an_fp32_model(tmp_path):
    """A ~85 MB (fp32) model saved in bf16 loads into bf16 blocks with anonymous memory
    growing by about the model, not by its fp32 size (which the old .float() pass made)."""
    from engine.models.infinity.build import transformer_skeleton
    from engine.models.infinity.config import InfinityConfig

    cfg = InfinityConfig(512, 4, 2, 4, 2048, 32, 512, 4, 15)
    g = torch.Generator().manual_seed(0)
    state = {
        key: (torch.randn(t.shape, generator=g) * 0.02).bfloat16()
        for key, t in transformer_skeleton(cfg).state_dict().items()
    }
    fp32_mib = sum(t.numel() * 4 for t in state.values()) / 2**20
    path = tmp_path / "bf16.safetensors"
    save_file(state, str(path))
    del state
    r = _peak_anonymous_growth(path)
    assert r["model"] < 0.6 * fp32_mib  # bf16 blocks, fp32 rest
    assert r["peak_anon"] < 0.85 * fp32_mib, r
