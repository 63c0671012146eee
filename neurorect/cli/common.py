"""What several subcommands share: quantity arguments, figures, and the exit status.

Light at import (argparse only): the heavy machinery is imported by the handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neurorect.errors import NeurorectError

__all__ = ["quantity", "quantities", "quantity_type", "quantities_type", "pyplot",
           "save_figure", "run_handler"]


def _parse(text: str, dimension: str | None) -> float:
    """``text`` in SI (its dimension checked); argparse's error naming value and dimension."""
    from neurorect.errors import ModelError
    from neurorect.units import parse_quantity

    try:
        return parse_quantity(text, dimension)
    except ModelError as error:
        allowed = f" (allowed: {error.allowed})" if error.allowed else ""
        raise argparse.ArgumentTypeError(f"{text!r}: {error.detail}{allowed}") from None


def quantity(text: str) -> float:
    """Argument type: ``"10 ms"`` (or a bare SI number) -> SI float, of any dimension (prefer
    :func:`quantity_type`, which checks it)."""
    return _parse(text, None)


def quantities(text: str) -> list[float]:
    """Argument type: ``"2,5,10"`` or ``"10 Hz"`` -> SI floats (empty parts skipped), of any
    dimension (prefer :func:`quantities_type`)."""
    return [quantity(part) for part in text.split(",") if part.strip()]


def quantity_type(dimension: str) -> Callable[[str], float]:
    """Argument type of a quantity of ``dimension``, a name of
    :data:`neurorect.units.DIMENSIONS` (``"time"``, ``"frequency"``, ``"drive"``, ...):
    ``type=quantity_type("time")`` reads ``"10 ms"`` as 0.01 and a bare number as seconds,
    and refuses ``"10 Hz"`` with a message naming the dimension expected."""
    from neurorect.units import expected

    expected(dimension)  # an unknown name fails when the parser is built, not when used

    def parse(text: str) -> float:
        return _parse(text, dimension)

    parse.__name__ = f"{dimension} quantity"  # argparse names the type in some messages
    return parse


def quantities_type(dimension: str) -> Callable[[str], list[float]]:
    """Argument type of comma-separated quantities of ``dimension`` (``"2,5,10 Hz"`` is not
    a unit for all: each part carries its own, ``"2 Hz,5 Hz"``, or is a bare SI number)."""
    one = quantity_type(dimension)

    def parse(text: str) -> list[float]:
        return [one(part) for part in text.split(",") if part.strip()]

    parse.__name__ = f"{dimension} quantities"
    return parse


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` (120 dpi), close it and return the path written."""
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)


def run_handler(command: str, handler: Callable[[argparse.Namespace], int],
                args: argparse.Namespace) -> int:
    """Run a subcommand; a :class:`~neurorect.NeurorectError` (a bad model, argument or
    store) is printed to stderr as ``neurorect COMMAND: error: ...`` with exit status 2."""
    try:
        return handler(args)
    except NeurorectError as error:
        print(f"neurorect {command}: error: {error}", file=sys.stderr)
        return 2
