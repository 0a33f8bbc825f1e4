"""Import from disk: identification by name, validation by keys and shapes, safe registration."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from engine.models.var.transformer import VAR, VARConfig
from engine.models.var.vqvae import VQVAE, VQVAEConfig
from engine.runtime.cancel import UserFacingError
from engine.store import catalogue, index, installed, locations, removal, verify
from engine.store import importing as model_import
from engine.store.catalogue import get_model

pytestmark = pytest.mark.usefixtures("offline_store")  # importing never needs the network


def _big(*shape: int) -> torch.Tensor:
    """A released-size tensor that costs 4 bytes on disk (one element, zero strides)."""
    return torch.zeros(1).expand(*shape)


def _full_size(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every key of ``module`` (built on the meta device) at full size, 4 bytes on disk each."""
    return {
        key: torch.zeros(1, dtype=value.dtype).expand(*value.shape)
        for key, value in module.state_dict().items()
    }


def released_var_state(depth: int = 16) -> dict[str, torch.Tensor]:
    """Every key and shape of VAR-d{depth} (256 px), as the strict check at import needs."""
    with torch.device("meta"):
        var = VAR(VARConfig(depth=depth, embed_dim=64 * depth, num_heads=depth))
    return _full_size(var)


def released_vqvae_state() -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        vqvae = VQVAE(VQVAEConfig())
    state = _full_size(vqvae)
    state["quantize.embedding.weight"] = torch.randn(4096, 32)  # each copy hashes differently
    return state


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_folder_of_released_files_is_registered_without_moving_them(tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()
    torch.save(released_vqvae_state(), folder / "vae_ch160v4096z32.pth")
    torch.save(released_var_state(16), folder / "var_d16.pth")
    (folder / "README.md").write_text("not a model")
    before = {p.name: _sha(p) for p in folder.iterdir()}

    ids = model_import.import_path(folder)

    assert "var-d16" in ids and "var-d36-512" in ids  # the VQVAE serves every VAR depth
    assert installed.status(get_model("var-d16")) == "installed"
    assert installed.status(get_model("var-d20")) == "partial"
    assert {p.name: _sha(p) for p in folder.iterdir()} == before  # user's files untouched
    _, files, patch_nums = catalogue.resolve_model_choice("var-d16")
    vae, var = files["vae"], files["transformer"]
    assert Path(var).is_relative_to(locations.models_dir() / "var-d16")
    assert Path(vae).is_relative_to(locations.models_dir() / "shared")
    assert os.path.samefile(var, folder / "var_d16.pth")  # hard link, no second copy
    assert patch_nums == (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
    checks = verify.verify(get_model("var-d16"))
    assert [c.status for c in checks] == ["ok", "ok"]


def test_renamed_files_release_names_win_and_unknown_names_become_custom(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    torch.save(released_vqvae_state(), folder / "vae_ch160v4096z32 (1).pth")
    torch.save(released_var_state(20), folder / "var_d20 (1).pth")
    torch.save(released_var_state(20), folder / "finetuned.pth")  # release shapes, own name

    assert model_import.import_path(folder) == sorted(
        ["var-d16", "var-d20", "var-d24", "var-d30", "var-d36-512", "custom-finetuned"]
    )
    assert installed.resolve_files(get_model("var-d20"))["transformer"].endswith("var_d20.pth")
    custom = get_model("custom-finetuned")
    assert custom.patch_nums == (1, 2, 3, 4, 5, 6, 8, 10, 13, 16) and custom.resolution == 256
    assert installed.status(custom) == "installed"  # paired with the released VQVAE


def _hub_copy(root: Path, checkpoint: Path, blob_name: str | None = None) -> Path:
    """A copied hub cache folder: blobs named by sha256, snapshot symlinks, refs/main."""
    repo = root / "models--FoundationVision--var"
    blob_name = blob_name or _sha(checkpoint)
    (repo / "blobs").mkdir(parents=True)
    checkpoint.rename(repo / "blobs" / blob_name)
    commit = "a" * 40
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    os.symlink(f"../../blobs/{blob_name}", repo / "snapshots" / commit / "vae_ch160v4096z32.pth")
    return repo


def test_hub_cache_copy_is_imported_and_checked_against_blob_names(tmp_path):
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    torch.save(released_vqvae_state(), good)
    torch.save(released_vqvae_state(), bad)  # other random values: its name will lie
    digest = _sha(good)
    _hub_copy(tmp_path / "copy", good)

    assert "var-d16" in model_import.import_path(tmp_path / "copy")
    record = index.load_index()["files"]["FoundationVision/var/vae_ch160v4096z32.pth"]
    assert record["sha256"] == digest and Path(record["path"]).is_file()

    damaged = _hub_copy(tmp_path / "other", bad, blob_name=digest)
    with pytest.raises(UserFacingError, match="vae_ch160v4096z32.pth.*damaged"):
        model_import.import_path(damaged)


def test_wrong_keys_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "mystery.safetensors"
    from safetensors.torch import save_file

    save_file({"foo.weight": torch.zeros(2, 2)}, str(path))
    with pytest.raises(UserFacingError, match="mystery.safetensors.*not a checkpoint"):
        model_import.import_path(path)
    assert index.load_index()["files"] == {}


def test_release_name_with_wrong_shapes_is_refused(tmp_path, tiny_checkpoints):
    _, var = tiny_checkpoints
    named = tmp_path / "var_d24.safetensors"
    named.write_bytes(Path(var).read_bytes())
    with pytest.raises(UserFacingError, match="var_d24.safetensors.*var-d24.*depth 2"):
        model_import.import_path(named)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    folder = tmp_path / "evil"
    folder.mkdir()
    torch.save(released_vqvae_state(), folder / "vae_ch160v4096z32.pth")
    torch.save({"word_embed.weight": torch.zeros(2, 2), "x": Payload()}, folder / "var_d16.pth")

    with pytest.raises(UserFacingError, match="var_d16.pth.*refused"):
        model_import.import_path(folder)
    assert not marker.exists()
    assert index.load_index()["files"] == {}  # nothing half-registered


def test_custom_pair_gets_a_custom_id_and_loads(tiny_checkpoints, tmp_path):
    vae, var = tiny_checkpoints
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "vae.safetensors").write_bytes(Path(vae).read_bytes())
    (folder / "tiny.safetensors").write_bytes(Path(var).read_bytes())

    assert model_import.import_path(folder) == ["custom-tiny"]

    spec = get_model("custom-tiny")
    assert spec.custom and spec.patch_nums == (1, 2, 3, 4)
    assert spec.resolution == 64  # 4 tokens × 16 px
    assert installed.status(spec) == "installed"
    _, files, patch_nums = catalogue.resolve_model_choice("custom-tiny")
    vae_path, var_path = files["vae"], files["transformer"]
    from engine.store.loaders import load_model

    loaded = load_model(vae_path, var_path, patch_nums=patch_nums)
    assert loaded.patch_nums == (1, 2, 3, 4)

    assert [c.status for c in verify.verify(spec)] == ["ok", "ok"]
    removal.remove(spec)
    with pytest.raises(UserFacingError, match="Unknown model 'custom-tiny'"):
        get_model("custom-tiny")
    assert Path(vae).is_file() and Path(var).is_file()


def test_custom_var_without_its_vqvae_is_refused(tiny_checkpoints, tmp_path):
    _, var = tiny_checkpoints
    with pytest.raises(UserFacingError, match="var.safetensors.*no VQVAE"):
        model_import.import_path(var)


def test_cli_import_verify_remove(tmp_path, capsys):
    from engine.cli.main import main

    folder = tmp_path / "usb"
    folder.mkdir()
    torch.save(released_vqvae_state(), folder / "vae_ch160v4096z32.pth")
    torch.save(released_var_state(16), folder / "var_d16.pth")

    assert main(["models", "import", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "var-d16: installed" in out and "var-d20: partial (still missing var_d20.pth)" in out

    assert main(["models", "verify", "var-d16"]) == 0
    assert capsys.readouterr().out.count(" ok (against index)") == 2

    tampered = Path(installed.resolve_files(get_model("var-d16"))["transformer"])
    tampered.unlink()
    tampered.write_bytes(b"tampered")
    assert main(["models", "verify", "var-d16"]) == 1
    assert "mismatch" in capsys.readouterr().out

    assert main(["models", "remove", "var-d16"]) == 0
    assert installed.status(get_model("var-d16")) == "not installed"
    assert (folder / "var_d16.pth").is_file()
    # No other VAR model had its transformer installed, so the shared VQVAE went too.
    assert installed.status(get_model("var-d20")) == "not installed"
    assert (folder / "vae_ch160v4096z32.pth").is_file()
    assert main(["models", "list"]) == 0
    assert "var-d16" in capsys.readouterr().out


def test_shared_vqvae_stays_while_another_model_uses_it(tmp_path):
    folder = tmp_path / "usb"
    folder.mkdir()
    torch.save(released_vqvae_state(), folder / "vae_ch160v4096z32.pth")
    torch.save(released_var_state(16), folder / "var_d16.pth")
    torch.save(released_var_state(20), folder / "var_d20.pth")
    model_import.import_path(folder)

    removal.remove(get_model("var-d16"))
    assert installed.status(get_model("var-d16")) == "partial"  # only the shared VQVAE left
    assert installed.status(get_model("var-d20")) == "installed"


def test_a_file_the_disk_cannot_hold_is_refused_before_writing(tmp_path):
    from engine.store.locations import require_space

    require_space(tmp_path, 1, "tiny.pth: copying it")  # fits: no error
    with pytest.raises(UserFacingError, match=r"^huge.pth: copying it: not enough disk space in"):
        require_space(tmp_path, 10**18, "huge.pth: copying it")
    assert list(tmp_path.iterdir()) == []
