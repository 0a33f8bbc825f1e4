"""A safetensors file read one tensor at a time, with plain reads (no memory map).

``safetensors.load_file`` maps the whole file: every page a loader touches while converting
counts in the process's resident memory until the last tensor of the file is freed, so
loading an fp32 file into bf16 peaks at file + model. Taking tensors one by one from
:class:`SafetensorsStream` (``pop``) peaks at the converted model plus one tensor of the file.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator, MutableMapping

import torch

from engine.runtime.cancel import UserFacingError
from engine.store.checkpoint import Progress

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_MAX_HEADER = 100 * 2**20


class SafetensorsStream(MutableMapping[str, torch.Tensor]):
    """Keys from the header; ``state[key]`` reads that tensor, ``pop`` reads and forgets it.

    Reading a key the caller already popped is a ``KeyError``, like a dict; nothing is cached.
    """

    def __init__(self, path: str, progress: Progress | None = None):
        self.path, self.name = path, os.path.basename(path)
        self.progress = progress
        self.size = os.path.getsize(path) if os.path.isfile(path) else 0
        if self.size == 0:
            raise UserFacingError(f"{self.name}: checkpoint file not found or empty ({path}).")
        self._entries, self._data_start = self._read_header()
        self._done = self._data_start

    def _bad(self, what: str) -> UserFacingError:
        return UserFacingError(f"{self.name}: not a readable safetensors checkpoint ({what}).")

    def _read_header(self) -> tuple[dict[str, dict], int]:
        with open(self.path, "rb") as f:
            head = f.read(8)
            (length,) = struct.unpack("<Q", head) if len(head) == 8 else (-1,)
            if not 0 < length <= min(_MAX_HEADER, self.size - 8):
                raise self._bad("bad header length")
            try:
                header = json.loads(f.read(length))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise self._bad(f"header: {exc}") from exc
        if not isinstance(header, dict):
            raise self._bad("header is not a table")
        header.pop("__metadata__", None)
        start = 8 + length
        for key, entry in header.items():
            self._check(key, entry, start)
        return header, start

    def _check(self, key: str, entry: object, start: int) -> None:
        try:
            dtype = _DTYPES[entry["dtype"]]
            begin, end = (int(v) for v in entry["data_offsets"])
            count = math.prod(int(s) for s in entry["shape"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._bad(f"entry {key!r}") from exc
        nbytes = count * torch.empty((), dtype=dtype).element_size()
        if end - begin != nbytes or begin < 0 or start + end > self.size:
            raise self._bad(f"{key!r} lies outside the file or has the wrong size")

    def __getitem__(self, key: str) -> torch.Tensor:
        entry = self._entries[key]
        begin, end = entry["data_offsets"]
        buffer = torch.empty(end - begin, dtype=torch.uint8)
        with open(self.path, "rb") as f:
            f.seek(self._data_start + begin)
            if f.readinto(memoryview(buffer.numpy())) != end - begin:
                raise self._bad(f"{key!r} is truncated")
        tensor = buffer.view(_DTYPES[entry["dtype"]]).reshape(entry["shape"])
        self._done += end - begin
        if self.progress is not None:
            self.progress(self._done, self.size)
        return tensor

    def __delitem__(self, key: str) -> None:
        del self._entries[key]

    def __setitem__(self, key: str, value: torch.Tensor) -> None:
        raise TypeError("a checkpoint stream is read-only")

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
