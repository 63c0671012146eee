"""``neurorect crossval``: rate model vs Brian2 LIF population vs LIF theory, in one command.

Light at import: Brian2, the engine and matplotlib are imported by the handler only.
"""

from __future__ import annotations

import argparse

from neurorect.cli.common import pyplot, quantities, quantity, save_figure

__all__ = ["register"]

_EXAMPLE = ("example: neurorect crossval models/lif_matched.toml --freqs 2 5 10 20 50 100 "
            "--out cv.nc --plot cv.png")


def register(subparsers) -> None:
    """Add the ``crossval`` subcommand to the ``neurorect`` parser."""
    p = subparsers.add_parser(
        "crossval", help="rate model vs Brian2 LIF vs LIF theory under sinusoidal drives",
        description=(
            "Give the model's LIF population (Brian2, all conditions in one NeuronGroup), "
            "LIF theory (Siegert, susceptibility) and the matched leaky-ReLU rate model the "
            "same drives mu0 + mu1 sin(2 pi f t); print a table, write netCDF and a figure "
            "(f-I curves and a Bode overlay). LIF convention (Brunel): "
            "tau_m dV/dt = -V + mu + sigma sqrt(tau_m) xi. " + _EXAMPLE))
    p.add_argument("model", help="TOML model file with an [lif] table")
    p.add_argument("--freqs", nargs="+", type=quantities,
                   help="drive frequencies in Hz, space or comma separated (default: 2 5 10 "
                        "20 50 100)")
    p.add_argument("--mu0", type=quantity, help="mean input, e.g. '15 mV' (default: drive I0)")
    p.add_argument("--mu1", type=quantity,
                   help="sinusoid amplitude, e.g. '1 mV' (default: drive I1)")
    p.add_argument("--n-neurons", type=int, help="LIF neurons per condition (default: [lif])")
    p.add_argument("--duration", type=quantity,
                   help="Brian2 simulated time, e.g. '3 s' (default: [simulation])")
    p.add_argument("--transient", type=quantity,
                   help="discarded initial time, e.g. '0.5 s' (default: [simulation])")
    p.add_argument("--dt", type=quantity, help="Brian2 time step (default: [lif] dt)")
    p.add_argument("--seed", type=int, help="noise seed (default: [simulation] seed)")
    p.add_argument("--correction", choices=("bridge", "shift", "none"), default="bridge",
                   help="handling of the sqrt(dt) threshold-detection bias (default: bridge)")
    p.add_argument("--target", choices=("cython", "numpy", "cpp_standalone"),
                   default="cython",
                   help="Brian2 code generation target (default: cython)")
    p.add_argument("--rate-method", choices=("analytic", "simulate"), default="analytic",
                   help="rate model by exact theory or by simulation (default: analytic)")
    p.add_argument("--no-refit", action="store_true",
                   help="use the model file's transfer and tau as they are (default: refit "
                        "the leaky ReLU to the Siegert f-I curve and tau to chi(f)/chi(0))")
    p.add_argument("--clip", action="store_true", help="clip the fitted leaky ReLU at 0 Hz")
    p.add_argument("--fit-range", nargs=2, type=quantity, metavar=("LOW", "HIGH"),
                   help="f-I range of the fit and of the f-I curves, e.g. '10 mV' '30 mV' "
                        "(default: v_th -+ 2 sigma)")
    p.add_argument("--fi-points", type=int, default=9,
                   help="f-I points, all in the same Brian2 run (default: 9; 0: none)")
    p.add_argument("--out", help="netCDF result file (e.g. cv.nc)")
    p.add_argument("--plot", help="figure (e.g. cv.png)")
    p.set_defaults(handler=_cmd_crossval)


def _cmd_crossval(args: argparse.Namespace) -> int:
    import numpy as np

    from neurorect.crossval import compare, default_mu_range, format_table, matched_model
    from neurorect.io import save
    from neurorect.modelfile import load_model

    model = load_model(args.model)
    model.require_lif()
    groups = args.freqs or [[2.0, 5.0, 10.0, 20.0, 50.0, 100.0]]
    freqs = np.array([f for group in groups for f in group], dtype=float)
    lif = model.lif
    fit_range = tuple(args.fit_range) if args.fit_range else default_mu_range(lif)
    if not args.no_refit:
        model = matched_model(model, mu_range=fit_range, tau_freqs=freqs, clip=args.clip)
    fi_mu = np.linspace(*fit_range, args.fi_points) if args.fi_points > 0 else None
    correction = None if args.correction == "none" else args.correction
    result = compare(model, freqs, mu0=args.mu0, mu1=args.mu1, rate_method=args.rate_method,
                     fi_mu=fi_mu, n_neurons=args.n_neurons, duration=args.duration,
                     transient=args.transient, dt=args.dt, seed=args.seed,
                     threshold_correction=correction, target=args.target)
    pop = model.population(lif.population)
    t = pop.transfer
    a = result.attrs
    print(f"{model.name}: LIF tau_m {lif.tau_m * 1e3:g} ms, v_th {lif.v_th * 1e3:g} mV, "
          f"v_reset {lif.v_reset * 1e3:g} mV, t_ref {lif.t_ref * 1e3:g} ms, "
          f"sigma {lif.sigma * 1e3:g} mV (Brunel: free membrane sd sigma/sqrt(2))")
    print(f"drive mu0 = {a['mu0'] * 1e3:g} mV, mu1 = {a['mu1'] * 1e3:g} mV; Brian2 "
          f"{a['brian2_n_neurons_per_condition']} neurons/condition, {a['brian2_duration']:g} s "
          f"(transient {a['brian2_transient']:g} s), dt {a['brian2_dt'] * 1e3:g} ms, target "
          f"{a['brian2_target']}, seed {a['brian2_seed']}, threshold correction "
          f"{a['brian2_threshold_correction']}; run {a['brian2_run_time']:.1f} s")
    fitted = "fitted to Siegert" if not args.no_refit else "from the model file"
    print(f"rate model ({fitted}, {args.rate_method}): {t.kind} gain "
          f"{getattr(t, 'gain', float('nan')) * 1e-3:.4g} Hz/mV, threshold "
          f"{getattr(t, 'threshold', float('nan')) * 1e3:.4g} mV, alpha "
          f"{getattr(t, 'alpha', float('nan')):.3g}, baseline "
          f"{getattr(t, 'baseline', float('nan')):.4g} Hz; tau {pop.tau * 1e3:.4g} ms "
          f"({pop.form} form)")
    print(format_table(result))
    if args.out:
        print(f"wrote {save(result, args.out)}")
    if args.plot:
        print(f"wrote {_plot(result, args.plot, model.name)}")
    return 0


def _plot(result, path: str, title: str):
    """f-I curves (when computed) beside the Bode overlay of the three sources."""
    from neurorect.plotting import plot_crossval_bode, plot_fi

    has_fi = "fi_rate" in result
    figure = pyplot().figure(figsize=(11 if has_fi else 6, 6), layout="constrained")
    grid = figure.add_gridspec(2, 2 if has_fi else 1)
    if has_fi:
        plot_fi(figure.add_subplot(grid[:, 0]), result)
    column = 1 if has_fi else 0
    ax_gain = figure.add_subplot(grid[0, column])
    ax_phase = figure.add_subplot(grid[1, column], sharex=ax_gain)
    plot_crossval_bode(ax_gain, ax_phase, result)
    figure.suptitle(f"{title}: mu0 = {result.attrs['mu0'] * 1e3:g} mV, mu1 = "
                    f"{result.attrs['mu1'] * 1e3:g} mV, sigma = {result.attrs['sigma'] * 1e3:g} mV")
    return save_figure(figure, path)
