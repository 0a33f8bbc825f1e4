"""Fixtures for GUI tests: isolated data folder, scripted prompts, windows over real engines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from app.engine_access import ModelEntry
from app.engine_bridge import EngineBridge
from app.main_window import MainWindow
from app.settings import AppSettings
from engine.api import ModelChoice
from tests.app.helpers import ScaleRunner, ScriptedPrompts

FAKE_MODEL = ModelEntry("test model", ModelChoice(model_id="test-model"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """GUI tests run next to other CPU work: one intra-op thread avoids oversubscription
    (10x slower tiny-model jobs on a loaded 2-core machine) and leaves a core for the GUI."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("FINESCALE_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, data_dir: Path) -> Callable[..., MainWindow]:
    """Build shown windows over real engines; engines are shut down after the test.

    ``real_engine`` runs the default pipelines (``engine.pipelines.run_request``); otherwise
    ``runner`` (a ``ScaleRunner`` by default) stands in for the model.
    """
    bridges: list[EngineBridge] = []

    def factory(
        runner=None,
        real_engine: bool = False,
        models: list[ModelEntry] | None = None,
        prompts: ScriptedPrompts | None = None,
        autosave_delay_ms: int = 60_000,
        register: bool = True,
    ) -> MainWindow:
        bridge = EngineBridge.create(runner=None if real_engine else runner or ScaleRunner())
        bridges.append(bridge)
        window = MainWindow(
            bridge,
            prompts=prompts or ScriptedPrompts(),
            settings=AppSettings(data_dir),
            models=[FAKE_MODEL] if models is None else models,
            autosave_delay_ms=autosave_delay_ms,
        )
        if register:
            qtbot.addWidget(window)
        window.resize(1000, 700)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield factory
    for bridge in bridges:
        bridge.shutdown()
