"""Exceptions raised by neurorect (raise, don't log)."""

from __future__ import annotations

from typing import Any


class NeurorectError(Exception):
    """Base class of every error neurorect raises on purpose."""


class ModelError(NeurorectError, ValueError):
    """A model file or parameter is invalid.

    The message names the file (when there is one), the key, the offending value and what
    is allowed. The parts are kept as attributes so that a caller higher up (the model-file
    loader) can add the file name and the full key path without re-parsing the text.

    Parameters
    ----------
    message : str
        What is wrong (used as-is when ``key`` is None).
    key : str, optional
        The parameter's key, e.g. ``"alpha"`` or ``"populations.E.transfer.alpha"``.
    value : object, optional
        The offending value.
    allowed : str, optional
        What is allowed, e.g. ``"0 <= alpha <= 1"``.
    file : str, optional
        The model file the value came from.
    """

    def __init__(self, message: str = "", *, key: str | None = None, value: Any = None,
                 allowed: str | None = None, file: str | None = None):
        self.detail = message
        self.key = key
        self.value = value
        self.allowed = allowed
        self.file = file
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}: ")
        if self.key is not None:
            parts.append(f"{self.key} = {self.value!r}: ")
        parts.append(self.detail)
        if self.allowed:
            parts.append(f" (allowed: {self.allowed})")
        return "".join(parts)

    def in_context(self, *, prefix: str | None = None, file: str | None = None) -> ModelError:
        """Return a copy whose key is prefixed (``prefix.key``) and that names ``file``."""
        key = self.key
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        return ModelError(self.detail, key=key, value=self.value, allowed=self.allowed,
                          file=file or self.file)


class SimulationError(NeurorectError, FloatingPointError):
    """A simulation produced a non-finite state; the message names the time and the neuron."""


class NeurorectWarning(UserWarning):
    """A result is usable but something about it needs the user's attention (e.g. statistics
    that could not be computed for some units, and why)."""
