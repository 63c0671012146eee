"""``neurorect run``: simulate a model file; print mean rates, write netCDF and a figure."""

from __future__ import annotations

import argparse

from neurorect.cli.common import pyplot, quantity, save_figure

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``run`` subcommand."""
    run = subparsers.add_parser("run",
                                help="simulate a model file; print mean rates, write netCDF")
    run.add_argument("model", help="TOML model file (see models/)")
    run.add_argument("--duration", type=quantity, help="simulated time, e.g. '2 s'")
    run.add_argument("--dt", type=quantity, help="time step, e.g. '0.1 ms'")
    run.add_argument("--seed", type=int, help="noise seed")
    run.add_argument("--out", help="netCDF result file (e.g. run.nc)")
    run.add_argument("--plot", help="figure of the rate traces (e.g. run.png)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurorect.driver import simulate
    from neurorect.io import save
    from neurorect.modelfile import load_model

    model = load_model(args.model)
    result = simulate(model, args.duration, seed=args.seed, dt=args.dt,
                      progress=None if not args.quiet else False)
    duration = args.duration or model.simulation.duration
    print(f"{model.name}: {model.size} neurons, {duration:g} s at dt = {result.attrs['dt']:g} s "
          f"({result.attrs['method']}), seed {result.attrs['seed']}")
    print(f"statistics window: after {result.attrs['transient']:g} s, whole periods")
    print(f"{'population':>12} {'size':>6} {'mean rate (Hz)':>15} {'A1 (Hz)':>10} "
          f"{'phase1 (rad)':>13} {'f (Hz)':>8}")
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
        from neurorect.plotting import plot_rates

        figure, ax = pyplot().subplots(figsize=(8, 4), layout="constrained")
        plot_rates(ax, result)
        ax.set_title(model.name)
        print(f"wrote {save_figure(figure, args.plot)}")
    return 0
