"""The instruction encoder reads a Hugging Face T5 folder and matches the reference's features."""

from __future__ import annotations

import pytest
import torch

from engine.models.infinity.text import T5TextEncoder
from engine.runtime.cancel import UserFacingError
from tests.engine.infinity.recipes import PROMPT, fixture_tensors


def test_tokens_and_features_match_the_reference(t5_folder):
    ref = fixture_tensors("text.safetensors")
    encoder = T5TextEncoder(str(t5_folder))
    ids, mask = encoder.tokenize(PROMPT)
    assert torch.equal(ids, ref["input_ids"]) and torch.equal(mask, ref["attention_mask"])
    features = encoder.encode(PROMPT)
    assert features.shape == (12, 128)
    assert (features - ref["kv_compact"]).abs().max() <= 1e-5
    encoder.release()
    with pytest.raises(RuntimeError):
        encoder.encode(PROMPT)


def test_a_folder_without_weights_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserFacingError, match="T5"):
        T5TextEncoder(str(tmp_path))
    with pytest.raises(UserFacingError, match="folder"):
        T5TextEncoder(str(tmp_path / "missing"))
