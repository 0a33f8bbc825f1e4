"""How a model is placed to fit a device: the strategy the planner picks and the loader applies.

Torch-free data, so the GUI and the command line can show a plan before anything is loaded.
A :class:`MemoryStrategy` changes *where and in which precision* weights and caches live; only
``int8_blocks`` changes the numbers the model computes (it is named in the plan the user sees),
every other field keeps the outputs of the resident path bit for bit. The ScaleKV-style KV budget
is a sampling setting (``Sampling.kv_budget``, beside the other opt-in trade-offs); the planner
takes it as an input.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_PLACEMENTS = ("device", "cpu", "release")
GB = 1e9


@dataclass(frozen=True, slots=True)
class MemoryStrategy:
    """One way of running a model; the default is "everything resident on the device"."""

    int8_blocks: bool = False  # transformer blocks' linear weights int8, per-output-channel scales
    stream_blocks: bool = False  # blocks kept in (pinned) host RAM, copied in one ahead of use
    text_encoder: str = "device"  # "device" | "cpu" (encode on the CPU) | "release" (free after)

    def __post_init__(self) -> None:
        if self.text_encoder not in TEXT_PLACEMENTS:
            raise ValueError(f"text_encoder must be one of {TEXT_PLACEMENTS}")

    @property
    def exact(self) -> bool:
        """True when outputs equal the resident path's (same precision, same bits)."""
        return not self.int8_blocks

    def describe(self) -> str:
        """A few words for the user: "bf16 resident", "int8 blocks, T5 on the CPU"."""
        parts = []
        if self.int8_blocks:
            parts.append("int8 blocks")
        if self.stream_blocks:
            parts.append("blocks streamed from RAM")
        if self.text_encoder == "cpu":
            parts.append("T5 on the CPU")
        elif self.text_encoder == "release":
            parts.append("T5 freed after encoding")
        return ", ".join(parts) or "all resident"


RESIDENT = MemoryStrategy()


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """What a model needs at one resolution under one strategy, component by component."""

    model: str  # registry id or file name
    resolution: int
    strategy: MemoryStrategy
    components: tuple[tuple[str, int], ...]  # ("weights", bytes), ("kv_cache", ...), ...
    available: int | None  # free bytes on the device the plan was made for (None: unknown)
    device: str  # "cuda:0 (NVIDIA ...)", "cpu"
    seconds: float | None = None  # rough time per image, when known
    kv_budget: float | None = None  # the sampling's ScaleKV budget the plan assumes

    @property
    def total(self) -> int:
        return sum(size for _, size in self.components)

    @property
    def fits(self) -> bool:
        return self.available is None or self.total <= self.available

    def method(self) -> str:
        """The strategy in words, with the KV budget when the plan assumes one."""
        budget = "" if self.kv_budget is None else f", KV budget {self.kv_budget:.0%}"
        return self.strategy.describe() + budget

    def summary(self) -> str:
        """One line for the user: "needs ~9.8 GB on this GPU: int8 blocks", "fits in RAM"."""
        gb = None if self.available is None else self.available / GB
        need = (
            f"{self.total / GB:.1f} GB" if self.total >= GB / 10 else f"{self.total / 1e6:.0f} MB"
        )
        cpu = self.device.startswith("cpu")
        where = "in RAM" if cpu else "on this GPU"
        if self.fits:
            line = f"fits in RAM (~{need})" if cpu else f"needs ~{need} {where}"
            if not cpu or self.strategy != RESIDENT:
                line += f": {self.method()}"
        else:
            line = (
                f"needs ~{need}, more than the {gb:.1f} GB free {where} (even with {self.method()})"
            )
        if self.seconds is not None:
            line += f"; ~{self.seconds:.0f} s"
        return line
