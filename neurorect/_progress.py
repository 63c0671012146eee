"""Progress reporting for work that can take more than a couple of seconds.

One switch for the whole process and one look for every bar, so that the command line's
``--quiet`` silences everything and every room reports the same way. Three kinds of report:

* :func:`bar`: a counted task (steps, chunks, points) with a rate and an ETA::

      with progress.bar(total=n_chunks, desc="sweep", unit="chunk") as counter:
          for chunk in chunks:
              ...
              counter.update(1)

* :func:`phase`: a stage of unknown length (a Brian2 code build, an analysis), shown as its
  description and the elapsed time, ticking once a second, then ``done in 12.3 s``::

      with progress.phase("crossval: building the Brian2 network"):
          ...

* :func:`brian2_report`: the ``report=`` callable of ``brian2.Network.run`` as a bar over
  the simulated fraction::

      with progress.brian2_report("crossval: Brian2 run") as report:
          network.run(duration, report=report, report_period=1 * second)

Whether anything is shown: a function's ``enabled`` argument when it is not None; else the
process-wide setting of :func:`configure` (the command line sets it from ``--quiet``); else
whether stderr is a terminal (so logs and pipes stay clean). Bars go to stderr and vanish
when done (``leave=False``); phases leave one line. Nothing here imports NumPy: tqdm is
imported when a bar is first shown.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["configure", "is_configured", "is_enabled", "bar", "phase", "brian2_report", "SilentBar"]

_SETTING: dict[str, bool | None] = {"enabled": None}


def configure(*, enabled: bool | None) -> None:
    """Set the process-wide default: True (always show), False (never), None (when stderr
    is a terminal)."""
    _SETTING["enabled"] = enabled


def is_configured() -> bool | None:
    """The process-wide setting of :func:`configure`."""
    return _SETTING["enabled"]


def is_enabled(enabled: bool | None = None) -> bool:
    """Whether a report with argument ``enabled`` is shown (see the module docstring)."""
    if enabled is not None:
        return bool(enabled)
    if _SETTING["enabled"] is not None:
        return bool(_SETTING["enabled"])
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class SilentBar:
    """The stand-in for a bar that is not shown: accepts the tqdm calls, draws nothing."""

    n = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_description_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> SilentBar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(total: float | None, desc: str, *, unit: str = "it", enabled: bool | None = None,
        **options: Any):
    """A tqdm bar on stderr (or a :class:`SilentBar`): ``update(n)``, ``close()``, usable as
    a context manager. ``options`` go to tqdm (``initial``, ``unit_scale``, ``bar_format``)."""
    if not is_enabled(enabled):
        return SilentBar()
    from tqdm.auto import tqdm

    settings = dict(leave=False, dynamic_ncols=True, file=sys.stderr, unit=unit)
    settings.update(options)
    return tqdm(total=total, desc=desc, **settings)


@contextmanager
def phase(desc: str, *, enabled: bool | None = None) -> Iterator[None]:
    """Show ``desc`` with the elapsed time while the block runs (ticking each second), then
    one line ``desc: done in T s`` (or ``desc: stopped after T s`` when it raised)."""
    if not is_enabled(enabled):
        yield
        return
    started = time.perf_counter()
    stop = threading.Event()
    stream = sys.stderr

    def show(final: str = "") -> None:
        elapsed = time.perf_counter() - started
        text = f"{desc}: {final} {elapsed:.1f} s" if final else f"{desc} ... {elapsed:.0f} s"
        stream.write("\r\033[K" + text + ("\n" if final else ""))
        stream.flush()

    def tick() -> None:
        while not stop.wait(1.0):
            show()

    show()
    ticker = threading.Thread(target=tick, name="neurorect-progress", daemon=True)
    ticker.start()
    outcome = "stopped after"
    try:
        yield
        outcome = "done in"
    finally:
        stop.set()
        ticker.join()
        show(outcome)


class _Brian2Report:
    """Brian2's ``report(elapsed, completed, start, duration)`` callable drawing a bar."""

    def __init__(self, desc: str, enabled: bool | None) -> None:
        self.counter = bar(100.0, desc, unit="%", enabled=enabled,
                           bar_format="{desc} {percentage:3.0f}%|{bar}| "
                                      "[{elapsed}<{remaining}]")

    def __call__(self, elapsed: Any, completed: float, start: Any, duration: Any) -> None:
        self.counter.update(100.0 * float(completed) - self.counter.n)

    def close(self) -> None:
        self.counter.close()

    def __enter__(self) -> _Brian2Report:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def brian2_report(desc: str, *, enabled: bool | None = None) -> _Brian2Report:
    """A ``report=`` callable for ``brian2.Network.run`` drawing a bar of the simulated
    fraction (pass ``report_period`` of about a second); close it (or use ``with``) after
    the run."""
    return _Brian2Report(desc, enabled)
