"""The capability table answers what runs where and why not, in words a user can act on."""

from __future__ import annotations

import subprocess
import sys

from engine.capabilities import FAMILIES, TASKS, task_defaults, why_not


def test_every_family_task_is_a_known_task_with_defaults():
    for family in FAMILIES.values():
        assert family.tasks <= set(TASKS)
        for task in family.tasks:
            assert task in family.defaults


def test_reasons_name_the_model_or_the_missing_piece():
    assert why_not("var", "inpaint") is None
    assert why_not("demo", "generate") is None
    assert "Quick fill" in why_not("quick-fill", "outpaint", "Quick fill")
    assert "VAREdit" in why_not("var", "edit")
    assert "model" in why_not(None, "inpaint").lower()


def test_generation_and_masked_tasks_have_their_own_guidance():
    assert task_defaults("var", "generate").sampling.cfg == 1.5
    assert task_defaults("var", "inpaint").sampling.cfg == 3.0
    assert task_defaults("quick-fill", "inpaint") == task_defaults("var", "inpaint")


def test_the_table_is_plain_data_that_never_loads_torch():
    code = "import sys, engine.capabilities, engine.api; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
