"""``neurorect plot``: figures of the result files the other commands write."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurorect.cli.common import check_output, pyplot, save_figure

__all__ = ["register"]

_DESCRIPTION = """\
Draw a result file written by neurorect:

  run       rate traces (lines, or a neuron-by-time map for large populations)
  response  a Bode figure (gain and phase against frequency)
  crossval  the Bode overlay of rate model, Brian2 LIF and LIF theory
  sweep     one swept parameter: the measure against it (a line; points with error bars
            where the file has standard errors); two or more: a heat map of two of them
            (--kind heatmap) or a family of Bode curves (--kind bode, one curve per value of
            --family); the other swept parameters are fixed with --sel or take their
            first value"""

_EPILOG = """\
examples:
  neurorect plot run.nc
  neurorect plot sweep.nc --var gain --x freq --y alpha --sel I0=0.5 --out gain.png
  neurorect plot sweep.nc --kind bode --family alpha --out bode.png
  neurorect plot rate.nc --var mean_rate --population E"""


def register(subparsers) -> None:
    """Add the ``plot`` subcommand."""
    p = subparsers.add_parser(
        "plot", help="figures of result files (rates, Bode figures, sweeps)",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", metavar="RESULT",
                   help="netCDF file written by neurorect run, response, sweep or crossval")
    p.add_argument("--kind", choices=("auto", "line", "heatmap", "bode", "rates"),
                   default="auto",
                   help="auto (default): what suits the file (see above); line: a measure "
                        "against one swept parameter")
    p.add_argument("--var", help="variable to show (default: gain if present, else "
                                 "mean_rate)")
    p.add_argument("--x", help="swept parameter on the x axis (default: freq if swept)")
    p.add_argument("--y", help="swept parameter on the y axis of a heat map")
    p.add_argument("--family", help="swept parameter giving one curve per value")
    p.add_argument("--freq", default="freq",
                   help="the swept frequency of Bode curves (default: freq)")
    p.add_argument("--population", help="population to show (default: the first)")
    p.add_argument("--harmonic", type=int, default=1, help="harmonic to show (default 1)")
    p.add_argument("--sel", action="append", metavar="DIM=VALUE", default=[],
                   help="fix another swept parameter at its value nearest VALUE; "
                        "repeatable")
    p.add_argument("--log-color", action="store_true", help="logarithmic colour scale")
    p.add_argument("--title", help="figure title")
    p.add_argument("--out", help="figure file (default: RESULT with the suffix .png)")
    p.set_defaults(handler=_cmd_plot)


def _parse_sel(items: list[str]) -> dict:
    from neurorect.errors import ModelError

    sel: dict = {}
    for item in items:
        dim, sep, text = item.partition("=")
        if not sep or not dim.strip():
            raise ModelError("expected DIM=VALUE", key="--sel", value=item,
                             allowed="e.g. I0=0.5 or population=E")
        try:
            value: object = float(text)
        except ValueError:
            value = text.strip()
        sel[dim.strip()] = value
    return sel


def _kind(args: argparse.Namespace, dataset, sel: dict) -> str:
    """The figure for ``--kind auto``: Bode for response and crossval results, rate traces
    for run results; a sweep's heat map with two or more free swept dims or no frequency
    dim, else its Bode family."""
    from neurorect.plotting import sweep_dims

    if args.kind != "auto":
        return args.kind
    if _is_response(dataset) or _is_crossval(dataset):
        return "bode"
    if "sweep_dims" not in dataset.attrs:
        return "rates"
    dims = sweep_dims(dataset)
    free = [d for d in dims if d not in sel]
    if len(free) >= 2 and not args.family:
        return "heatmap"
    if args.freq in free and "phase" in dataset:
        return "bode"
    return "line"


def _is_response(dataset) -> bool:  # a `neurorect response` result
    return "driven_population" in dataset.attrs and "freq" in dataset.dims


def _is_crossval(dataset) -> bool:  # a `neurorect crossval` result
    return "source" in dataset.dims and "freq" in dataset.dims


def _draw(plt, kind: str, dataset, args: argparse.Namespace, sel: dict, path: Path):
    """The figure of ``kind``; ModelError for a file that has no such figure."""
    from neurorect.errors import ModelError
    from neurorect.plotting import (
        plot_bode_family,
        plot_crossval_bode,
        plot_frequency_response,
        plot_rates,
        plot_sweep_heatmap,
        plot_sweep_line,
    )

    if kind == "rates":
        figure, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        plot_rates(ax, dataset, variable=args.var or "rate")
    elif kind == "bode" and (_is_response(dataset) or _is_crossval(dataset)):
        figure, (ax, phase_ax) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                              layout="constrained")
        if _is_response(dataset):
            plot_frequency_response(ax, phase_ax, dataset, population=args.population)
        else:
            plot_crossval_bode(ax, phase_ax, dataset)
    elif "sweep_dims" not in dataset.attrs:
        raise ModelError("not a sweep result (no 'sweep_dims' attr)", key="result",
                         value=str(path),
                         allowed="--kind rates, or a neurorect sweep, response or "
                                 "crossval file")
    elif kind == "line":
        figure, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        plot_sweep_line(ax, dataset, args.var, x=args.x, family=args.family,
                        population=args.population, harmonic=args.harmonic, sel=sel)
    elif kind == "heatmap":
        variable = args.var or ("gain" if "gain" in dataset else "mean_rate")
        figure, ax = plt.subplots(figsize=(7, 5), layout="constrained")
        plot_sweep_heatmap(ax, dataset, variable, x=args.x, y=args.y,
                           population=args.population, harmonic=args.harmonic, sel=sel,
                           log_color=args.log_color)
    else:
        figure, (ax, phase_ax) = plt.subplots(2, 1, figsize=(7, 7), sharex=True,
                                              layout="constrained")
        plot_bode_family(ax, dataset, phase_ax=phase_ax if "phase" in dataset else None,
                         freq=args.freq, family=args.family, variable=args.var or "gain",
                         population=args.population, harmonic=args.harmonic, sel=sel)
    return figure


def _load(path: Path):
    """The result file, or ModelError naming it and saying what it is not."""
    from neurorect.errors import ModelError
    from neurorect.io import load

    if not path.is_file():
        raise ModelError("no such file" if not path.exists() else "not a file",
                         key="RESULT", value=str(path),
                         allowed="a netCDF file written by neurorect (e.g. run.nc)")
    try:
        return load(path)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot read it as netCDF ({' '.join(str(error).split())[:120]})",
                         key="RESULT", value=str(path),
                         allowed="a netCDF file written by neurorect run, response, sweep "
                                 "or crossval (--out)") from None


def _cmd_plot(args: argparse.Namespace) -> int:
    from neurorect.errors import ModelError

    path = Path(args.result)
    out = check_output(args.out or str(path.with_suffix(".png")), "--out", "figure")
    dataset = _load(path)
    sel = _parse_sel(args.sel)
    kind = _kind(args, dataset, sel)
    plt = pyplot()
    try:
        figure = _draw(plt, kind, dataset, args, sel, path)
    except (ValueError, KeyError) as error:
        if isinstance(error, ModelError):
            raise
        plt.close("all")
        raise ModelError(str(error).strip("'\""), key="--kind", value=kind,
                         allowed="dims and variables of the file") from None
    if args.title:
        figure.suptitle(args.title)
    print(f"wrote {save_figure(figure, out)}")
    return 0
