"""Every model the user can pick, released or imported, and the files a choice resolves to."""

from __future__ import annotations

from engine.api import ModelChoice
from engine.capabilities import FAMILIES
from engine.runtime.cancel import UserFacingError
from engine.store.index import custom_models
from engine.store.installed import resolve_files
from engine.store.registry import ModelSpec, released_model, released_models


def all_models(include_custom: bool = True) -> list[ModelSpec]:
    """Released models in display order, then models the user imported (custom VAR pairs)."""
    models = list(released_models())
    if include_custom:
        models.extend(custom_models())
    return models


def get_model(model_id: str) -> ModelSpec:
    """Look up a released or imported model; unknown ids list the valid ones."""
    spec = released_model(model_id)
    if spec is not None:
        return spec
    customs = {custom.id: custom for custom in custom_models()}
    if model_id in customs:
        return customs[model_id]
    valid = ", ".join([*(s.id for s in released_models()), *customs])
    raise UserFacingError(f"Unknown model '{model_id}'. Valid model ids: {valid}.")


def family_of(choice: ModelChoice) -> str | None:
    """The family a choice runs: its own for explicit files, the catalogue's for an id;
    ``None`` for an unknown id (the loader then says what is wrong with it)."""
    if choice.files:
        return choice.family
    try:
        return get_model(choice.model_id).family if choice.model_id else None
    except UserFacingError:
        return None


def resolve_model_choice(model_id: str) -> tuple[str, dict[str, str], tuple[int, ...] | None]:
    """``(family, {role: path}, patch_nums)`` of an installed model, for the model cache."""
    spec = get_model(model_id)
    info = FAMILIES.get(spec.family)
    if info is None or not info.runnable:
        raise UserFacingError(
            f"{spec.title} is not a VAR model, and this version of Finescale cannot run it yet; "
            "pick a VAR model (e.g. var-d16) for this task."
        )
    present = resolve_files(spec)
    missing = [f.role for f in spec.files if f.role not in present]
    if missing:
        if spec.family == "demo":
            raise UserFacingError(
                "The demo model is not included in this build; download a VAR model "
                "(finescale models download var-d16) or import one from disk."
            )
        raise UserFacingError(
            f"{spec.title} is not installed; download it (finescale models download {spec.id}) "
            "or use Import from disk."
        )
    return spec.family, present, spec.patch_nums


# --------------------------------------------------------------------------------------------
