"""Cooperative cancellation: the engine checks a token between scales, tiles and files."""

from __future__ import annotations

import threading


class JobCancelled(Exception):
    """Raised inside a job when its token was cancelled; the engine turns it into an event."""


class UserFacingError(Exception):
    """An error whose message is already one plain sentence a user can act on."""


class NonFiniteOutput(UserFacingError):
    """The model produced NaN or infinite numbers: damaged weights, or fp16 overflowing."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()
