"""Keep only the T5 encoder on disk: flan-t5-xl is 11.4 GB, the half Finescale uses 4.9 GB.

Infinity and VAREdit run ``T5EncoderModel``, which reads ``shared.*`` and ``encoder.*`` and
ignores the decoder. After a download (or an import) the encoder tensors of the full shards are
streamed, one tensor at a time, into a single ``model.safetensors`` next to the config and
tokenizer files (``T5EncoderModel.from_pretrained`` loads that folder as it is), the new file
is checked, and only then may the shards be deleted. ``encoder.embed_tokens.weight`` is the
same tensor as ``shared.weight`` (tied again on load), so it is written once.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from engine.runtime.cancel import CancelToken, UserFacingError
from engine.store.locations import require_space

KEPT_PREFIXES = ("shared.", "encoder.")
TIED_COPY = "encoder.embed_tokens.weight"
REQUIRED = ("shared.weight", "encoder.final_layer_norm.weight", "encoder.block.0.layer.0.")
_ALIGN = 8  # the safetensors header is padded so the data starts 8-byte aligned


def config_layers(folder: Path) -> int | None:
    """``num_layers`` of the T5 ``config.json`` in ``folder`` (None without one)."""
    try:
        return int(json.loads((folder / "config.json").read_text(encoding="utf-8"))["num_layers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _plan(
    sources: Sequence[Path], layers: int | None = None
) -> list[tuple[Path, str, str, list[int], int]]:
    """(file, key, dtype, shape, bytes) of every kept tensor, sorted by key; with ``layers``
    (the config's), every encoder block must be there: a missing shard is refused, never
    left for ``from_pretrained`` to fill with random weights."""
    plan = []
    for path in sources:
        try:
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                    if not key.startswith(KEPT_PREFIXES) or key == TIED_COPY:
                        continue
                    piece = handle.get_slice(key)
                    dtype, shape = piece.get_dtype(), list(piece.get_shape())
                    plan.append((path, key, dtype, shape, _nbytes(dtype, shape)))
        except (SafetensorError, OSError) as exc:
            raise UserFacingError(f"{path.name}: not a readable safetensors file ({exc}).") from exc
    plan.sort(key=lambda item: item[1])
    keys = [item[1] for item in plan]
    names = ", ".join(p.name for p in sources)
    if len(set(keys)) != len(keys):
        raise UserFacingError(f"{names}: the T5 shards hold the same tensor twice.")
    missing = [need for need in REQUIRED if not any(k.startswith(need) for k in keys)]
    if missing:
        raise UserFacingError(f"{names}: not the weights of a T5 encoder (no {missing[0]}).")
    blocks = {k.split(".")[2] for k in keys if k.startswith("encoder.block.")}
    absent = [i for i in range(layers or 0) if str(i) not in blocks]
    if absent:
        raise UserFacingError(
            f"{names}: encoder block {absent[0]} of {layers} is missing; is a shard missing?"
        )
    return plan


_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1}


def _nbytes(dtype: str, shape: list[int]) -> int:
    if dtype not in _ITEM_BYTES:
        raise UserFacingError(f"T5 tensors of type {dtype} are not supported.")
    count = 1
    for side in shape:
        count *= side
    return count * _ITEM_BYTES[dtype]


def _header(plan) -> bytes:
    entries, offset = {"__metadata__": {"format": "pt"}}, 0
    for _, key, dtype, shape, size in plan:
        entries[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % _ALIGN)
    return struct.pack("<Q", len(text)) + text


def _stream(plan, out, digest, token: CancelToken) -> None:
    """Copy each tensor's bytes in plan order: memory stays at the largest tensor."""
    with ExitStack() as stack:
        handles = {}
        for path, key, _, _, _ in plan:
            token.raise_if_cancelled()
            if path not in handles:
                handles[path] = stack.enter_context(safe_open(str(path), framework="pt"))
            tensor = handles[path].get_tensor(key).contiguous()
            data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
            out.write(data)
            digest.update(data)


def _check(dest: Path, plan, sha256: str) -> None:
    """The file on disk parses to exactly the planned tensors and hashes to what was written."""
    with safe_open(str(dest), framework="pt") as handle:
        found = {k: list(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    if found != {key: shape for _, key, _, shape, _ in plan}:
        raise UserFacingError(f"{dest}: the encoder file did not come out as written.")
    digest = hashlib.sha256()
    with open(dest, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise UserFacingError(f"{dest}: the encoder file changed on disk while being written.")


def write_encoder(
    sources: Sequence[str | os.PathLike],
    dest: str | os.PathLike,
    token: CancelToken | None = None,
    layers: int | None = None,
) -> tuple[str, int]:
    """Write the encoder tensors of ``sources`` into ``dest`` (atomically) and check it;
    ``layers`` is the config's ``num_layers`` (see :func:`config_layers`).

    Returns (sha256, size). The sources are never changed; deleting them is the caller's call.
    """
    token = token or CancelToken()
    sources, dest = [Path(p) for p in sources], Path(dest)
    plan = _plan(sources, layers)
    header = _header(plan)
    size = len(header) + sum(item[4] for item in plan)
    dest.parent.mkdir(parents=True, exist_ok=True)
    require_space(dest.parent, size, "The T5 encoder")
    tmp = dest.with_name(f".{dest.name}.writing")
    digest = hashlib.sha256(header)
    try:
        with open(tmp, "wb") as out:
            out.write(header)
            _stream(plan, out, digest, token)
        _check(tmp, plan, digest.hexdigest())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), size
