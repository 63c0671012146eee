"""``neurorect response``: frequency response of a model; a table, data files and a Bode
figure."""

from __future__ import annotations

import argparse

from neurorect.cli.common import (
    check_output,
    load_model_arg,
    pyplot,
    quantity_type,
    save_figure,
    save_result,
    write_file,
)

__all__ = ["register"]

_DESCRIPTION = """\
Frequency response of one population of MODEL (a model file or a packaged model's name) to
the drive I0 + I1 sin(2 pi f t): mean rate, gain (first-harmonic amplitude / I1), phase
(negative: a lag) and second harmonic, by one of four methods:

  analytic   the exact periodic response (uncoupled, noise-free populations)
  linear     the first-order response around the network's fixed point (noise ignored)
  simulate   one batched simulation of every frequency (and of --n-trials seeds for noisy
             models, giving standard errors)
  broadband  one run driven by Gaussian noise of standard deviation I1 instead of a
             sinusoid; the transfer function from cross-spectra, with standard errors. For a
             nonlinear unit this is the linear response to noise of that size, not the
             response to a sinusoid: it is compared with its own theory where one exists.

Prints a table; writes netCDF, CSV and a Bode figure (computed values as points with error
bars where they have them; theory as a line)."""

_EPILOG = """\
examples:
  neurorect response single_neuron --freqs log:1:1000:13 --method analytic --plot bode.png
  neurorect response single_neuron --method simulate --out resp.nc --csv resp.csv
  neurorect response random_network --method broadband --freqs log:2:100:8 --n-trials 2"""


def register(subparsers) -> None:
    """Add the ``response`` subcommand."""
    p = subparsers.add_parser(
        "response", help="frequency response (gain, phase, harmonics) under sinusoidal drive",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="model file or packaged model name")
    p.add_argument("--freqs", default="log:1:100:9",
                   help="drive frequencies in Hz: log:START:STOP:NUM (geometric), "
                        "START:STOP:NUM (even) or F1,F2,... (default: log:1:100:9)")
    p.add_argument("--I0", type=quantity_type("drive"), help="mean drive (default: the model's)")
    p.add_argument("--I1", type=quantity_type("drive"),
                   help="sinusoid amplitude; for broadband the noise's standard deviation "
                        "(default: the model's)")
    p.add_argument("--method", default="simulate",
                   choices=("analytic", "linear", "simulate", "broadband"),
                   help="how the response is computed (default: simulate)")
    p.add_argument("--population", help="the driven population (default: the one with a "
                                        "sinusoidal drive)")
    p.add_argument("--n-harmonics", type=int, default=3, metavar="K",
                   help="harmonics reported (default: 3)")
    p.add_argument("--n-trials", type=int, metavar="N",
                   help="seeds: simulate (per frequency; default 8 for noisy models, else 1) "
                        "and broadband (records; default 16 for networks)")
    p.add_argument("--seed", type=int, help="first seed (trials use seed, seed+1, ...)")
    p.add_argument("--transient", type=quantity_type("time"),
                   help="discarded initial time (default: the larger of the model's and "
                        "10 tau)")
    p.add_argument("--n-periods", type=int, default=5,
                   help="simulate: whole periods of the lowest frequency analysed "
                        "(default: 5)")
    p.add_argument("--duration", type=quantity_type("time"),
                   help="simulate: simulated time instead of --n-periods, e.g. '5 s'")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="simulate: precision of the simulation (default: float64)")
    p.add_argument("--nperseg", type=int, metavar="SAMPLES",
                   help="broadband: Welch segment length in time steps (default: enough to "
                        "resolve the lowest frequency); smaller is shorter and less memory")
    p.add_argument("--n-segments", type=int, default=32,
                   help="broadband: half-overlapping segments simulated (default: 32)")
    p.add_argument("--noise-tau", type=quantity_type("time"),
                   help="broadband: correlation time of the noise stimulus (default: dt)")
    p.add_argument("--out", help="netCDF result file, e.g. resp.nc")
    p.add_argument("--csv", help="CSV table of the driven population, e.g. resp.csv")
    p.add_argument("--plot", help="Bode figure, e.g. bode.png")
    p.set_defaults(handler=_cmd_response)


def _cmd_response(args: argparse.Namespace) -> int:
    out = check_output(args.out, "--out", "netcdf")  # before anything heavy is imported
    csv = check_output(args.csv, "--csv", "text")
    plot = check_output(args.plot, "--plot", "figure")
    import numpy as np

    from neurorect.errors import ModelError
    from neurorect.sweeps.grid import parse_values

    freqs = parse_values(args.freqs, key="--freqs", dimension="frequency")
    if freqs.dtype.kind not in "iuf":
        raise ModelError("frequencies must be numbers", key="--freqs", value=args.freqs,
                         allowed="log:START:STOP:NUM, START:STOP:NUM or F1,F2,... in Hz")
    freqs = np.asarray(freqs, dtype=float)
    model = load_model_arg(args.model)
    options = dict(I0=args.I0, I1=args.I1, method=args.method, population=args.population,
                   n_harmonics=args.n_harmonics, n_trials=args.n_trials, seed=args.seed,
                   transient=args.transient)
    if args.method == "simulate":
        options.update(n_periods=args.n_periods, duration=args.duration, dtype=args.dtype)
    if args.method == "broadband":
        options.update(nperseg=args.nperseg, n_segments=args.n_segments,
                       noise_tau=args.noise_tau)
    response = _computed(model, freqs, options)  # simulations show the engine's progress bar
    population = response.attrs["driven_population"]
    print(_heading(model, response, args.method))
    print(_table(response.sel(population=population)))
    reference = (_reference(model, freqs, args.method, response, args.noise_tau)
                 if plot is not None else None)
    if out is not None:
        print(f"wrote {save_result(response, out)}")
    if csv is not None:
        print(f"wrote {_write_csv(response.sel(population=population), csv)}")
    if plot is not None:
        print(f"wrote {_plot(response, reference, model, plot)}")
    return 0


def _computed(model, freqs, options):
    """frequency_response, with the options that shrink a too-large broadband recording
    named in the error."""
    from neurorect.errors import ModelError
    from neurorect.response import frequency_response

    try:
        return frequency_response(model, freqs, **options)
    except ModelError as error:
        if options["method"] == "broadband" and error.key == "record":
            need = error.detail.split(";")[0]  # "recording would need X GiB, more than ..."
            raise ModelError(
                f"the noise-driven run's {need}", key="--method", value="broadband",
                allowed="fewer --n-trials, a shorter --nperseg (the lowest frequency must "
                        "stay above 1/(nperseg dt)), fewer --n-segments, or a higher "
                        "lowest --freqs") from None
        raise


def _heading(model, response, method: str) -> str:
    a = response.attrs
    what = {"analytic": "exact response", "linear": "linear response",
            "simulate": "simulated response",
            "broadband": "broadband (noise-driven) linear response"}[method]
    drive = (f"Gaussian noise of sd I1 = {a['I1']:g} around I0 = {a['I0']:g}"
             if method == "broadband" else f"I0 = {a['I0']:g} + {a['I1']:g} sin(2 pi f t)")
    return (f"{model.name}: {what} of population {a['driven_population']!r} to {drive} "
            "(drive units; gain in Hz per drive unit)")


def _table(table) -> str:
    """One row per frequency; columns a method does not compute are left out."""
    import numpy as np

    has = {name: name in table for name in ("gain_se", "phase_se", "coherence")}
    second = (table.sizes.get("harmonic", 0) >= 2
              and bool(np.any(np.isfinite(table["amplitude"].sel(harmonic=2).values))))
    header = f"{'freq (Hz)':>10} {'r0 (Hz)':>10} {'gain':>12}"
    header += f"{'+-se':>10}" if has["gain_se"] else ""
    header += f" {'phase (rad)':>12}" + (f"{'+-se':>8}" if has["phase_se"] else "")
    header += f" {'A2 (Hz)':>10}" if second else ""
    header += f" {'coherence':>10}" if has["coherence"] else ""
    lines = [header]
    for i, f in enumerate(table["freq"].values):
        row = table.isel(freq=i)
        phase = row["phase"].sel(harmonic=1) if "harmonic" in row["phase"].dims else row["phase"]
        line = f"{f:>10.4g} {float(row['r0']):>10.4g} {float(row['gain']):>12.5g}"
        line += f"{float(row['gain_se']):>10.3g}" if has["gain_se"] else ""
        line += f" {float(phase):>12.4f}"
        if has["phase_se"]:
            se = row["phase_se"]
            se = se.sel(harmonic=1) if "harmonic" in se.dims else se
            line += f"{float(se):>8.3f}"
        line += (f" {float(row['amplitude'].sel(harmonic=2)):>10.4g}" if second else "")
        line += f" {float(row['coherence']):>10.3f}" if has["coherence"] else ""
        lines.append(line)
    return "\n".join(lines)


def _write_csv(table, path):
    """The driven population's table as CSV (columns with units in their names)."""
    import numpy as np

    def first(name):
        values = table[name]
        return (values.sel(harmonic=1) if "harmonic" in values.dims else values).values

    columns = {"freq_Hz": table["freq"].values, "r0_Hz": table["r0"].values,
               "gain": table["gain"].values, "phase_rad": first("phase")}
    for k in table["harmonic"].values:
        amplitude = table["amplitude"].sel(harmonic=k).values
        if np.any(np.isfinite(amplitude)):
            columns[f"A{k}_Hz"] = amplitude
    for name in ("gain_se", "phase_se", "coherence"):
        if name in table:
            columns[f"{name}_rad" if name == "phase_se" else name] = first(name)
    header = ",".join(columns)
    data = np.column_stack(list(columns.values()))

    def write(temporary):
        np.savetxt(temporary, data, delimiter=",", header=header, comments="")

    return write_file(path, write)


def _reference(model, freqs, method: str, response, noise_tau: float | None = None):
    """The theory drawn as a line on a dense grid, or None.

    Simulated points are compared with the exact response (uncoupled, noise-free) or the
    linear one (networks); broadband estimates of uncoupled populations with their own
    theory, the Gaussian-input (Bussgang) response of
    :func:`neurorect.theory.broadband.broadband_response`, and of networks with the linear
    response at the fixed point; a theory method is drawn by itself, on the dense grid (the
    figure then has no points)."""
    import numpy as np

    from neurorect.errors import ModelError
    from neurorect.response import frequency_response

    if method == "broadband" and not model.is_coupled:
        dense = np.geomspace(freqs.min(), freqs.max(), 200) if freqs.size > 1 else freqs
        return _broadband_theory(model, dense, response, noise_tau)
    candidates = {"simulate": ("analytic", "linear"), "broadband": ("linear",)}.get(
        method, (method,))  # a theory method: itself, on the dense grid
    # a network's linear response costs one N x N solve per frequency: fewer points
    points = 200 if model.size <= 100 else 40
    dense = np.geomspace(freqs.min(), freqs.max(), points) if freqs.size > 1 else freqs
    for candidate in candidates:
        try:
            return frequency_response(model, dense, I0=response.attrs["I0"],
                                      I1=response.attrs["I1"], method=candidate,
                                      population=response.attrs["driven_population"],
                                      n_harmonics=1)
        except ModelError:
            continue
    return None


def _broadband_theory(model, freqs, response, stimulus_tau: float | None):
    """The Bussgang response of the driven population as a response Dataset (None when
    the model's noise is not OU noise of one value per population)."""
    import numpy as np
    import xarray as xr

    from neurorect.theory.broadband import broadband_response

    a = response.attrs
    population = model.population(a["driven_population"])
    noise = model.drive(population.name).noise
    noise_sd = noise_tau = 0.0
    if noise is not None:
        if noise.kind != "ou" or isinstance(noise.sigma, tuple) or isinstance(noise.tau, tuple):
            return None
        noise_sd, noise_tau = float(noise.sigma), float(noise.tau)
    dt = model.simulation.dt
    chi = broadband_response(population.transfer, a["I0"], a["I1"], freqs, tau=population.tau,
                             form=population.form, stimulus_tau=stimulus_tau or dt,
                             noise_sd=noise_sd, noise_tau=noise_tau, dt=dt)
    return xr.Dataset(
        {"gain": (("population", "freq"), np.abs(chi)[None], {"units": "Hz per drive unit"}),
         "phase": (("population", "freq"), np.angle(chi)[None], {"units": "rad"})},
        coords={"population": [population.name], "freq": freqs},
        attrs={"method": "broadband_theory"})


def _plot(response, reference, model, path):
    from neurorect.plotting import plot_frequency_response

    figure, (ax_gain, ax_phase) = pyplot().subplots(2, 1, sharex=True, figsize=(6.4, 6),
                                                    layout="constrained")
    if reference is not None and reference.attrs.get("method") == response.attrs.get("method"):
        response, reference = reference, None  # theory: its dense curve is the figure
    plot_frequency_response(ax_gain, ax_phase, response, reference=reference)
    population = response.attrs["driven_population"]
    method = response.attrs.get("method", "")
    title = (f"{model.name}, population {population}: broadband (noise-driven) linear response"
             if method == "broadband" else
             f"{model.name}, population {population}: response to a sinusoid")
    ax_gain.set_title(title, fontsize="medium")
    return save_figure(figure, path)
