"""Checkpoint loading refuses what it must: tampering, truncation, pickled code, wrong keys."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.models.var.build import build_models
from engine.runtime.cancel import UserFacingError
from engine.store.checkpoint import read_state_dict, sha256_file
from engine.store.loaders import load_model


class Payload:
    """Unpickling this would create a marker file: the attack a weights-only load must stop."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "var_d16.pth"
    torch.save({"word_embed.weight": torch.zeros(2, 2), "evil": Payload(str(marker))}, path)
    with pytest.raises(UserFacingError, match="var_d16.pth: refused"):
        read_state_dict(str(path))
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the point of the test
def test_legacy_pickle_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned2"
    path = tmp_path / "old.pth"
    path.write_bytes(pickle.dumps({"x": Payload(str(marker))}))
    with pytest.raises(UserFacingError):
        read_state_dict(str(path))
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_truncated_checkpoint_is_refused(tiny_checkpoints, tmp_path, fmt):
    state = load_file(tiny_checkpoints[1])
    path = tmp_path / f"var.{fmt}"
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserFacingError, match=f"var.{fmt}"):
        read_state_dict(str(path))


def test_checksum_mismatch_is_refused(tiny_checkpoints, tmp_path):
    path = tmp_path / "var.safetensors"
    path.write_bytes(Path(tiny_checkpoints[1]).read_bytes())
    good = sha256_file(str(path))
    assert read_state_dict(str(path), expected_sha256=good)
    with open(path, "r+b") as handle:
        handle.seek(-3, os.SEEK_END)
        handle.write(b"\x01\x02\x03")
    with pytest.raises(UserFacingError, match="checksum mismatch"):
        read_state_dict(str(path), expected_sha256=good)


def test_strict_loading_names_missing_unexpected_and_misshaped_keys(tiny_checkpoints):
    vae = load_file(tiny_checkpoints[0])
    var = load_file(tiny_checkpoints[1])
    var.pop("head.bias")
    var["extra.weight"] = torch.zeros(1)
    var["blocks.0.attn.q_bias"] = torch.zeros(3)
    with pytest.raises(UserFacingError) as info:
        build_models(vae, var, names=("vae", "var_d16.pth"))
    message = str(info.value)
    assert message.startswith("var_d16.pth: does not match the model")
    for part in ("1 missing key(s): head.bias", "1 unexpected key(s): extra.weight",
                 "blocks.0.attn.q_bias (3,) (expected (64,))"):  # fmt: skip
        assert part in message


def test_wrong_kind_of_checkpoint_is_named(tiny_checkpoints):
    with pytest.raises(UserFacingError, match="not a VAR transformer"):
        load_model(tiny_checkpoints[0], tiny_checkpoints[0])


def test_pth_and_safetensors_give_identical_models(tiny_checkpoints, tmp_path):
    pth = tmp_path / "var.pth"
    torch.save(load_file(tiny_checkpoints[1]), pth)
    a = load_model(tiny_checkpoints[0], tiny_checkpoints[1]).var.state_dict()
    b = load_model(tiny_checkpoints[0], str(pth)).var.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_no_loaded_tensor_keeps_the_first_mapping_alive(tiny_checkpoints, tmp_path):
    """The channels-last decoder copy touched the first mapping's pages; once nothing points into
    it, it is unmapped (the released VQVAE: ~250 MB less resident memory)."""
    vae = tmp_path / "vae.pth"
    torch.save(load_file(tiny_checkpoints[0]), vae)
    first = read_state_dict(str(vae))
    lo = min(t.untyped_storage().data_ptr() for t in first.values())
    hi = max(t.untyped_storage().data_ptr() + t.untyped_storage().nbytes() for t in first.values())
    assert hi - lo <= vae.stat().st_size, "torch.load(mmap=True) maps the file in one piece"
    vqvae, _ = build_models(first, load_file(tiny_checkpoints[1]))
    vqvae.use_channels_last_decoder()
    from engine.store.loaders import remap_untouched

    remap_untouched(vqvae, str(vae))
    inside = [k for k, t in vqvae.state_dict().items() if lo <= t.data_ptr() < hi]
    assert inside == []
    for key, value in vqvae.state_dict().items():
        assert torch.equal(value, first[key]), key
    conv = vqvae.decoder.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_heap_is_trimmed_between_jobs_on_linux():
    import sys

    from engine.runtime.memory import trim_heap

    assert trim_heap() is sys.platform.startswith("linux")
