"""The model cache loads each (family, files, device, dtype) once and evicts the oldest."""

from __future__ import annotations

import pytest

from engine.api import ModelChoice
from engine.runtime.cancel import UserFacingError
from engine.store import loaders
from engine.store.cache import ModelCache


@pytest.fixture
def loads(monkeypatch):
    calls = []

    def load(files, device, dtype, patch_nums, progress):
        calls.append((dict(files), device, dtype))
        return object()

    monkeypatch.setitem(loaders.FAMILY_LOADERS, "toy", load)
    return calls


def choice(path, **kwargs) -> ModelChoice:
    return ModelChoice.from_files(family="toy", weights=path, **kwargs)


def test_the_same_choice_is_loaded_once(loads, tmp_path):
    cache = ModelCache(capacity=2)
    first = cache.get(choice(tmp_path / "a"))
    assert cache.get(choice(tmp_path / "a")) is first
    assert len(loads) == 1 and loads[0][0] == {"weights": str(tmp_path / "a")}


def test_device_and_precision_are_part_of_the_key_and_the_oldest_goes(loads, tmp_path):
    cache = ModelCache(capacity=2)
    fp32 = cache.get(choice(tmp_path / "a"))
    bf16 = cache.get(choice(tmp_path / "a", dtype="bf16"))
    assert fp32 is not bf16
    cache.get(choice(tmp_path / "b"))  # evicts the fp32 copy, the least recently used
    assert cache.get(choice(tmp_path / "a", dtype="bf16")) is bf16
    assert cache.get(choice(tmp_path / "a")) is not fp32
    assert [dtype for _, _, dtype in loads] == ["fp32", "bf16", "fp32", "fp32"]


def test_an_unknown_family_is_a_plain_error(tmp_path):
    with pytest.raises(UserFacingError, match="cannot run nope models"):
        ModelCache().get(ModelChoice.from_files(family="nope", weights=tmp_path / "x"))
