"""``neurorect response``: frequency response of a model file, data and a Bode figure."""

from __future__ import annotations

import argparse

from neurorect.cli.common import pyplot, save_figure

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``response`` subcommand."""
    parser = subparsers.add_parser(
        "response", help="frequency response (gain, phase, harmonics) under sinusoidal drive",
        description="Response of MODEL to I0 + I1 sin(2 pi f t) on one population, by the "
                    "exact theory, linear response, one batched simulation, or one "
                    "noise-driven (broadband) run. Prints a table; writes netCDF, CSV and a "
                    "Bode figure (points with error bars over the exact or linear curve).")
    parser.add_argument("model", help="TOML model file")
    parser.add_argument("--freqs", default="1:100:log:9",
                        help="frequencies (Hz): 'start:stop:log:num', 'log:start:stop:num', "
                             "'start:stop:num' or 'f1,f2,...' (default 1:100:log:9)")
    parser.add_argument("--I0", type=float, help="mean drive (drive units); default: model")
    parser.add_argument("--I1", type=float, help="drive amplitude; default: model")
    parser.add_argument("--method", default="simulate",
                        choices=("analytic", "linear", "simulate", "broadband"))
    parser.add_argument("--population", help="driven population (default: the driven one)")
    parser.add_argument("--n-harmonics", type=int, default=3)
    parser.add_argument("--n-trials", type=int, help="seeds per frequency (simulate)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--out", help="netCDF result (e.g. resp.nc)")
    parser.add_argument("--csv", help="CSV table of the driven population (e.g. resp.csv)")
    parser.add_argument("--plot", help="Bode figure (e.g. bode.png)")
    parser.set_defaults(handler=_run)


def _reference(model, freqs, args, response):
    """The exact (uncoupled, noise-free) or linear curve on a dense grid, or None."""
    import numpy as np

    from neurorect.errors import ModelError
    from neurorect.response import frequency_response

    dense = np.geomspace(freqs.min(), freqs.max(), 200)
    for method in ("analytic", "linear"):
        if method == args.method:
            continue
        try:
            return frequency_response(model, dense, I0=response.attrs["I0"],
                                      I1=response.attrs["I1"], method=method,
                                      population=response.attrs["driven_population"],
                                      n_harmonics=1)
        except ModelError:
            continue
    return None


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from neurorect.io import save
    from neurorect.modelfile import load_model
    from neurorect.response import frequency_response
    from neurorect.sweeps import parse_values

    model = load_model(args.model)
    freqs = np.asarray(parse_values(args.freqs, key="--freqs"), dtype=float)
    response = frequency_response(model, freqs, I0=args.I0, I1=args.I1, method=args.method,
                                  population=args.population, n_harmonics=args.n_harmonics,
                                  n_trials=args.n_trials, seed=args.seed)
    population = response.attrs["driven_population"]
    table = response.sel(population=population)
    print(f"{model.name}: {args.method} response of population {population!r} to "
          f"I0 = {response.attrs['I0']:g} + {response.attrs['I1']:g} sin(2 pi f t)")
    has_se = "gain_se" in table
    print(f"{'freq (Hz)':>10} {'r0 (Hz)':>10} {'gain':>12}{' +-se':>10} {'phase (rad)':>12}"
          f"{' +-se':>8} {'A2 (Hz)':>10}")
    for i, f in enumerate(table["freq"].values):
        row = table.isel(freq=i)
        gain_se = f"{float(row['gain_se']):10.3g}" if has_se else " " * 10
        phase_se = (f"{float(row['phase_se'].values.flat[0]):8.3f}"
                    if "phase_se" in row else " " * 8)
        a2 = (float(row["amplitude"].sel(harmonic=2)) if row.sizes.get("harmonic", 0) >= 2
              else float("nan"))
        print(f"{f:>10.4g} {float(row['r0']):>10.4g} {float(row['gain']):>12.5g}{gain_se} "
              f"{float(row['phase'].sel(harmonic=1)):>12.4f}{phase_se} {a2:>10.4g}")
    if args.out:
        print(f"wrote {save(response, args.out)}")
    if args.csv:
        columns = {"freq_Hz": table["freq"].values, "r0_Hz": table["r0"].values,
                   "gain": table["gain"].values,
                   "phase_rad": table["phase"].sel(harmonic=1).values}
        for k in table["harmonic"].values:
            columns[f"A{k}_Hz"] = table["amplitude"].sel(harmonic=k).values
        if has_se:
            columns["gain_se"] = table["gain_se"].values
        header = ",".join(columns)
        np.savetxt(args.csv, np.column_stack(list(columns.values())), delimiter=",",
                   header=header, comments="")
        print(f"wrote {args.csv}")
    if args.plot:
        from neurorect.plotting import plot_frequency_response

        figure, (ax_gain, ax_phase) = pyplot().subplots(2, 1, sharex=True, figsize=(6, 6),
                                                        layout="constrained")
        plot_frequency_response(ax_gain, ax_phase, response,
                                reference=_reference(model, freqs, args, response))
        ax_gain.set_title(f"{model.name}: population {population}")
        print(f"wrote {save_figure(figure, args.plot)}")
    return 0
