"""``neurorect crossval``: rate model vs Brian2 LIF vs LIF theory, in one command.

A model with an ``[lif]`` table is a single LIF population (:func:`neurorect.crossval.compare`);
one with an ``[lif_network]`` table is Brunel's E-I network
(:func:`neurorect.crossval.compare_network`). Either way the rate model is the model file's
(``--refit`` recomputes it; it never depends on ``--freqs``). Light at import: Brian2, the
engine and matplotlib are imported by the handler only.
"""

from __future__ import annotations

import argparse

from neurorect.cli.common import (
    check_output,
    load_model_arg,
    pyplot,
    quantities_type,
    quantity_type,
    save_figure,
    save_result,
)

__all__ = ["register"]

_DESCRIPTION = """\
Cross-validate a rate model against spiking LIF neurons in Brian2 and LIF theory.

A model with an [lif] table (one LIF population): the LIF population (every condition in one
NeuronGroup), LIF theory (Siegert rate, susceptibility) and the leaky-ReLU rate model get the
same drives mu0 + mu1 sin(2 pi f t); table, netCDF, and a figure of the f-I curves and the
Bode overlay. LIF convention (Brunel): tau_m dV/dt = -V + mu + sigma sqrt(tau_m) xi.

A model with an [lif_network] table (Brunel's E-I network): the Brian2 network, its
mean-field theory and the matched rate network get the same modulation of the external rate,
nu_ext (1 + depth sum_k sin(2 pi f_k t)), every frequency from one Brian2 run; table, netCDF,
and a figure of the rates, the Bode overlay and the population spectrum.

The rate model is the model file's as written; --refit recomputes it (single population: the
leaky ReLU fitted to the Siegert f-I curve and tau to chi(f)/chi(0) on 1-100 Hz; network:
neurorect.crossval.matched_network), never from --freqs. Every source is scored against LIF
theory: z = (source - theory) / Brian2 SE, and relative errors."""

_EPILOG = """\
examples:
  neurorect crossval lif_matched --freqs 2 5 10 20 50 100 --out cv.nc --plot cv.png
  neurorect crossval brunel_ai --freqs 7 17 31 --duration 2.5s --plot brunel.png
  neurorect crossval brunel_ai --target cpp_standalone --threads 2 --refit"""

_SINGLE_FREQS = [2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
_NETWORK_FREQS = [7.0, 17.0, 31.0, 67.0, 113.0, 163.0]


def register(subparsers) -> None:
    """Add the ``crossval`` subcommand to the ``neurorect`` parser."""
    p = subparsers.add_parser(
        "crossval", help="rate model vs Brian2 LIF (population or E-I network) vs LIF theory",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help="model file or packaged model name with an [lif] or [lif_network] table")
    p.add_argument("--freqs", nargs="+", type=quantities_type("frequency"),
                   help="frequencies in Hz, space or comma separated (default: 2 5 10 20 50 100 "
                        "for a population, 7 17 31 67 113 163 for a network)")
    p.add_argument("--refit", action="store_true",
                   help="recompute the rate model from LIF theory instead of using the file's")
    p.add_argument("--duration", type=quantity_type("time"),
                   help="Brian2 simulated time, e.g. '3 s' (default: [simulation])")
    p.add_argument("--transient", type=quantity_type("time"),
                   help="discarded initial time, e.g. '0.5 s' (default: [simulation])")
    p.add_argument("--seed", type=int, help="noise seed (default: [simulation] seed)")
    p.add_argument("--target", choices=("cython", "numpy", "cpp_standalone"),
                   default="cython", help="Brian2 code generation target (default: cython)")
    p.add_argument("--rate-method", choices=("theory", "analytic", "simulate"),
                   default="theory",
                   help="rate model by its exact theory ('analytic' is the same) or by "
                        "simulation (default: theory)")
    single = p.add_argument_group("a single LIF population ([lif])")
    single.add_argument("--mu0", type=quantity_type("voltage"),
                        help="mean input, e.g. '15 mV' (default: drive I0)")
    single.add_argument("--mu1", type=quantity_type("voltage"),
                        help="sinusoid amplitude, e.g. '1 mV' (default: drive I1)")
    single.add_argument("--n-neurons", type=int,
                        help="LIF neurons per condition (default: [lif] n_neurons)")
    single.add_argument("--dt", type=quantity_type("time"),
                        help="Brian2 time step (default: [lif] dt)")
    single.add_argument("--correction", choices=("bridge", "shift", "none"), default="bridge",
                        help="handling of the sqrt(dt) threshold-detection bias "
                             "(default: bridge)")
    single.add_argument("--clip", action="store_true",
                        help="with --refit: clip the fitted leaky ReLU at 0 Hz")
    single.add_argument("--fit-range", nargs=2, type=quantity_type("voltage"),
                        metavar=("LOW", "HIGH"),
                        help="f-I range of the fit and of the f-I curves, e.g. '10 mV' '30 mV' "
                             "(default: v_th -+ 2 sigma)")
    single.add_argument("--fi-points", type=int, default=9,
                        help="f-I points, all in the same Brian2 run (default: 9; 0: none)")
    network = p.add_argument_group("an E-I network ([lif_network])")
    network.add_argument("--depth", type=float,
                         help="relative modulation of each frequency component (default: "
                              "[lif_network] mod_depth, else min(0.05, 0.5 / number of "
                              "frequencies))")
    network.add_argument("--threads", type=int, default=1,
                         help="OpenMP threads of --target cpp_standalone (default: 1)")
    p.add_argument("--out", help="netCDF result file (e.g. cv.nc)")
    p.add_argument("--plot", help="figure (e.g. cv.png)")
    p.set_defaults(handler=_cmd_crossval)


def _frequencies(args: argparse.Namespace, default: list[float]):
    import numpy as np

    groups = args.freqs or [default]
    return np.array([f for group in groups for f in group], dtype=float)


def _cmd_crossval(args: argparse.Namespace) -> int:
    from neurorect.errors import ModelError

    check_output(args.out, "--out", "netcdf")
    check_output(args.plot, "--plot", "figure")
    model = load_model_arg(args.model)
    if model.lif_network is not None:
        return _network(args, model)
    if model.lif is None:
        raise ModelError("crossval needs an [lif] or an [lif_network] table", key="model",
                         value=args.model, allowed="a model such as lif_matched or brunel_ai",
                         file=model.source)
    return _single(args, model)


def _single(args: argparse.Namespace, model) -> int:
    import numpy as np

    from neurorect import _progress
    from neurorect.crossval import compare, default_mu_range, format_table, matched_model

    freqs = _frequencies(args, _SINGLE_FREQS)
    lif = model.lif
    fit_range = tuple(args.fit_range) if args.fit_range else default_mu_range(lif)
    if args.refit:
        model = matched_model(model, mu_range=fit_range, clip=args.clip)
    fi_mu = np.linspace(*fit_range, args.fi_points) if args.fi_points > 0 else None
    correction = None if args.correction == "none" else args.correction
    method = "analytic" if args.rate_method == "theory" else args.rate_method
    with _progress.phase(f"crossval: Brian2 ({args.target}) build, run and analysis"):
        result = compare(model, freqs, mu0=args.mu0, mu1=args.mu1, rate_method=method,
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
    origin = "refitted to Siegert" if args.refit else "from the model file"
    print(f"rate model ({origin}, {method}): {t.kind} gain "
          f"{getattr(t, 'gain', float('nan')) * 1e-3:.4g} Hz/mV, threshold "
          f"{getattr(t, 'threshold', float('nan')) * 1e3:.4g} mV, alpha "
          f"{getattr(t, 'alpha', float('nan')):.3g}, baseline "
          f"{getattr(t, 'baseline', float('nan')):.4g} Hz; tau {pop.tau * 1e3:.4g} ms "
          f"({pop.form} form)")
    print(format_table(result))
    _write(args, result, lambda path: _plot_single(result, path, model.name))
    return 0


def _network(args: argparse.Namespace, model) -> int:
    from neurorect.crossval import compare_network, format_network_table

    freqs = _frequencies(args, _NETWORK_FREQS)
    method = "theory" if args.rate_method == "analytic" else args.rate_method
    result = compare_network(model, freqs, depth=args.depth, refit=args.refit,
                             rate_method=method, duration=args.duration,
                             transient=args.transient, seed=args.seed, target=args.target,
                             threads=args.threads)
    net = model.lif_network
    a = result.attrs
    print(f"{model.name}: Brunel model A, N_E {net.N_E}, N_I {net.N_I}, C_E {net.C_E}, "
          f"C_I {net.C_I}, J {net.J * 1e3:g} mV, g {net.g:g}, eta {net.eta:g}, delay "
          f"{net.delay * 1e3:g} ms, {net.external} external input")
    print(f"Brian2: {a['brian2_duration']:g} s (transient {a['brian2_transient']:g} s), target "
          f"{a['brian2_target']} ({a['brian2_threads']} thread(s)), seed {a['brian2_seed']}; "
          f"run {a['brian2_run_time']:.1f} s")
    print(format_network_table(result))
    _write(args, result, lambda path: _plot_network(result, path, model.name))
    return 0


def _write(args: argparse.Namespace, result, plot) -> None:
    if args.out:
        print(f"wrote {save_result(result, args.out)}")
    if args.plot:
        print(f"wrote {plot(args.plot)}")


def _plot_single(result, path: str, title: str):
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


def _plot_network(result, path: str, title: str):
    """Rates, the Bode overlay and the population spectra of a network comparison: theory
    as lines, Brian2 as points with one-SE error bars."""
    import numpy as np

    figure = pyplot().figure(figsize=(12, 8), layout="constrained")
    grid = figure.add_gridspec(2, 4)
    _rates_panel(figure.add_subplot(grid[0, 0]), result)
    _spectrum_panel(figure.add_subplot(grid[0, 1:]), result)
    ax_gain = figure.add_subplot(grid[1, :2])
    ax_phase = figure.add_subplot(grid[1, 2:], sharex=ax_gain)
    styles = {"mean_field": ("C0", "-", "mean field"),
              "rate_model": ("C1", "--", "rate network (theory)")}
    fine = result["fine_freq"].values
    for source, (color, line, label) in styles.items():
        theory = result.sel(source=source, population="E")
        ax_gain.plot(fine, theory["fine_gain"].values, line, color=color, label=label)
        ax_phase.plot(fine, theory["fine_phase"].values, line, color=color, label=label)
    freq = result["freq"].values
    for pop, marker, face in (("E", "o", "C3"), ("I", "s", "none")):
        b = result.sel(source="brian2", population=pop)
        for ax, name in ((ax_gain, "gain"), (ax_phase, "phase")):
            ax.errorbar(freq, b[name].values, yerr=b[f"{name}_se"].values, fmt=marker,
                        color="C3", mfc=face, ms=6, capsize=3, lw=1,
                        label=f"Brian2 {pop} (+- 1 SE)")
    ax_gain.set(xscale="log", xlabel="modulation frequency (Hz)",
                ylabel="gain (Hz per Hz of external rate)", title="response to the external rate")
    ax_phase.set(xscale="log", xlabel="modulation frequency (Hz)", ylabel="phase (rad)",
                 title="phase (negative: a lag)")
    ax_phase.axhline(0.0, color="0.7", lw=0.8)
    for ax in (ax_gain, ax_phase):
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlim(0.8 * np.min(freq), 1.25 * np.max(freq))
        _plain_log_ticks(ax.xaxis)
    ax_gain.legend(fontsize=8, loc="best")
    a = result.attrs
    figure.suptitle(f"{title}: g = {a['g']:g}, eta = {a['eta']:g} (nu_ext = {a['nu_ext']:.3g} "
                    f"Hz), modulation depth {a['mod_depth']:g} per component; Brian2 "
                    f"{a['brian2_duration']:g} s")
    return save_figure(figure, path)


def _plain_log_ticks(axis) -> None:
    """Log-axis tick labels as plain numbers (2, 5, 10, 20, ...), minor ones unlabelled."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    axis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def _rates_panel(ax, result) -> None:
    """Rates per population: Brian2 points with error bars, the theories as markers."""
    import numpy as np

    x = np.arange(result.sizes["population"])
    b = result.sel(source="brian2")
    ax.errorbar(x - 0.15, b["r0"].values, yerr=b["r0_se"].values, fmt="o", color="C3",
                capsize=3, label="Brian2 (+- 1 SE)")
    ax.plot(x, result["r0"].sel(source="mean_field").values, "_", color="C0", ms=22, mew=2,
            label="mean field")
    ax.plot(x + 0.15, result["r0"].sel(source="rate_model").values, "x", color="C1", ms=8,
            label="rate network")
    values = np.concatenate([result["r0"].values.ravel(),
                             (b["r0"] + b["r0_se"]).values, (b["r0"] - b["r0_se"]).values])
    low, high = np.nanmin(values), np.nanmax(values)
    pad = 0.15 * max(high - low, 0.05 * high)
    ax.set_ylim(low - pad, high + 2.5 * pad)  # room for the legend above the data
    ax.set_xticks(x, [f"{p}" for p in result["population"].values])
    ax.set_xlim(-0.6, x[-1] + 0.6)
    ax.set(ylabel="rate (Hz)", title="stationary rate")
    ax.legend(fontsize=8, loc="upper center", ncol=1)
    ax.grid(True, axis="y", alpha=0.3)


def _spectrum_panel(ax, result) -> None:
    """Population-rate spectra: Brian2 points with error bars, mean-field lines, Poisson."""
    import numpy as np

    freq = result["spectrum_freq"].values[1:]
    for pop, color in (("E", "C3"), ("I", "C2")):
        psd = result["psd_brian2"].sel(population=pop).values[1:]
        se = result["psd_brian2_se"].sel(population=pop).values[1:]
        ax.errorbar(freq, psd, yerr=se, fmt=".", color=color, ms=4, lw=0.6, capsize=0,
                    label=f"Brian2 {pop} (+- 1 SE)")
        ax.plot(freq, result["psd_mean_field"].sel(population=pop).values[1:], "-",
                color=color, lw=1.2, alpha=0.9, label=f"mean field {pop} (linear response)")
        ax.axhline(float(result["psd_poisson"].sel(population=pop)), color=color, ls=":",
                   lw=1, label=f"Poisson {pop}: 2 r0 / N")
    ax.set(xscale="log", yscale="log", xlabel="frequency (Hz)",
           ylabel="power of the population rate (Hz$^2$/Hz)", title="population spectrum")
    top = np.nanmax(result["psd_brian2"].values[:, 1:])
    bottom = np.nanmin(result["psd_brian2"].values[:, 1:])
    ax.set_ylim(0.5 * bottom, 40.0 * top)  # room for the legend above the data
    ax.grid(True, which="both", alpha=0.3)
    _plain_log_ticks(ax.xaxis)
    ax.legend(fontsize=7, ncol=3, loc="upper center")
