"""How the command line runs a handler: output settings, and every failure as one line.

:func:`run` sets up the process (progress bars on or off, warnings and library logs as one
line each) and runs the subcommand's handler. Whatever it raises becomes one line
``neurorect COMMAND: error: ...`` on stderr and an exit status (``--debug`` re-raises, so
the traceback shows):

====================================  ======  ==============================================
raised                                status  line
====================================  ======  ==============================================
ModelError, StoreMismatchError, ...   2       the message (names file, key, value, allowed)
SimulationError                       1       the message (names time and neuron)
OSError (also SchedulerError)         1       the path (or address) and the cause
MemoryError                           1       out of memory, and what to make smaller
KeyboardInterrupt (Ctrl-C)            130     what was saved, and how to continue
anything else                         1       its type and message, and --debug
====================================  ======  ==============================================
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings

from neurorect.cli.common import written
from neurorect.errors import NeurorectError, SimulationError

__all__ = ["run", "describe"]

#: Exit status of a usage error, a failed run and an interrupted one (128 + SIGINT).
USAGE, FAILED, INTERRUPTED = 2, 1, 130


def run(args: argparse.Namespace) -> int:
    """Run ``args.handler(args)``; every failure is reported as one line (see the module)."""
    command = f"neurorect {args.command}"
    restore = _configure(args, command)
    sigint = signal.getsignal(signal.SIGINT)
    try:
        return int(args.handler(args) or 0)
    except (Exception, KeyboardInterrupt) as error:
        if args.debug:
            raise
        if isinstance(error, BrokenPipeError):  # e.g. `neurorect models | head -1`
            _silence_stdout()
            return FAILED
        if isinstance(error, KeyboardInterrupt):  # one Ctrl-C is enough: a second one while
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # we report and exit is ignored
        status, message = describe(error)
        label = "interrupted" if status == INTERRUPTED else "error"
        print(f"{command}: {label}: {message}", file=sys.stderr, flush=True)
        return status
    finally:
        restore()
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and sigint is not None:
            signal.signal(signal.SIGINT, sigint)  # for callers of main() in a running program


def describe(error: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message of ``error`` (see the module table)."""
    if isinstance(error, KeyboardInterrupt):
        message = getattr(error, "message", None) or _saved_so_far()
        return INTERRUPTED, _one_line(message)
    if isinstance(error, (SimulationError, OSError)):  # e.g. an unreachable scheduler
        text = str(error) if isinstance(error, NeurorectError) else _os_message(error)
        return FAILED, _one_line(text)
    if isinstance(error, NeurorectError):
        return USAGE, _one_line(str(error))
    if isinstance(error, MemoryError):
        return FAILED, ("out of memory; make the run smaller (fewer neurons, frequencies, "
                        "trials or grid points, a shorter duration, or record less)")
    text = str(error) or "(no message)"
    return FAILED, _one_line(f"unexpected {type(error).__name__}: {text} (rerun with --debug "
                             "for the traceback, and please report it)")


def _os_message(error: OSError) -> str:
    """``'PATH': cause`` (and the second path of a rename), else the error's own text."""
    cause = error.strerror or str(error)
    if error.filename is not None:
        second = f" -> {str(error.filename2)!r}" if error.filename2 is not None else ""
        return f"{str(error.filename)!r}{second}: {cause}"
    return cause


def _saved_so_far() -> str:
    files = written()
    if not files:
        return "stopped before writing any file"
    return "stopped; already written: " + ", ".join(str(path) for path in files)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _configure(args: argparse.Namespace, command: str):
    """Progress bars (``--quiet``), warnings as one line each, quiet library logs; returns
    the function that restores the previous settings (for callers of :func:`main` in a
    running program, such as the tests)."""
    from neurorect import _progress

    quiet = bool(args.quiet)
    before = (_progress.is_configured(), warnings.showwarning, os.environ.get("TQDM_DISABLE"))
    _progress.configure(enabled=False if quiet else None)
    if quiet:  # bars of rooms that do not go through _progress, and of Dask workers
        os.environ["TQDM_DISABLE"] = "1"
    # Dask's own log lines (worker restarts, shutdown chatter); its errors reach us raised
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")

    def show(message, category, filename, lineno, file=None, line=None):
        stream = file or sys.stderr
        print(f"{command}: warning: {_one_line(str(message))}", file=stream)

    warnings.showwarning = show

    def restore() -> None:
        _progress.configure(enabled=before[0])
        warnings.showwarning = before[1]
        if before[2] is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before[2]

    return restore


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
