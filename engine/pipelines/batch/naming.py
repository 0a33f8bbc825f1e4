"""Output names: the template, the output format, and what to do when the name is taken.

Template fields: ``{name}`` (and its alias ``{stem}``) the input's name without extension,
``{folder}`` the name of the folder it is in, ``{scale}`` the factor (``4``, or ``2.5`` for a
target size), ``{w}`` and ``{h}`` the output size, ``{ext}`` the output extension.
"""

from __future__ import annotations

import os
import string

from engine.runtime.cancel import UserFacingError

FIELDS = ("name", "stem", "folder", "scale", "w", "h", "ext")
# output format -> extension; "same" keeps the input's when it can be written, else PNG
FORMAT_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "tiff": "tif"}
SAME_KEEPS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
MAX_SUFFIX = 9999


def check_template(template: str) -> None:
    """Refuse a template with unknown fields or one that leaves the output folder."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise UserFacingError(f"The name template {template!r} is malformed ({exc}).") from None
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        known = ", ".join("{" + f + "}" for f in FIELDS)
        raise UserFacingError(
            f"The name template {template!r} has an unknown field {{{unknown[0]}}}; use {known}."
        )
    if "/" in template or "\\" in template or template.strip(". ") == "":
        raise UserFacingError(f"The name template {template!r} must be a plain file name.")


def output_extension(source: str, fmt: str) -> str:
    """The extension (no dot) for ``source`` written in ``fmt`` (same/png/jpeg/webp/tiff)."""
    if fmt != "same":
        return FORMAT_EXTENSIONS[fmt]
    ext = os.path.splitext(source)[1].lower()
    return ext[1:] if ext in SAME_KEEPS else "png"


def _scale_text(ratio: float) -> str:
    return f"{ratio:.2f}".rstrip("0").rstrip(".")


def render(template: str, source: str, size: tuple[int, int], ratio: float, ext: str) -> str:
    """The output file name for ``source`` (a name only, no folder)."""
    stem = os.path.splitext(os.path.basename(source))[0]
    folder = os.path.basename(os.path.dirname(os.path.abspath(source)))
    name = template.format(
        name=stem, stem=stem, folder=folder, scale=_scale_text(ratio), w=size[0], h=size[1],
        ext=ext,
    )  # fmt: skip
    if "{ext}" not in template:
        name = f"{name}.{ext}"
    return name


def with_suffix(path: str, taken) -> str:
    """``path``, or ``stem_1.ext``, ``stem_2.ext``... the first that ``taken`` refuses."""
    if not taken(path):
        return path
    stem, ext = os.path.splitext(path)
    for number in range(1, MAX_SUFFIX + 1):
        candidate = f"{stem}_{number}{ext}"
        if not taken(candidate):
            return candidate
    raise UserFacingError(f"{os.path.basename(path)}: {MAX_SUFFIX} numbered copies exist already.")
