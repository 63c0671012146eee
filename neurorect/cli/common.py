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

__all__ = ["quantity", "quantities", "pyplot", "save_figure", "run_handler"]


def quantity(text: str) -> float:
    """Argument type: ``"10 ms"`` (or a bare SI number) -> SI float."""
    from neurorect.units import parse_quantity

    try:
        return parse_quantity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def quantities(text: str) -> list[float]:
    """Argument type: ``"2,5,10"`` or ``"10 Hz"`` -> SI floats (empty parts skipped)."""
    return [quantity(part) for part in text.split(",") if part.strip()]


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
