"""The headless screenshot and self-test: a real in-paint by the shipped demo model, through the
real engine and the real window."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.engine_bridge import EngineBridge
from app.screenshot import render_screenshot
from app.self_test import run_self_test


def run_with_engine(job):
    bridge = EngineBridge.create()  # the default runner: engine.pipelines with real models
    try:
        return job(bridge)
    finally:
        bridge.shutdown()


def test_self_test_runs_a_demo_inpaint_and_says_ok(qtbot, data_dir, capsys):
    assert run_with_engine(run_self_test) == 0
    out = capsys.readouterr().out
    assert "3 variations, outside the mask bit-exact" in out
    assert "2 files match their sha256" in out and out.rstrip().endswith("OK")


def test_self_test_names_a_damaged_demo_model(qtbot, data_dir, tmp_path, monkeypatch, capsys):
    from engine.store.locations import demo_dir

    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "vae.safetensors").write_bytes((demo_dir() / "vae.safetensors").read_bytes())
    data = bytearray((demo_dir() / "var.safetensors").read_bytes())
    data[-1] ^= 1  # one flipped bit in a weight
    (demo / "var.safetensors").write_bytes(bytes(data))
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(demo))
    assert run_with_engine(run_self_test) == 1
    out = capsys.readouterr().out
    assert "demo model: FAILED: demo model damaged or missing (var.safetensors: mismatch)" in out


def test_screenshot_renders_a_populated_window(qtbot, data_dir, tmp_path):
    target = tmp_path / "shot.png"
    assert run_with_engine(lambda bridge: render_screenshot(bridge, str(target))) == 0
    pixels = np.asarray(Image.open(target).convert("RGB"))
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1000
    assert pixels.std() > 20, "not a blank frame"


def test_a_missing_demo_model_is_a_plain_failure(qtbot, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FINESCALE_DEMO_DIR", str(tmp_path / "none"))
    target = tmp_path / "shot.png"
    assert run_with_engine(lambda bridge: render_screenshot(bridge, str(target))) == 1
    assert "demo model is not installed" in capsys.readouterr().out
    assert not target.exists()
