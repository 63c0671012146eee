"""``neurorect plot``: figures of result files.

A sweep result (``neurorect sweep ... --out sweep.nc``) is drawn as a heat map of a variable
over two swept parameters (``--kind heatmap``, e.g. gain over alpha x freq) or as a family of
Bode curves (``--kind bode``: gain and phase against the drive frequency, one curve per value
of another parameter). Other swept dims are fixed with ``--sel DIM=VALUE`` (nearest value) or
take their first value. A ``neurorect run --out run.nc`` result is drawn as rate traces, and
a ``neurorect response`` or ``neurorect crossval`` result as a Bode figure.

Examples::

    neurorect plot sweep.nc --var gain --x freq --y alpha --sel I0=0.5 --out gain.png
    neurorect plot sweep.nc --kind bode --family alpha --out bode.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurorect.cli.common import pyplot, save_figure

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``plot`` subcommand."""
    p = subparsers.add_parser(
        "plot", help="figures of result files (sweep heat maps, Bode families, rates)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", help="netCDF result file (from neurorect sweep or run)")
    p.add_argument("--kind", choices=("auto", "heatmap", "bode", "rates"), default="auto",
                   help="auto: heat map for sweeps with two or more swept dims, Bode family "
                        "for a frequency sweep with one, rate traces for run results")
    p.add_argument("--var", help="variable to show (default: gain if present, else "
                                 "mean_rate)")
    p.add_argument("--x", help="swept dim on the x axis of a heat map (default: freq)")
    p.add_argument("--y", help="swept dim on the y axis of a heat map")
    p.add_argument("--family", help="swept dim giving one Bode curve per value")
    p.add_argument("--freq", default="freq", help="frequency dim of Bode curves")
    p.add_argument("--population", help="population to show (default: the first)")
    p.add_argument("--harmonic", type=int, default=1, help="harmonic to show (default 1)")
    p.add_argument("--sel", action="append", metavar="DIM=VALUE", default=[],
                   help="fix another swept dim (nearest value); repeatable")
    p.add_argument("--log-color", action="store_true", help="logarithmic colour scale")
    p.add_argument("--title", help="figure title")
    p.add_argument("--out", help="figure file (default: RESULT with suffix .png)")
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
    return "heatmap" if len(free) >= 2 or args.freq not in dims else "bode"


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


def _cmd_plot(args: argparse.Namespace) -> int:
    from neurorect.errors import ModelError
    from neurorect.io import load

    path = Path(args.result)
    if not path.exists():
        raise ModelError("no such file", key="result", value=str(path),
                         allowed="a netCDF file written by neurorect")
    dataset = load(path)
    out = Path(args.out) if args.out else path.with_suffix(".png")
    sel = _parse_sel(args.sel)
    kind = _kind(args, dataset, sel)
    plt = pyplot()
    try:
        figure = _draw(plt, kind, dataset, args, sel, path)
    except (ValueError, KeyError) as error:
        if isinstance(error, ModelError):
            raise
        raise ModelError(str(error).strip("'\""), key="plot", value=kind,
                         allowed="dims and variables of the file") from None
    if args.title:
        figure.suptitle(args.title)
    print(f"wrote {save_figure(figure, out)}")
    return 0
