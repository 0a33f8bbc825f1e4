"""Damaged checkpoints: refused at import with the loader's own strict check (on the meta
device), blamed on the keys that are wrong, never a traceback, always naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.cli.main import main
from engine.runtime.cancel import UserFacingError
from engine.store import importing, index
from engine.store.loaders import load_model

pytestmark = pytest.mark.usefixtures("offline_store")  # importing never needs the network


def _pair(tmp_path: Path, tiny_checkpoints, change) -> Path:
    """A folder with the tiny VQVAE and a VAR whose state ``change`` edited."""
    vae, var = tiny_checkpoints
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "vae.safetensors").write_bytes(Path(vae).read_bytes())
    state = dict(load_file(var))
    change(state)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "mine.safetensors"))
    return folder


def _extra(state):
    state["extra.weight"] = torch.zeros(3)


def _missing(state):
    del state["blocks.1.ffn.fc2.bias"]


def _transposed(state):
    state["word_embed.weight"] = state["word_embed.weight"].t()


@pytest.mark.parametrize(
    "change, blamed",
    [
        (_extra, "1 unexpected key(s): extra.weight"),
        (_missing, "1 missing key(s): blocks.1.ffn.fc2.bias"),
        (_transposed, "1 mis-shaped key(s): word_embed.weight"),
    ],
)
def test_import_refuses_what_loading_would_refuse(tmp_path, tiny_checkpoints, change, blamed):
    folder = _pair(tmp_path, tiny_checkpoints, change)
    with pytest.raises(UserFacingError) as caught:
        importing.import_path(folder)
    assert "mine.safetensors" in str(caught.value) and blamed in str(caught.value)
    assert index.load_index()["files"] == {} and index.load_index()["custom"] == {}


def test_one_transposed_tensor_is_blamed_alone_when_loading(tmp_path, tiny_checkpoints):
    folder = _pair(tmp_path, tiny_checkpoints, _transposed)
    with pytest.raises(UserFacingError, match=r"mine.safetensors.*1 mis-shaped key\(s\)") as got:
        load_model(str(folder / "vae.safetensors"), str(folder / "mine.safetensors"))
    assert "missing" not in str(got.value)


def test_not_a_var_checkpoint_names_the_file(tmp_path, tiny_checkpoints):
    vae, _ = tiny_checkpoints
    with pytest.raises(UserFacingError, match=r"^vae.safetensors: this is not a VAR transformer"):
        load_model(vae, vae)


def test_a_text_file_named_pth_is_one_clear_line(tmp_path, capsys, tiny_checkpoints):
    text = tmp_path / "notes.pth"
    text.write_text("every line of this is text\n")
    assert main(["models", "import", str(text)]) == 1
    err = capsys.readouterr().err
    assert "notes.pth: not a PyTorch checkpoint" in err and "Traceback" not in err
    code = main(["generate", "--vae", tiny_checkpoints[0], "--var", str(text), "--out",
                 str(tmp_path / "g.png")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "notes.pth: not a PyTorch checkpoint" in err and "KeyError" not in err


def test_a_legacy_pickle_protocol_warns_nothing(tmp_path, recwarn):
    path = tmp_path / "old.pth"
    torch.save({"a": torch.zeros(2)}, path, _use_new_zipfile_serialization=False,
               pickle_protocol=4)  # fmt: skip
    with pytest.raises(UserFacingError, match="old.pth: saved in a pickle format"):
        importing.import_path(path)
    assert not [w for w in recwarn if "pickle" in str(w.message)]
