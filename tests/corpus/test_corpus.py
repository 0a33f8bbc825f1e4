"""Every corpus kind through the real CLI in its own subprocess: the right exit code, no
traceback, one message naming the file and the problem, no partial or temporary file left,
and every input byte-identical afterwards.

The subprocesses run a few at a time (each kind has its own folder), so the whole corpus costs
about as much as its slowest few cases.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from tests.corpus.kinds import Case, build

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(case: Case, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli.main", *case.argv],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, tiny_checkpoints):
    root = tmp_path_factory.mktemp("corpus")
    cases = build(root, *tiny_checkpoints)
    before = {case.name: {p: _digest(p) for p in case.inputs} for case in cases}
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FINESCALE_DATA_DIR": str(root / "data"),
        "HF_HOME": str(root / "hf"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda c: _run(c, env), cases))
    return {
        case.name: (case, done, before[case.name], root)
        for case, done in zip(cases, results, strict=True)
    }


def _problems(case: Case, done: subprocess.CompletedProcess, before: dict, root: Path) -> list:
    """What is wrong with one kind's outcome (empty when it behaved)."""
    err, found = done.stderr, []
    if "Traceback" in err or "Warning" in err:
        found.append("traceback or warning leaked")
    if done.returncode != (0 if case.ok else 1):
        found.append(f"exit code {done.returncode}")
    if case.ok:
        for out in case.outputs:
            if not out.is_file():
                found.append(f"{out.name} not written")
                continue
            with Image.open(out) as saved:
                if saved.size != case.size:
                    found.append(f"{out.name} is {saved.size}, not {case.size}")
    else:
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        if len(lines) != 1 or case.blame not in lines[0] or case.problem not in lines[0].lower():
            found.append(f"unclear message {lines}")
        if any(out.exists() for out in case.outputs):
            found.append("an output was written")
    if list((root / case.name).rglob("*.part")):
        found.append("a temporary file was left")
    if {p: _digest(p) for p in case.inputs} != before:
        found.append("an input changed")
    return found


@pytest.mark.slow
def test_every_corpus_kind_is_handled(outcomes):
    assert len(outcomes) >= 45
    report = {
        name: (problems, done.stderr.strip()[-300:])
        for name, (case, done, before, root) in outcomes.items()
        if (problems := _problems(case, done, before, root))
    }
    assert not report, "\n".join(f"{n}: {p} | {e}" for n, (p, e) in report.items())
