"""The scale schedules (token-map side per scale) of the released VAR checkpoints."""

from __future__ import annotations

PATCH_NUMS_256 = (1, 2, 3, 4, 5, 6, 8, 10, 13, 16)
PATCH_NUMS_512 = (1, 2, 3, 4, 6, 9, 13, 18, 24, 32)
PATCH_NUMS_1024 = (1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64)

# A checkpoint's ``pos_1LC`` length picks one of these.
RELEASED_PATCH_NUMS: dict[str, tuple[int, ...]] = {
    "256": PATCH_NUMS_256,
    "512": PATCH_NUMS_512,
    "1024": PATCH_NUMS_1024,
}
