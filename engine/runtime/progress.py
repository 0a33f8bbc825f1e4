"""Overall batch progress: how many files are finished and when the rest will be.

The ETA is measured, not guessed: the mean time of the files actually upscaled so far times the
files left. Skipped files cost nothing and do not count toward the rate.
"""

from __future__ import annotations


class Throughput:
    def __init__(self, total: int):
        self.total = total
        self.finished = 0
        self._worked_s = 0.0
        self._worked = 0

    def add(self, seconds: float | None) -> None:
        """One file finished; ``seconds`` it took to upscale, None if it was skipped."""
        self.finished += 1
        if seconds is not None:
            self._worked_s += seconds
            self._worked += 1

    @property
    def seconds_per_image(self) -> float | None:
        return self._worked_s / self._worked if self._worked else None

    @property
    def images_per_minute(self) -> float | None:
        per = self.seconds_per_image
        return 60.0 / per if per else None

    @property
    def eta_s(self) -> float | None:
        per = self.seconds_per_image
        return None if per is None else per * (self.total - self.finished)


def format_eta(seconds: float | None) -> str:
    """``ETA 3 min``, ``ETA 45 s``, ``ETA 1 h 05 min``; empty while unknown."""
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"ETA {seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"ETA {minutes} min"
    return f"ETA {minutes // 60} h {minutes % 60:02d} min"
