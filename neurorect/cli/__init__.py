"""The ``neurorect`` command line.

One module per subcommand (``run``, ``response``, ``sweep``, ``crossval``, ``plot``,
``models``, ``show``), each exposing ``register(subparsers)``; ``common`` holds what they
share. Every module is light at import (argparse only), so that ``neurorect --help``,
``--version``, ``models`` and argument errors answer at once: handlers import NumPy,
xarray, the engine, Brian2 and matplotlib when they run.

:func:`main` is the one place failures become messages: whatever goes wrong ends in one line
``neurorect COMMAND: error: ...`` on stderr, never a traceback (``--debug`` shows it), with
exit status 2 for a usage error (a bad option, model file, parameter or output path: nothing
ran), 1 for a run that failed (a diverging simulation, a full disk, an unreachable
scheduler), and 130 for Ctrl-C (with one line saying what was saved and how to continue).
"""

from __future__ import annotations

import argparse

from neurorect._version import __version__
from neurorect.cli import crossval, models, plot, response, run, show, sweep

__all__ = ["main", "build_parser"]

_COMMANDS = (run, response, sweep, crossval, plot, models, show)

_DESCRIPTION = """\
Simulate rate-neuron models, measure their frequency responses, sweep their parameters,
compare them with spiking LIF neurons, and plot the results.

MODEL is a model file (models/single_neuron.toml) or the name of a packaged model
(single_neuron); 'neurorect models' lists them, 'neurorect show MODEL' prints one with all
its settings. The model-file format is described in docs/model-files.md."""

_EPILOG = """\
examples:
  neurorect run single_neuron --out run.nc --plot run.png
  neurorect response single_neuron --freqs log:1:100:9 --plot bode.png
  neurorect sweep single_neuron --param populations.E.transfer.alpha=0:1:11 \\
      --param drives.E.freq=log:1:100:9 --measure response --out sweep.nc
  neurorect plot sweep.nc

'neurorect COMMAND --help' describes each command."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``PROG: error: ... (see PROG --help)``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurorect`` command."""
    parser = _Parser(prog="neurorect", description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"neurorect {__version__}")
    _add_common(parser, False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in _COMMANDS:
        module.register(subparsers)
    for sub in subparsers.choices.values():
        _add_common(sub, argparse.SUPPRESS)  # SUPPRESS: absent after the command keeps
    parser.set_defaults(commands=dict(subparsers.choices))  # the value before it
    return parser


def _add_common(parser: argparse.ArgumentParser, default) -> None:
    """``--quiet`` and ``--debug``, accepted before or after the command."""
    group = parser.add_argument_group("output")
    group.add_argument("--quiet", action="store_true", default=default,
                       help="no progress bars")
    group.add_argument("--debug", action="store_true", default=default,
                       help="show the full traceback when something fails")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurorect`` command; returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.error("choose a command: " + ", ".join(args.commands))
    if extra:  # reported by the subcommand's parser, which names it and its --help
        args.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    from neurorect.cli import failures

    return failures.run(args)
