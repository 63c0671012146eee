"""What several subcommands share: argument types, model look-up, output files, figures.

Light at import (argparse and the standard library only): NumPy, xarray and matplotlib are
imported by the functions that need them, when a handler runs.

Output files are checked before any work starts (:func:`check_output`: a directory, a
missing or read-only folder, a figure format matplotlib cannot write), so a long run never
fails at its very end for a typo in ``--out``; they are written through :func:`write_file`,
which names the user's path in every error and records what was written (the interrupt
message of the command line says what was saved).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from neurorect.errors import ModelError

__all__ = ["quantity", "quantities", "quantity_type", "quantities_type", "pyplot",
           "save_figure", "save_result", "write_file", "check_output", "written",
           "load_model_arg", "split_assignments", "parse_assignments", "Interrupted",
           "FIGURE_FORMATS"]

#: Figure formats of matplotlib's Agg-based savefig (checked before any work starts).
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff",
                  "webp", "pgf", "raw", "rgba")

_WRITTEN: list[Path] = []


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the one line the command line prints about what was saved."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def load_model_arg(text: str):
    """The model a MODEL argument names: a ``.toml`` path or a packaged model's name."""
    from neurorect.catalogue import resolve
    from neurorect.modelfile import load_model

    return load_model(resolve(text))


def split_assignments(items: list[str], option: str, *, single: bool) -> dict[str, str]:
    """``["PATH=VALUES", ...]`` -> ``{path: "VALUES"}``: the syntax only (no imports, so a
    malformed option is reported at once); ModelError naming ``option``."""
    example = ("populations.E.transfer.alpha=0.3" if single
               else "populations.E.transfer.alpha=0:1:21")
    out: dict[str, str] = {}
    for item in items:
        path, sep, spec = item.partition("=")
        path = path.strip()
        if not sep or not path or not spec.strip():
            raise ModelError(f"expected PATH={'VALUE' if single else 'VALUES'}", key=option,
                             value=item, allowed=f"e.g. {example}")
        if path in out:
            raise ModelError("parameter given twice", key=option, value=path,
                             allowed="each path once")
        out[path] = spec
    return out


def parse_assignments(items: list[str], option: str) -> dict[str, Any]:
    """``["PATH=VALUE", ...]`` -> ``{path: value}``, one value per path, in the syntax of
    sweeps (:func:`neurorect.sweeps.parse_values`: ``0.3``, ``'5 ms'``, ``rk4``)."""
    from neurorect.sweeps.grid import parse_values

    out: dict[str, Any] = {}
    for path, spec in split_assignments(items, option, single=True).items():
        values = parse_values(spec, key=path)
        if values.size != 1:
            raise ModelError("a run takes one value per parameter (neurorect sweep takes "
                             "several)", key=option, value=f"{path}={spec}",
                             allowed="e.g. populations.E.transfer.alpha=0.3")
        out[path] = values[0].item()
    return out


def check_output(path: str | None, option: str, kind: str) -> Path | None:
    """Refuse an output path that cannot be written, before any work starts.

    ``kind`` is ``"netcdf"``, ``"figure"`` (the suffix must be a format matplotlib writes)
    or ``"text"``. The folder may not exist yet (it is created), but its nearest existing
    ancestor must be a writable folder. Raises ModelError naming ``option`` and the path.
    """
    if path is None:
        return None
    target = Path(path)
    if str(path).strip() == "" or target.is_dir():
        raise ModelError("is a directory, not a file", key=option, value=str(path),
                         allowed="a file name, e.g. " + _example(kind))
    if kind == "figure":
        suffix = target.suffix.lower().lstrip(".")
        if suffix not in FIGURE_FORMATS:
            raise ModelError(f"unknown figure format {target.suffix or '(no suffix)'!r}",
                             key=option, value=str(path),
                             allowed="a file ending in ." + ", .".join(FIGURE_FORMATS))
    if target.exists() and not os.access(target, os.W_OK):
        raise ModelError("file exists and is not writable", key=option, value=str(path),
                         allowed="a writable file")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ModelError(f"{str(ancestor)!r} is not a folder", key=option, value=str(path),
                         allowed="a path inside a folder")
    probe = ancestor / f".neurorect-probe-{os.getpid()}"
    try:  # the one reliable test (permissions, read-only mounts, pseudo file systems)
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as error:
        raise ModelError(f"cannot write in folder {str(ancestor)!r} ({error.strerror})",
                         key=option, value=str(path),
                         allowed="a path in a writable folder") from None
    return target


def _example(kind: str) -> str:
    return {"netcdf": "run.nc", "figure": "run.png", "text": "table.csv"}.get(kind, "out")


def write_file(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` through :func:`neurorect.io.write_atomic` (``write(temporary_path)``,
    then a rename in the target's folder; symlinks followed, umask respected, only regular
    files replaced); a failure is a FileError naming the user's ``path`` and the cause.
    Records the path (see :func:`written`)."""
    from neurorect.io import write_atomic

    write_atomic(path, write)
    _WRITTEN.append(Path(path))
    return Path(path)


def written() -> list[Path]:
    """The files written so far by this process (for the interrupt message)."""
    return list(_WRITTEN)


def save_result(dataset, path: str | Path) -> Path:
    """Write a result Dataset to netCDF (:func:`neurorect.io.save`) at ``path``."""
    from neurorect.io import save

    save(dataset, path)  # atomic, like write_file
    _WRITTEN.append(Path(path))
    return Path(path)


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure: Any, path: str | Path) -> Path:
    """Write ``figure`` (120 dpi, format from the suffix), close it, return the path."""
    import matplotlib.pyplot as plt

    suffix = Path(path).suffix.lower().lstrip(".")
    try:
        return write_file(path, lambda temporary: figure.savefig(temporary, dpi=120,
                                                                 format=suffix))
    finally:
        plt.close(figure)
