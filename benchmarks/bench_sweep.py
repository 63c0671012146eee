"""Sweep throughput: 21 alpha x 31 freq x 5 I0 single-neuron frequency response (simulated).

Compared, on the same grid and the same per-point work:

(a) ``run_sweep(..., measure="response")``, local executor (batched kernel calls);
(b) a Python loop of individual ``simulate`` calls, one per point, with each point's own
    duration (a stratified subset is timed, every frequency equally, and the time of the
    full loop is extrapolated per frequency; ``--full-loop`` times all of it);
(c) the same grid as ONE Brian2 NeuronGroup of rate neurons (runtime Cython target,
    exponential Euler, ``tau dr/dt = -r + phi(I0 + I1 sin(2 pi f t))`` with per-neuron
    alpha, f, I0) and running sums for r0 and the first harmonic over the same per-point
    windows; one group runs the longest duration for every neuron;
(d) the Dask executor on a LocalCluster of 2 single-threaded workers, with cluster start-up
    and with an already running cluster;
(e) ``run_sweep`` with one fixed duration for every point (``transient + 3 / f_min``), the
    textbook choice, to show what per-point durations save.

Compile time is excluded by warm-up calls (Numba's on-disk cache, Brian2's Cython cache).
Thread counts are fixed below, before numpy and numba load. Run from the repository root:

    python benchmarks/bench_sweep.py [--full-loop] [--skip-brian2] [--skip-fixed]
"""

from __future__ import annotations

import os

THREADS = 2
os.environ["NUMBA_NUM_THREADS"] = str(THREADS)
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from neurorect import load_model, simulate  # noqa: E402
from neurorect.driver import stat_windows  # noqa: E402
from neurorect.sweeps import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "single_neuron.toml"
ALPHA, FREQ, I0 = "populations.E.transfer.alpha", "drives.E.freq", "drives.E.I0"
GRID = {ALPHA: "0:1:21", FREQ: "log:0.1:1000:31", I0: "lin:-0.5:0.5:5"}


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def bench_local(model):
    run_sweep(model, {ALPHA: [0.0, 1.0], FREQ: [5.0]}, measure="response", progress=False)
    return timed(run_sweep, model, GRID, measure="response", progress=False)


def bench_loop(model, sweep, full: bool):
    """Individual simulate calls; returns (seconds for the full loop, extrapolated?, max
    deviation from the sweep)."""
    transient = sweep.attrs["transient"]
    alphas, freqs, i0s = (sweep[d].values for d in ("alpha", "freq", "I0"))
    if full:
        picks = [(a, i) for a in range(alphas.size) for i in range(i0s.size)]
    else:  # three (alpha, I0) pairs per frequency: ends and middle
        picks = [(0, 0), (alphas.size // 2, i0s.size // 2), (alphas.size - 1, i0s.size - 1)]
    simulate(model, 0.3, record="none")  # warm-up
    total, deviation = 0.0, 0.0
    for f_index, freq in enumerate(freqs):
        spent = 0.0
        for a, i in picks:
            point = sweep.isel(alpha=a, freq=f_index, I0=i, population=0)
            start = time.perf_counter()
            alone = simulate(model.with_values({ALPHA: alphas[a], FREQ: freq, I0: i0s[i]}),
                             float(point["duration"]), transient=transient, record="none",
                             progress=False)
            spent += time.perf_counter() - start
            deviation = max(deviation, float(np.max(np.abs(
                alone["amplitude"].values[0] - point["amplitude"].values))))
        total += spent / len(picks) * alphas.size * i0s.size
    return total, not full, deviation


BRIAN2_EQUATIONS = """
dr/dt = (phi - r) / tau : Hz
drive = I0 + I1 * sin(2 * pi * f * t) : 1
phi = gain * (drive - threshold) * (int(drive > threshold) + alpha * int(drive <= threshold)) : Hz
alpha : 1 (constant)
f : Hz (constant)
I0 : 1 (constant)
window_start : second (constant)
window_stop : second (constant)
sum0 : Hz
sum_cos : Hz
sum_sin : Hz
"""
BRIAN2_SUMS = """
inside = int(t >= window_start - 0.5 * dt) * int(t < window_stop - 0.5 * dt)
sum0 += r * inside
sum_cos += r * cos(2 * pi * f * t) * inside
sum_sin += r * sin(2 * pi * f * t) * inside
"""


def brian2_group(model, alpha, freq, i0, start, stop, duration):
    import brian2 as b2

    b2.start_scope()
    pop = model.populations[0]
    transfer = pop.transfer
    b2.defaultclock.dt = model.simulation.dt * b2.second
    namespace = {"tau": pop.tau * b2.second, "I1": float(model.drive("E").I1),
                 "gain": transfer.gain * b2.Hz, "threshold": transfer.threshold}
    group = b2.NeuronGroup(alpha.size, BRIAN2_EQUATIONS, method="exponential_euler",
                           namespace=namespace)
    group.alpha, group.f, group.I0 = alpha, freq * b2.Hz, i0
    group.window_start, group.window_stop = start * b2.second, stop * b2.second
    group.run_regularly(BRIAN2_SUMS, when="start")  # samples r(t_n) before the update
    network = b2.Network(group)
    started = time.perf_counter()
    network.run(duration * b2.second, namespace={})
    elapsed = time.perf_counter() - started
    count = np.rint((stop - start) / model.simulation.dt)
    r0 = np.asarray(group.sum0[:]) / count
    coefficient = 1j * 2.0 * (np.asarray(group.sum_cos[:]) - 1j * np.asarray(group.sum_sin[:]))
    return elapsed, r0, np.abs(coefficient / count), np.angle(coefficient / count)


def bench_brian2(model, sweep):
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.prefs.logging.console_log_level = "ERROR"
    grid = sweep.transpose("alpha", "freq", "I0", ...)
    alpha, freq, i0 = (np.asarray(a, float).ravel() for a in np.meshgrid(
        grid["alpha"].values, grid["freq"].values, grid["I0"].values, indexing="ij"))
    dt = model.simulation.dt
    start = np.full(alpha.size, np.ceil(grid.attrs["transient"] / dt - 1e-9) * dt)
    durations = grid["duration"].values.ravel()
    stop = np.empty(alpha.size)  # each point's window of whole periods, as the engine's
    for k in range(alpha.size):
        n_steps = int(round(durations[k] / dt))
        window = stat_windows(np.array([freq[k]]), n_steps, int(round(start[k] / dt)), dt)
        stop[k] = window[0, 1] * dt
    brian2_group(model, alpha[:4], freq[:4], i0[:4], start[:4], stop[:4], 0.01)  # compile
    elapsed, r0, amplitude, phase = brian2_group(model, alpha, freq, i0, start, stop,
                                                 float(durations.max()))
    ours = grid["amplitude"].sel(population="E", harmonic=1).values.ravel()
    ours_r0 = grid["mean_rate"].sel(population="E").values.ravel()
    # relative to each quantity's largest value over the grid (r0 crosses zero)
    deviation = max(float(np.max(np.abs(amplitude - ours)) / np.max(np.abs(ours))),
                    float(np.max(np.abs(r0 - ours_r0)) / np.max(np.abs(ours_r0))))
    return elapsed, float(durations.max()), deviation


def bench_dask(model, sweep):
    from distributed import Client, LocalCluster

    result, with_startup = timed(run_sweep, model, GRID, measure="response", executor="dask",
                                 n_workers=2, progress=False)
    identical = result.identical(sweep)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        client.run(_numba_threads, 1)
        run_sweep(model, {ALPHA: [0.0, 1.0], FREQ: [5.0]}, measure="response",
                  executor="dask", scheduler=client, progress=False)  # warm the workers
        result, running = timed(run_sweep, model, GRID, measure="response", executor="dask",
                                scheduler=client, progress=False)
        identical &= result.identical(sweep)
    finally:
        client.close()
        cluster.close()
    return with_startup, running, identical


def _numba_threads(n):
    import numba

    numba.set_num_threads(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-loop", action="store_true",
                        help="time every individual simulate call (slow)")
    parser.add_argument("--skip-brian2", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-fixed", action="store_true",
                        help="skip the fixed-duration sweep (e)")
    args = parser.parse_args()
    model = load_model(MODEL)
    import numba

    print(f"grid: 21 alpha x 31 freq (0.1-1000 Hz, log) x 5 I0 = 3255 points; single "
          f"leaky-ReLU neuron, tau 10 ms, dt {model.simulation.dt:g} s; numba threads "
          f"{numba.get_num_threads()}, BLAS/OpenMP threads 1")
    sweep, t_local = bench_local(model)
    n = sweep.attrs["n_points"]
    steps = float(np.sum(np.rint(sweep["duration"].values / model.simulation.dt)))
    print(f"(a) per-point durations: {sweep.attrs['duration_rule']}; "
          f"{steps:.3g} neuron-steps in all, {sweep.attrs['n_chunks']} chunks")
    rows = [("(a) run_sweep, local executor", t_local, "")]

    t_loop, extrapolated, deviation = bench_loop(model, sweep, args.full_loop)
    note = "extrapolated from 93 calls (3 per frequency)" if extrapolated else "all calls"
    note += f"; max |dA1| vs sweep {deviation:.1g} Hz"
    rows.append(("(b) loop of simulate calls", t_loop, note))

    if not args.skip_brian2:
        t_brian, brian_duration, deviation = bench_brian2(model, sweep)
        rows.append(("(c) Brian2, one NeuronGroup", t_brian,
                     f"{brian_duration:g} s for all neurons, harmonic 1 only; "
                     f"r0, A1 agree to {deviation:.1g} of their range"))
    if not args.skip_dask:
        t_startup, t_running, identical = bench_dask(model, sweep)
        same = "identical to (a)" if identical else "DIFFERS from (a)"
        rows.append(("(d) Dask, 2 workers, with start-up", t_startup, same))
        rows.append(("(d) Dask, 2 workers, running cluster", t_running, same))
    if not args.skip_fixed:
        transient = sweep.attrs["transient"]
        fixed = transient + max(3 / 0.1, transient)
        _, t_fixed = timed(run_sweep, model, GRID, measure="response", duration=fixed,
                           progress=False)
        rows.append(("(e) run_sweep, one duration for all", t_fixed,
                     f"{fixed:g} s per point"))

    print(f"\n{'method':<38} {'time (s)':>9} {'points/s':>10} {'vs (a)':>8}  notes")
    for name, seconds, note in rows:
        print(f"{name:<38} {seconds:>9.2f} {n / seconds:>10.0f} {seconds / t_local:>7.1f}x"
              f"  {note}")


if __name__ == "__main__":
    main()
