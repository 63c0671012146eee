"""``neurorect run``: simulate a model; print its mean rates and harmonics, write netCDF and a
figure of the rate traces."""

from __future__ import annotations

import argparse

from neurorect.cli.common import (
    check_output,
    load_model_arg,
    parse_assignments,
    pyplot,
    quantity_type,
    save_figure,
    save_result,
)

__all__ = ["register"]

_DESCRIPTION = """\
Simulate MODEL (a model file or a packaged model's name) and print, per population, the
mean rate and the first harmonic (amplitude and phase of the population-mean rate relative
to the drive's sine, over whole drive periods after the transient). Options override the
model file's [simulation] table; --param sets any parameter by its dotted path."""

_EPILOG = """\
examples:
  neurorect run single_neuron --out run.nc --plot run.png
  neurorect run models/ei_pair.toml --duration "5 s" --param populations.E.transfer.alpha=0.3
  neurorect run random_network --duration "0.5 s" --record-every 20 --plot net.png"""


def register(subparsers) -> None:
    """Add the ``run`` subcommand."""
    p = subparsers.add_parser("run", help="simulate a model; print rates, write netCDF and a "
                                          "figure", description=_DESCRIPTION, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="model file or packaged model name")
    p.add_argument("--duration", type=quantity_type("time"), help="simulated time, e.g. '2 s'")
    p.add_argument("--transient", type=quantity_type("time"),
                   help="time discarded before the statistics, e.g. '0.5 s'")
    p.add_argument("--dt", type=quantity_type("time"), help="time step, e.g. '0.1 ms'")
    p.add_argument("--method", choices=("exp_euler", "euler", "rk4"), help="integrator")
    p.add_argument("--seed", type=int, help="noise seed (a whole number >= 0)")
    p.add_argument("--param", action="append", default=[], metavar="PATH=VALUE",
                   help="set a model parameter, e.g. populations.E.transfer.alpha=0.3, "
                        "drives.E.freq='20 Hz', populations.E.tau='5 ms'; repeatable")
    p.add_argument("--record", choices=("rate", "state", "none"),
                   help="what to record over time: rates, states (v in voltage form), or "
                        "nothing (statistics only)")
    p.add_argument("--record-every", type=int, metavar="N",
                   help="record every N-th step (smaller files for long runs)")
    p.add_argument("--n-harmonics", type=int, metavar="K", help="harmonics computed")
    p.add_argument("--out", help="netCDF result file, e.g. run.nc")
    p.add_argument("--plot", help="figure of the recorded traces, e.g. run.png")
    p.set_defaults(handler=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", "netcdf")  # before anything heavy is imported
    plot = check_output(args.plot, "--plot", "figure")
    from neurorect import _progress
    from neurorect.driver import simulate
    from neurorect.errors import ModelError

    model = load_model_arg(args.model)
    if args.param:
        model = model.with_values(parse_assignments(args.param, "--param"))
    duration = model.simulation.duration if args.duration is None else args.duration
    transient = args.transient
    skipped = None
    if transient is None and model.simulation.transient >= duration:
        skipped = (f"no statistics: the run ({duration:g} s) is not longer than the model's "
                   f"transient ({model.simulation.transient:g} s), the time discarded before "
                   "them; pass --transient to compute them")
        transient = 0.0
    record = args.record or model.simulation.record
    if plot is not None and record == "none":
        raise ModelError("nothing to plot: the run records no traces", key="--plot",
                         value=str(plot), allowed="--record rate or state")
    result = simulate(model, args.duration, seed=args.seed, dt=args.dt, method=args.method,
                      transient=transient, record=args.record, record_every=args.record_every,
                      n_harmonics=args.n_harmonics,
                      progress=None if _progress.is_enabled() else False)
    if skipped:
        result = _without_statistics(result, model.simulation.transient, skipped)
    attrs = result.attrs
    neurons = f"{model.size} neuron{'' if model.size == 1 else 's'}"
    print(f"{model.name}: {neurons}, {attrs['duration']:g} s at dt = "
          f"{attrs['dt']:g} s ({attrs['method']}), seed {attrs['seed']}")
    if skipped:
        print(skipped)
    else:
        print(f"statistics: after {attrs['transient']:g} s, over whole drive periods")
        print(_table(model, result))
    if out is not None:
        print(f"wrote {save_result(result, out)}")
    if plot is not None:
        print(f"wrote {_plot(result, model, plot)}")
    return 0


def _without_statistics(result, transient: float, why: str):
    """The result without its streaming statistics (a run shorter than the transient)."""
    names = [n for n in ("r0", "amplitude", "phase", "stat_freq", "stat_duration",
                         "mean_rate") if n in result]
    result = result.drop_vars(names)
    result.attrs.update(transient=transient, statistics=why)
    return result


def _table(model, result) -> str:
    """Per population: size, mean rate and the first harmonic of the population-mean rate.

    A population whose neurons have no analysis frequency (no sinusoid in the model) shows
    ``-``; one whose neurons are analysed at different frequencies shows ``per neuron``
    (see the result file) instead of averaging harmonics of different frequencies.
    """
    import numpy as np

    lines = [f"{'population':>12} {'size':>6} {'mean rate (Hz)':>15} {'f (Hz)':>8} "
             f"{'A1 (Hz)':>10} {'phase1 (rad)':>13}"]
    population_of = result["neuron_population"].values
    for pop in model.populations:
        members = population_of == pop.name
        mean_rate = float(result["mean_rate"].sel(population=pop.name))
        freq = result["stat_freq"].values[members]
        amplitude = result["amplitude"].sel(harmonic=1).values[members]
        phase = result["phase"].sel(harmonic=1).values[members]
        if np.all(freq == freq[0]) and freq[0] > 0 and np.all(np.isfinite(amplitude)):
            coefficient = np.mean(amplitude * np.exp(1j * phase))  # population-mean rate
            a1, p1 = f"{abs(coefficient):10.4f}", f"{np.angle(coefficient):13.4f}"
            f = f"{freq[0]:8.3g}"
        elif np.all(freq == freq[0]):
            f, a1, p1 = f"{'-':>8}", f"{'-':>10}", f"{'-':>13}"
        else:
            f, a1, p1 = f"{'mixed':>8}", f"{'per neuron':>10}", f"{'per neuron':>13}"
        lines.append(f"{pop.name:>12} {pop.size:>6} {mean_rate:>15.4f} {f} {a1} {p1}")
    return "\n".join(lines)


def _plot(result, model, path):
    from neurorect.plotting import plot_rates

    variable = "state" if "state" in result else "rate"
    figure, ax = pyplot().subplots(figsize=(8, 4), layout="constrained")
    plot_rates(ax, result, variable=variable)
    ax.set_title(model.name + (" (no statistics: run shorter than the transient)"
                               if "statistics" in result.attrs else ""))
    return save_figure(figure, path)
