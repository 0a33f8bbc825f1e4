"""One table of what each model family can do and the settings each task starts from.

The CLI's defaults, the requests' defaults, the GUI's mode list, its enabled states and its
"why disabled" tooltips all read this table, so they cannot drift apart. Pure data: importing it
costs nothing (the GUI reads it before torch is loaded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# task key -> label shown to the user (the GUI's mode list, in this order)
TASKS: dict[str, str] = {
    "inpaint": "In-paint",
    "outpaint": "Out-paint",
    "edit": "Edit by instruction",
    "upscale": "Upscale",
    "generate": "Generate",
}


@dataclass(frozen=True)
class SamplingDefaults:
    """What a task's sampler starts from; names as in :class:`engine.api.Sampling`."""

    cfg: float
    top_k: int = 900
    top_p: float = 0.95
    tau: float = 1.0
    smooth: bool = False

    def as_kwargs(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class TaskDefaults:
    sampling: SamplingDefaults
    grow_px: int = 4
    feather_px: int = 8


# VAR's released sampling settings: generation as in the reference sampler's fixtures, masked
# tasks with a stronger guidance that keeps fills on the class (the official notebook's cfg 3).
VAR_DEFAULTS: dict[str, TaskDefaults] = {
    "generate": TaskDefaults(SamplingDefaults(cfg=1.5, top_p=0.96)),
    "inpaint": TaskDefaults(SamplingDefaults(cfg=3.0)),
    "outpaint": TaskDefaults(SamplingDefaults(cfg=3.0)),
    # Zero-shot SR conditions on nothing (null class): both CFG halves are equal, cfg is moot.
    "upscale": TaskDefaults(SamplingDefaults(cfg=1.5, top_p=0.96)),
}


# VAREdit's demo settings (infer.generate_image, the Gradio app): cfg 4, tau 0.5, top-p 0.97.
VAREDIT_DEFAULTS: dict[str, TaskDefaults] = {
    "edit": TaskDefaults(SamplingDefaults(cfg=4.0, top_p=0.97, tau=0.5), grow_px=8, feather_px=8),
}


# Infinity's inference script (scripts/infer.sh: cfg 4, tau 0.5) with run_infinity.gen_one_img's
# top-k 900 / top-p 0.97; the masks grow and feather as for VAREdit's masked edits.
INFINITY_DEFAULTS: dict[str, TaskDefaults] = {
    task: TaskDefaults(SamplingDefaults(cfg=4.0, top_p=0.97, tau=0.5), grow_px=8, feather_px=8)
    for task in ("inpaint", "outpaint", "generate")
}


@dataclass(frozen=True)
class Family:
    """A model family: the tasks it runs here and what it is conditioned on."""

    name: str
    tasks: frozenset[str]
    defaults: dict[str, TaskDefaults]
    condition: str  # "class" | "text" | "image" | "none"
    runnable: bool = True  # False: known to the registry, not yet runnable in this version
    speedups: frozenset[str] = frozenset()  # Sampling trade-off fields this family honours


VAR_SPEEDUPS = frozenset({"cfg_skip_last", "prune_ratio", "prune_scales", "kv_budget"})
BITWISE_SPEEDUPS = frozenset({"kv_budget"})

FAMILIES: dict[str, Family] = {
    "var": Family("VAR", frozenset(VAR_DEFAULTS), VAR_DEFAULTS, "class", speedups=VAR_SPEEDUPS),
    "demo": Family(
        "Demo VAR", frozenset(VAR_DEFAULTS), VAR_DEFAULTS, "class", speedups=VAR_SPEEDUPS
    ),
    "quick-fill": Family(
        "Quick fill", frozenset({"inpaint"}), {"inpaint": VAR_DEFAULTS["inpaint"]}, "none"
    ),
    "lanczos": Family(  # the fast classical resize: no model, instant
        "Fast upscale", frozenset({"upscale"}), {"upscale": VAR_DEFAULTS["inpaint"]}, "none"
    ),
    "varsr": Family(  # test_varsr.py's settings: greedy tokens, image CFG 6
        "VARSR",
        frozenset({"upscale"}),
        {"upscale": TaskDefaults(SamplingDefaults(cfg=6.0, top_k=1, top_p=0.75))},
        "image",
    ),
    "infinity": Family(
        "Infinity",
        frozenset(INFINITY_DEFAULTS),
        INFINITY_DEFAULTS,
        "text",
        speedups=BITWISE_SPEEDUPS,
    ),
    "varedit": Family(
        "VAREdit", frozenset(VAREDIT_DEFAULTS), VAREDIT_DEFAULTS, "text", speedups=BITWISE_SPEEDUPS
    ),
}

# Why a task cannot run when no installed model offers it.
MISSING_MODEL: dict[str, str] = {
    "edit": "Needs an instruction-editing model (VAREdit + flan-t5-xl): open Models to import one.",
    "upscale": (
        "Needs a model: VARSR, or any VAR model (zero-shot) — open Models. Files and folders "
        "upscale in the Batch panel (Job ▸ Batch Upscale…, Ctrl+B), also without a model."
    ),
}
NO_MODEL = "Needs a model — open Models to import or download one."


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r}") from None


def task_defaults(family_name: str, task: str) -> TaskDefaults:
    """The defaults of ``task`` on ``family_name``; a family without them uses VAR's."""
    return family(family_name).defaults.get(task) or VAR_DEFAULTS.get(task, VAR_DEFAULTS["inpaint"])


def why_not(family_name: str | None, task: str, model_label: str = "") -> str | None:
    """Why a model of ``family_name`` cannot run ``task`` (``None`` when it can)."""
    if family_name is None:
        return MISSING_MODEL.get(task, NO_MODEL)
    info = family(family_name)
    if task in info.tasks and info.runnable:
        return None
    if task in MISSING_MODEL and not any(task in f.tasks and f.runnable for f in FAMILIES.values()):
        return MISSING_MODEL[task]
    label = model_label or info.name
    if task in MISSING_MODEL:  # the GUI cannot know whether one is installed: say which kind
        return f"{label} cannot {TASKS[task].lower()}. {MISSING_MODEL[task]}"
    return f"{label} cannot {TASKS[task].lower()}; pick another model."
