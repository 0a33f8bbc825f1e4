"""Rebuild the varedit_tiny weights from their JSON recipes and write them as released files.

See ``tests/fixtures/varedit_tiny/README.md`` section 3: every tensor is an exact function of
its seed, so the fixture ships recipes instead of 35 MB of weights.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import save_file

from tests.recipes import build_from_recipe

FIXTURES = Path(__file__).parents[2] / "fixtures" / "varedit_tiny"


def _buffer(key: str, shape: list[int]) -> torch.Tensor:
    if key.endswith("lfq.mask"):
        return 2 ** torch.arange(shape[0] - 1, -1, -1)
    return torch.zeros(shape)  # zero_k_bias


def build_state_dict(recipe_name: str) -> OrderedDict[str, torch.Tensor]:
    return build_from_recipe(FIXTURES / recipe_name, lambda key, shape, _r: _buffer(key, shape))


def write_released(folder: Path, fmt: str = "pth") -> tuple[Path, Path]:
    """The tiny transformer and VAE as released files: ``.pth`` (the VAE as ``{"vae": sd}``)
    or ``.safetensors`` (flat; the VAE's aliased mask buffer stored once)."""
    transformer, vae = (
        build_state_dict("weights_infinity.json"),
        build_state_dict("weights_vae.json"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "pth":
        t_path, v_path = folder / "2B-256.pth", folder / "infinity_vae_d32reg.pth"
        torch.save(dict(transformer), t_path)
        torch.save({"vae": dict(vae)}, v_path)
    else:
        t_path, v_path = folder / "2B-256.safetensors", folder / "infinity_vae_d32reg.safetensors"
        save_file(dict(transformer), str(t_path))
        vae.pop("quantize.lfq.mask")
        save_file(dict(vae), str(v_path))
    return t_path, v_path


def fixture_tensors(name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / name))


PROMPT = "Add glasses to this girl and change hair color to red"


def write_t5_folder(folder: Path) -> Path:
    """The fixture's tiny random T5 encoder + word-level tokenizer as a Hugging Face folder."""
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    recipe = json.loads((FIXTURES / "weights_t5.json").read_text())
    with torch.device("meta"):
        model = T5EncoderModel(T5Config(**recipe["t5_config"]))
    model.load_state_dict(build_state_dict("weights_t5.json"), strict=True, assign=True)
    model.tie_weights()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(FIXTURES / "tokenizer.json"),
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
    )
    tokenizer.save_pretrained(folder)
    return folder


T5_SHARD_NAMES = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


def write_full_t5_folder(folder: Path) -> Path:
    """A flan-t5-xl-shaped folder for the tiny T5: a full encoder-decoder (the fixture's encoder,
    a seeded random decoder) in two shards named like the hub's, config and tokenizer files."""
    from transformers import T5Config, T5ForConditionalGeneration

    write_t5_folder(folder)  # config + tokenizer (+ an encoder file, replaced below)
    (folder / "model.safetensors").unlink()
    recipe = json.loads((FIXTURES / "weights_t5.json").read_text())
    torch.manual_seed(7)
    full = T5ForConditionalGeneration(T5Config(**recipe["t5_config"]))
    state = {k: v.detach().clone() for k, v in full.state_dict().items()}
    state.update(build_state_dict("weights_t5.json"))
    for alias in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"):
        state.pop(alias, None)  # the same tensor as shared.weight: saved once, as the hub does
    keys = sorted(state)
    half = len(keys) // 2
    for name, part in zip(T5_SHARD_NAMES, (keys[:half], keys[half:]), strict=True):
        save_file({k: state[k].contiguous() for k in part}, str(folder / name))
    return folder
