"""The ``neurorect`` command: ``run``, ``response``, ``sweep``, ``crossval``, ``plot``.

Modules: ``run``, ``response``, ``sweep``, ``crossval`` and ``plot``, one per subcommand, each
exposing ``register(subparsers)`` (adds the subcommand, its options and its handler); and
``common``, what several share: the argument types ``quantity`` and ``quantities`` (unit
strings to SI), ``pyplot`` and ``save_figure`` (figures on the Agg backend), and
``run_handler`` (a NeurorectError becomes a message and exit status 2). Every module is light
at import (argparse only), so that ``neurorect --help`` is fast: the handlers import NumPy,
xarray, the engine, Brian2 and matplotlib when they run.
"""

from __future__ import annotations

import argparse

from neurorect.cli import crossval, plot, response, run, sweep
from neurorect.cli.common import run_handler

__all__ = ["main", "build_parser"]

_DESCRIPTION = ("The neurorect command: simulate model files (run), frequency responses "
                "(response), parameter sweeps (sweep), rate model vs Brian2 LIF "
                "(crossval) and figures of result files (plot).")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurorect`` command."""
    parser = argparse.ArgumentParser(prog="neurorect", description=_DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (run, response, sweep, crossval, plot):
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a bad model or argument)."""
    args = build_parser().parse_args(argv)
    return run_handler(args.command, args.handler, args)
