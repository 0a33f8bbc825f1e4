"""The Models window against a real local hub server: progress, failure, cancel, delete, import.

Downloads go through the real engine (``engine.store.download``) to ``tests.hub_server.FakeHub`` on
127.0.0.1 via ``HF_ENDPOINT``; the hub cache and data folder are per-test temp folders. The
registry's var-d16 entry is served with small fake files (the engine checks the hub's sha256, not
the tensors), so the window under test lists exactly what users see.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtWidgets import QProgressBar, QWidget
from safetensors import safe_open

from app.dialogs.models_dialog import ModelsDialog
from app.dialogs.models_table import DISK, MEMORY, PROGRESS, SIZE, STATUS
from app.engine_bridge import EngineBridge
from engine.runtime.cancel import CancelToken
from engine.store import installed, locations
from engine.store.catalogue import get_model
from engine.store.download import download_model, format_bytes
from engine.store.registry import VAR_REPO, VAR_VAE, released_model
from tests.app.helpers import ScriptedPrompts
from tests.hub_server import closed_port_url, payload, serve_hub

MODEL = "var-d16"


@dataclass
class Harness:
    """A shown dialog plus everything it asked or opened."""

    dialog: ModelsDialog
    prompts: ScriptedPrompts
    opened: list[QUrl] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    confirm: bool = True

    def select(self, model_id: str = MODEL) -> int:
        row = self.dialog.row_of(model_id)
        self.dialog.table.selectRow(row)
        return row

    def cell(self, column: int, model_id: str = MODEL) -> str:
        return self.dialog.table.item(self.dialog.row_of(model_id), column).text()

    def bar(self, model_id: str = MODEL) -> QProgressBar | None:
        widget = self.dialog.table.cellWidget(self.dialog.row_of(model_id), PROGRESS)
        return widget if isinstance(widget, QProgressBar) else None


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serve_hub(tmp_path, monkeypatch) as server:
        yield server


@pytest.fixture
def harness(qtbot, hub) -> Harness:
    prompts = ScriptedPrompts()
    holder: list[Harness] = []

    def open_url(url: QUrl) -> bool:
        holder[0].opened.append(url)
        return True

    def confirm(_parent: QWidget, question: str) -> bool:
        holder[0].questions.append(question)
        return holder[0].confirm

    bridge = EngineBridge.create()
    dialog = ModelsDialog(
        None, prompts, bridge, device="cpu", dtype="fp32", open_url=open_url,
        confirm_remove=confirm,
    )  # fmt: skip
    holder.append(Harness(dialog, prompts))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    yield holder[0]
    dialog.shutdown()
    bridge.shutdown()


def serve_var_d16(hub, vae_size: int = 64 * 1024, var_size: int = 320 * 1024) -> None:
    hub.add(VAR_VAE.filename, payload(vae_size, 1), repo=VAR_REPO)
    hub.add("var_d16.pth", payload(var_size, 2), repo=VAR_REPO)


def test_download_shows_progress_then_installed(harness, hub, qtbot):
    serve_var_d16(hub)
    hub.delay_s = 0.03  # ~0.7 s in all: several throttled updates reach the bar
    dialog = harness.dialog
    row = harness.select()
    assert harness.cell(STATUS) == "not installed"
    assert harness.cell(SIZE).startswith("≈ ")  # registry sizes are estimates
    assert harness.cell(DISK) == "—"
    qtbot.waitUntil(lambda: MODEL in dialog.memory_plans.plans)  # the planner's answer
    assert harness.cell(MEMORY) == dialog.memory_plans.plans[MODEL].summary()
    assert harness.cell(MEMORY).startswith("fits in RAM")
    assert dialog.table.horizontalHeaderItem(MEMORY).text() == "Memory (cpu, fp32)"
    assert dialog.download_button.isEnabled() and not dialog.cancel_button.isEnabled()
    changed: list[bool] = []
    dialog.models_changed.connect(lambda: changed.append(True))
    seen: list[tuple[int, str]] = []

    def record() -> None:
        bar = harness.bar()
        if bar is not None:
            seen.append((bar.value(), bar.text()))

    timer = QTimer(dialog)
    timer.timeout.connect(record)
    timer.start(15)
    with qtbot.waitSignal(dialog.download_finished, timeout=20_000) as finished:
        dialog.download_button.click()
    timer.stop()

    assert finished.args == [MODEL, "done"]
    values = [value for value, _ in seen]
    assert values == sorted(values), "the bar never goes backwards"
    assert len({v for v in values if v > 0}) >= 2, f"the bar should rise: {values}"
    assert any(" kB of " in text and "%" in text for _, text in seen), seen
    assert harness.cell(STATUS) == "installed"
    assert harness.cell(PROGRESS) == "Downloaded."
    assert harness.bar() is None
    assert harness.cell(DISK) == "393.22 kB"
    assert changed == [True]
    assert not dialog.download_button.isEnabled() and dialog.delete_button.isEnabled()
    assert dialog.table.currentRow() == row
    assert harness.prompts.errors == []


@pytest.mark.parametrize("failure", ["checksum", "server down"])
def test_failed_download_says_why_in_plain_words(harness, hub, qtbot, monkeypatch, failure):
    if failure == "checksum":
        wrong = hashlib.sha256(b"something else").hexdigest()
        hub.add(VAR_VAE.filename, payload(32 * 1024, 1), repo=VAR_REPO, sha256=wrong)
        hub.add("var_d16.pth", payload(32 * 1024, 2), repo=VAR_REPO)
    else:
        monkeypatch.setenv("HF_ENDPOINT", closed_port_url())
    dialog = harness.dialog
    harness.select()

    with qtbot.waitSignal(dialog.download_finished, timeout=20_000) as finished:
        dialog.download_button.click()

    assert finished.args == [MODEL, "failed"]
    ((message, detail),) = harness.prompts.errors
    assert "Traceback" not in message and detail == ""
    if failure == "checksum":
        assert "checksum mismatch" in message and VAR_VAE.filename in message
    else:
        assert message.startswith("offline") and "Import" in message
    assert harness.cell(PROGRESS) == f"Download failed: {message}"
    assert message in dialog.message.text()
    assert harness.cell(STATUS) == "not installed"
    assert dialog.download_button.isEnabled(), "the user can try again"


def test_cancel_keeps_the_partial_file_and_download_resumes(harness, hub, qtbot):
    serve_var_d16(hub, vae_size=512 * 1024, var_size=256 * 1024)
    hub.delay_s = 0.03  # the VQVAE alone takes ~1 s
    dialog = harness.dialog
    harness.select()
    dialog.download_button.click()
    qtbot.waitUntil(lambda: harness.bar() is not None and harness.bar().value() > 0, timeout=10_000)
    assert dialog.cancel_button.isEnabled() and not dialog.download_button.isEnabled()

    ticks: list[float] = []  # the GUI thread keeps serving events while bytes arrive
    timer = QTimer(dialog)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    qtbot.wait(200)
    timer.stop()
    assert len(ticks) >= 5
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.5

    with qtbot.waitSignal(dialog.download_finished, timeout=10_000) as finished:
        dialog.cancel_button.click()
        assert harness.bar().text() == "Cancelling…"
    assert finished.args == [MODEL, "cancelled"]
    assert harness.cell(STATUS) in ("not installed", "partial")
    text = harness.cell(PROGRESS)
    assert "kB of" in text and "kept" in text and "resumes" in text
    blobs = locations.repo_folder(VAR_REPO) / "blobs"
    (partial,) = blobs.glob("*.incomplete")
    kept = partial.stat().st_size
    assert kept > 0
    assert harness.prompts.errors == []
    assert dialog.download_button.isEnabled()

    hub.delay_s = 0.0
    before = len(hub.gets("/cdn/"))
    with qtbot.waitSignal(dialog.download_finished, timeout=20_000) as finished:
        dialog.download_button.click()
    assert finished.args == [MODEL, "done"]
    assert hub.gets("/cdn/")[before]["range"] == f"bytes={kept}-"
    assert harness.cell(STATUS) == "installed"


def test_delete_asks_first_then_removes(harness, hub, qtbot):
    serve_var_d16(hub)
    download_model(get_model(MODEL), None, CancelToken())
    dialog = harness.dialog
    dialog.refresh()
    harness.select()
    assert harness.cell(STATUS) == "installed"

    dialog.reveal_button.click()
    (url,) = harness.opened
    folder = Path(url.toLocalFile())
    assert folder.is_dir() and (folder / "var_d16.pth").exists()

    harness.confirm = False
    dialog.delete_button.click()
    assert len(harness.questions) == 1 and "var-d16" in harness.questions[0].lower()
    assert harness.cell(STATUS) == "installed"

    harness.confirm = True
    with qtbot.waitSignal(dialog.models_changed, timeout=5_000):
        dialog.delete_button.click()
    assert harness.cell(STATUS) == "not installed"
    assert harness.cell(DISK) == "—"
    assert harness.cell(PROGRESS).startswith("Deleted (")
    assert not dialog.delete_button.isEnabled() and dialog.download_button.isEnabled()


def test_offline_suggests_import(harness, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dialog = harness.dialog
    dialog.refresh()
    harness.select()
    assert dialog.offline_notice.isVisible()
    assert not dialog.download_button.isEnabled()
    assert "offline" in dialog.download_button.toolTip().lower()
    assert "Import" in dialog.download_button.toolTip()
    assert dialog.import_button.isEnabled()


def test_import_runs_off_the_gui_thread_and_lists_the_model(harness, qtbot, tiny_checkpoints):
    dialog = harness.dialog
    harness.prompts.import_answer = str(Path(tiny_checkpoints[0]).parent)
    with qtbot.waitSignals([dialog.models_changed, dialog.imported], timeout=30_000):
        dialog.import_button.click()
        assert not dialog.import_button.isEnabled()
    model_id = dialog.selected_id()
    assert model_id is not None and model_id.startswith("custom-")
    assert harness.cell(STATUS, model_id) == "installed"
    assert dialog.import_button.isEnabled()
    assert dialog.message.text().startswith("Imported custom-")


def test_import_can_store_half_precision_safetensors(harness, qtbot, tiny_checkpoints):
    dialog = harness.dialog
    harness.prompts.import_answer = str(Path(tiny_checkpoints[0]).parent)
    dialog.import_format.setCurrentIndex(dialog.import_format.findData("fp16"))
    with qtbot.waitSignal(dialog.imported, timeout=30_000):
        dialog.import_button.click()
    model_id = dialog.selected_id()
    files = installed.resolve_files(get_model(model_id))
    with safe_open(files["transformer"], "pt") as handle:
        assert handle.metadata()["precision"] == "fp16"
    assert (
        Path(files["transformer"]).stat().st_size < 0.55 * Path(tiny_checkpoints[1]).stat().st_size
    )


def test_download_refreshes_the_generate_panel(make_window, hub, qtbot):
    serve_var_d16(hub)
    window = make_window(models=[])
    window.models._fixed = None  # use the real registry (in the test's data folder)
    window.models.open_dialog()
    dialog = window.models.dialog()
    assert dialog.isVisible() and not dialog.isModal()
    dialog.table.selectRow(dialog.row_of(MODEL))
    with qtbot.waitSignal(dialog.download_finished, timeout=20_000):
        dialog.download_button.click()
    assert MODEL in [entry.choice.model_id for entry in window.panel.models]


def test_infinity_shows_what_stays_on_disk_and_what_is_downloaded(harness):
    """flan-t5-xl's full shards are fetched, only its encoder is kept: both sizes are shown."""
    spec = released_model("infinity-2b")
    text = harness.cell(SIZE, "infinity-2b")
    assert format_bytes(spec.total_bytes) in text
    assert f"{format_bytes(spec.download_bytes)} to download" in text
    assert "to download" not in harness.cell(SIZE, "var-d16")
