"""Plumbing shared by the analysis scripts: arguments, output paths, figure style, saving.

No science here (the scripts call neurorect's public API for that). Every script:

* takes ``--quick`` (a small, fast run for CI and the tests), ``--out`` (folder of the
  results file, default ``analyses/output``) and ``--figures`` (folder of the figure,
  default ``analyses/figures``, the committed gallery). A quick run writes both into
  ``analyses/output/quick`` unless told otherwise, so it never overwrites the gallery;
* writes one figure (PNG) and one results file (netCDF), and the key numbers the README
  quotes as a small CSV next to the figure (``<name>.csv``, committed with it);
* has ``main(argv=None)``, returning the results Dataset, so tests can run it in process.

Import this module before ``matplotlib.pyplot``: it selects the non-interactive backend.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import neurorect  # noqa: E402
from neurorect.io import save, write_atomic, write_text  # noqa: E402

__all__ = ["ROOT", "parse_args", "Outputs", "variable", "save_figure", "save_results",
           "save_table", "grid_rows", "style", "plt", "run"]

ROOT = Path(__file__).resolve().parents[1]
#: Resolution of every gallery figure (dots per inch); figures are sized in inches for it.
DPI = 130


class Outputs:
    """Where one analysis writes: ``figure``, ``results`` (netCDF) and ``table`` (CSV)."""

    def __init__(self, name: str, out: Path, figures: Path):
        out.mkdir(parents=True, exist_ok=True)
        figures.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.figure = figures / f"{name}.png"
        self.results = out / f"{name}.nc"
        self.table = figures / f"{name}.csv"


def parse_args(name: str, doc: str, argv: Sequence[str] | None = None,
               extra: Iterable[tuple[Sequence[str], Mapping[str, Any]]] = ()
               ) -> tuple[argparse.Namespace, Outputs]:
    """Parse the common options (and ``extra``: ``(flags, add_argument kwargs)`` pairs).

    Returns the namespace and the :class:`Outputs` of analysis ``name``.
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(doc.strip().splitlines()[1:]))
    parser.add_argument("--quick", action="store_true",
                        help="small, fast run (CI and tests); writes to analyses/output/quick")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder of the results file (default analyses/output)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder of the figure (default analyses/figures, the gallery)")
    for flags, kwargs in extra:
        parser.add_argument(*flags, **kwargs)
    args = parser.parse_args(argv)
    quick = ROOT / "analyses" / "output" / "quick"
    out = args.out or (quick if args.quick else ROOT / "analyses" / "output")
    figures = args.figures or (quick if args.quick else ROOT / "analyses" / "figures")
    args.started = time.perf_counter()
    return args, Outputs(name, Path(out), Path(figures))


def variable(dims, values, units: str, long_name: str, **extra) -> xr.Variable:
    """An xarray variable carrying ``units`` and ``long_name`` (the result schema)."""
    return xr.Variable(dims, np.asarray(values), {"units": units, "long_name": long_name,
                                                  **extra})


def style() -> None:
    """The gallery's matplotlib style: readable at the written size, no chart junk."""
    plt.rcParams.update({
        "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
        "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
        "axes.spines.right": False, "legend.frameon": False, "lines.linewidth": 1.6,
        "errorbar.capsize": 2, "lines.markersize": 4,
    })


def save_figure(figure, outputs: Outputs) -> Path:
    """Write the figure as PNG at the gallery's resolution and close it."""
    write_atomic(outputs.figure, lambda temporary: figure.savefig(
        temporary, dpi=DPI, format=outputs.figure.suffix.lstrip(".")))
    plt.close(figure)
    return outputs.figure


def save_results(dataset: xr.Dataset, outputs: Outputs, args: argparse.Namespace,
                 **attrs: Any) -> xr.Dataset:
    """Write the results netCDF with provenance (script, version, quick, run time)."""
    dataset.attrs.update(analysis=outputs.name, neurorect_version=neurorect.__version__,
                         quick=int(bool(args.quick)),
                         wall_time_s=round(time.perf_counter() - args.started, 2), **attrs)
    save(dataset, outputs.results)
    return dataset


def grid_rows(dataset: xr.Dataset, columns: Mapping[str, str]) -> list[dict]:
    """One row per point of a grid: its coordinates, then ``{header: variable name}``."""
    frame = dataset[list(columns.values())].to_dataframe().reset_index()
    return frame.rename(columns={name: header for header, name in columns.items()}
                        ).to_dict("records")


def save_table(rows: Sequence[Mapping[str, Any]], outputs: Outputs) -> Path:
    """Write the key numbers (one dict per row, same keys) as CSV."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                         for k, v in row.items()})
    return write_text(outputs.table, text.getvalue())


def done(outputs: Outputs, args: argparse.Namespace) -> None:
    """Print what was written and how long it took."""
    written = [p for p in (outputs.figure, outputs.results, outputs.table) if p.exists()]
    print(f"{outputs.name}: wrote {', '.join(map(str, written))} "
          f"in {time.perf_counter() - args.started:.1f} s")


def run(name: str, doc: str, argv: Sequence[str] | None, *, compute, draw, summary,
        extra: Iterable[tuple[Sequence[str], Mapping[str, Any]]] = (),
        attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """An analysis from end to end: parse, ``compute(args)``, write results, key numbers
    (``summary(ds)``: rows) and the figure (``draw(ds)``); returns the results Dataset."""
    args, outputs = parse_args(name, doc, argv, extra)
    dataset = compute(args)
    save_results(dataset, outputs, args, **(attrs or {}))
    save_table(summary(dataset), outputs)
    save_figure(draw(dataset), outputs)
    done(outputs, args)
    return dataset
