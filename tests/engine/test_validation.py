"""Every numeric setting is checked engine-side, with one plain sentence, before any work: the
CLI and the GUI (which submits the same requests) get the same rules."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from engine.api import (
    TERMINAL_EVENTS,
    GenerateRequest,
    InpaintRequest,
    JobFailed,
    ModelChoice,
    OutpaintRequest,
    Sampling,
)
from engine.cli.main import main
from engine.pipelines.validation import validate_request
from engine.runtime.cancel import UserFacingError
from engine.service import create_engine

QUICK = ModelChoice(model_id="quick-fill")
IMAGE = np.zeros((8, 8, 3), np.uint8)
MASK = np.ones((8, 8), bool)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--grow", "-5"], "The mask grow must be at least 0 (got -5)."),
        (["--feather", "-3"], "The feather must be at least 0 (got -3)."),
        (["--top-p", "2"], "Top-p must be between 0 and 1 (got 2)."),
        (["--cfg", "nan"], "Guidance (cfg) must be a finite number, not nan."),
        (["--cfg", "inf"], "Guidance (cfg) must be a finite number, not inf."),
        (["--top-k", "-1"], "Top-k must be at least 0 (got -1)."),
        (["--samples", "0"], "The number of samples must be between 1 and 64 (got 0)."),
        (["--seed", "-1"], "The seed must be between 0 and"),
        (["--kv-budget", "0"], "The KV-cache budget must be above 0 and at most 1 (got 0)."),
        (["--prune", "1"], "The pruning ratio must be from 0 up to 1 (got 1)."),
        (["--cfg-skip-last", "-1"], "Scales without guidance must be at least 0 (got -1)."),
    ],
)
def test_cli_refuses_bad_numbers_plainly(tmp_path, capsys, flags, message):
    Image.fromarray(IMAGE).save(tmp_path / "i.png")
    Image.fromarray(MASK.astype(np.uint8) * 255).save(tmp_path / "m.png")
    code = main(["inpaint", "--image", str(tmp_path / "i.png"), "--mask", str(tmp_path / "m.png"),
                 "--out", str(tmp_path / "o.png"), "--model", "quick-fill", *flags])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and message in err, err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    "request_, message",
    [
        (GenerateRequest(QUICK, sampling=Sampling(tau=0)), "Temperature (tau) must be more than 0"),
        (OutpaintRequest(QUICK, IMAGE, left=-1), "The left extension must be at least 0"),
        (InpaintRequest(QUICK, IMAGE, MASK, keep_scales=-2), "Scales to keep must be at least 0"),
        (InpaintRequest(QUICK, IMAGE, MASK, token_rule="loose"), "Unknown token rule 'loose'"),
        (GenerateRequest(QUICK, samples=True), "must be a whole number"),
    ],
)
def test_engine_side_rules_cover_every_request(request_, message):
    with pytest.raises(UserFacingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_request(request_)


def test_the_engine_applies_them_to_whatever_is_submitted():
    events = []
    both_ended = threading.Semaphore(0)

    def sink(event) -> None:
        events.append(event)
        if isinstance(event, TERMINAL_EVENTS):
            both_ended.release()

    engine = create_engine(sink=sink)
    try:
        engine.submit(InpaintRequest(QUICK, IMAGE, MASK, grow_px=-5))
        engine.submit(InpaintRequest(QUICK, IMAGE, MASK, sampling=Sampling(top_p=2.0)))
        assert both_ended.acquire(timeout=30) and both_ended.acquire(timeout=30)
    finally:
        engine.shutdown()
    failed = [e.message for e in events if isinstance(e, JobFailed)]
    assert failed == ["The mask grow must be at least 0 (got -5).",
                      "Top-p must be between 0 and 1 (got 2)."]  # fmt: skip
