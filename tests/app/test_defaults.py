"""One table of defaults: the GUI, the CLI and the requests start every task from the same
settings, read from ``engine.capabilities``."""

from __future__ import annotations

import pytest

from engine.api import GenerateRequest, InpaintRequest, ModelChoice, OutpaintRequest
from engine.capabilities import task_defaults
from engine.cli.main import build_parser
from tests.app.helpers import gradient_image

CLI = {
    "generate": ["generate", "--out", "x.png"],
    "inpaint": ["inpaint", "--image", "i.png", "--mask", "m.png", "--out", "x.png"],
    "outpaint": ["outpaint", "--image", "i.png", "--out", "x.png"],
}
REQUESTS = {
    "generate": lambda: GenerateRequest(model=ModelChoice()),
    "inpaint": lambda: InpaintRequest(model=ModelChoice(), image=gradient_image(), mask=None),
    "outpaint": lambda: OutpaintRequest(model=ModelChoice(), image=gradient_image()),
}


def cli_settings(task: str) -> dict:
    args = build_parser().parse_args(CLI[task])
    return {"cfg": args.cfg, "top_k": args.top_k, "top_p": args.top_p}


@pytest.mark.parametrize("task", ["generate", "inpaint", "outpaint"])
def test_gui_cli_and_requests_start_from_the_same_settings(make_window, task):
    window = make_window()
    window.panel.set_mode(task)
    panel = window.panel
    gui = {"cfg": panel.cfg.value(), "top_k": panel.top_k.value(), "top_p": panel.top_p.value()}
    request = REQUESTS[task]().sampling
    assert gui == cli_settings(task)
    assert gui == {"cfg": request.cfg, "top_k": request.top_k, "top_p": request.top_p}
    assert gui["cfg"] == task_defaults("var", task).sampling.cfg


def test_grow_and_feather_defaults_agree():
    args = build_parser().parse_args(CLI["inpaint"])
    defaults = task_defaults("var", "inpaint")
    request = REQUESTS["inpaint"]()
    assert (args.grow, args.feather) == (defaults.grow_px, defaults.feather_px)
    assert (request.grow_px, request.feather_px) == (defaults.grow_px, defaults.feather_px)
