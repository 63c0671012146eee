"""The ``neurorect`` command: ``run``, ``response``, ``sweep``, ``crossval``, ``plot``.

``run`` lives here; each other subcommand lives in a light module ``neurorect._cli_<name>``
exposing ``register(subparsers)``, whose handler imports the heavy machinery only when run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from neurorect.errors import NeurorectError

__all__ = ["main", "build_parser"]

_SUBCOMMAND_MODULES = ("neurorect._cli_response", "neurorect._cli_sweep",
                       "neurorect._cli_crossval", "neurorect._cli_plot")


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurorect.driver import simulate
    from neurorect.io import save
    from neurorect.modelfile import load_model

    model = load_model(args.model)
    result = simulate(model, args.duration, seed=args.seed, dt=args.dt,
                      progress=None if not args.quiet else False)
    sim = model.simulation
    duration = args.duration or sim.duration
    print(f"{model.name}: {model.size} neurons, {duration:g} s at dt = {result.attrs['dt']:g} s "
          f"({result.attrs['method']}), seed {result.attrs['seed']}")
    print(f"statistics window: after {result.attrs['transient']:g} s, whole periods")
    header = f"{'population':>12} {'size':>6} {'mean rate (Hz)':>15} {'A1 (Hz)':>10} " \
             f"{'phase1 (rad)':>13} {'f (Hz)':>8}"
    print(header)
    for pop in model.populations:
        members = result["neuron_population"].values == pop.name
        amplitude = result["amplitude"].sel(harmonic=1).values[members]
        phase = result["phase"].sel(harmonic=1).values[members]
        freq = result["stat_freq"].values[members]
        a1 = np.nan if np.all(np.isnan(amplitude)) else np.nanmean(amplitude)
        p1 = np.nan if np.all(np.isnan(phase)) else np.nanmean(phase)
        mean_rate = float(result["mean_rate"].sel(population=pop.name))
        print(f"{pop.name:>12} {pop.size:>6} {mean_rate:>15.4f} {a1:>10.4f} {p1:>13.4f} "
              f"{float(np.mean(freq)):>8.3g}")
    if args.out:
        print(f"wrote {save(result, args.out)}")
    if args.plot:
        print(f"wrote {_plot_run(result, args.plot, model.name)}")
    return 0


def _plot_run(result, path: str, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurorect.plotting import plot_rates

    figure, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    plot_rates(ax, result)
    ax.set_title(title)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return Path(path)


def _quantity(text: str) -> float:
    from neurorect.units import parse_quantity

    try:
        return parse_quantity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``neurorect`` command."""
    parser = argparse.ArgumentParser(prog="neurorect", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a model file; print mean rates, write netCDF")
    run.add_argument("model", help="TOML model file (see models/)")
    run.add_argument("--duration", type=_quantity, help="simulated time, e.g. '2 s'")
    run.add_argument("--dt", type=_quantity, help="time step, e.g. '0.1 ms'")
    run.add_argument("--seed", type=int, help="noise seed")
    run.add_argument("--out", help="netCDF result file (e.g. run.nc)")
    run.add_argument("--plot", help="figure of the rate traces (e.g. run.png)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)
    for name in _SUBCOMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for a bad model or argument)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except NeurorectError as error:
        print(f"neurorect {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
