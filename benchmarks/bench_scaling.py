"""Scaling of the uncoupled path: cost vs units, steps and harmonics; peak memory per unit.

Workload W1 (independent leaky-ReLU units, own alpha and drive frequency each, 0.1 ms steps,
streaming statistics, no recording), through the public ``simulate``, compile excluded,
medians of interleaved repeats. Each table holds two of (units, steps, harmonics) fixed:

* units 1e3 .. 1e6 at 2,000 steps: ns per neuron-step and the share of the fixed cost
  (planning, the least-squares fit of the statistics, the Dataset), seen at small work;
* steps 500 .. 50,000 at 10,000 units;
* harmonics 1 .. 8 at 10,000 units x 10,000 steps (K > 1 buffers each group of steps'
  rates and phasors, then adds the powers zm^k in a second pass);
* peak memory per unit (tracemalloc, which sees NumPy's allocations) at 1e5 units;
* the least-squares fit of the statistics alone, 1e4 windows of 2-6 periods, K = 1, 3, 8:
  the parallel kernel ``kernels.window_fit.fit_windows`` (what ``simulate`` uses for such
  windows) against the NumPy reference ``fourier.harmonics_from_sums``, interleaved.

    .venv/bin/python benchmarks/bench_scaling.py [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurorect import Drive, LeakyReLU, simulate, single_population  # noqa: E402

DT = 1e-4


def w1(n_units: int, n_steps: int, n_harmonics: int = 1):
    """simulate() of W1 at this size (the frequencies span 10-100 Hz: every unit has a whole
    period in the shortest run timed here)."""
    rng = np.random.default_rng(0)
    batch = {"populations.E.transfer.alpha": rng.uniform(0.0, 1.0, n_units),
             "drives.E.freq": rng.uniform(20.0, 100.0, n_units)}
    model = single_population(LeakyReLU(10.0, 0.0, 0.1), tau=0.01,
                              drive=Drive(I0=0.2, I1=1.0, freq=5.0), dt=DT,
                              duration=n_steps * DT, transient=0.0, record="none",
                              n_harmonics=n_harmonics)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # harmonics above Nyquist: NaN, said once
            simulate(model, batch=batch, progress=False)
    return run


def median_time(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def table(title: str, label: str, rows, repeats: int) -> None:
    print(f"\n{title}")
    print(f"{label:>10}{'time (s)':>11}{'ns / neuron-step':>18}{'M neuron-steps/s':>18}")
    for value, (n_units, n_steps, n_harmonics) in rows:
        seconds = median_time(w1(n_units, n_steps, n_harmonics), repeats)
        work = n_units * n_steps
        print(f"{value:>10}{seconds:>11.4f}{seconds / work * 1e9:>18.3f}"
              f"{work / seconds / 1e6:>18.1f}")


def peak_memory(n_units: int, n_steps: int) -> float:
    """Peak bytes allocated (NumPy arrays included) during one run, per unit."""
    run = w1(n_units, n_steps)
    run()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / n_units


def fit_table(repeats: int) -> None:
    """The statistics fit of 1e4 windows: parallel kernel vs NumPy reference, interleaved."""
    from neurorect.fourier import harmonics_from_sums
    from neurorect.kernels.window_fit import fit_windows

    print("\nstatistics fit of 10,000 windows of 2-6 periods (ms per call; kernel on "
          f"{numba.get_num_threads()} threads)")
    print(f"{'harmonics':>10}{'NumPy ref':>11}{'kernel':>9}{'speed-up':>10}")
    rng = np.random.default_rng(1)
    n = 10_000
    for K in (1, 3, 8):
        freq = rng.uniform(1.0, 100.0, n)
        count = np.floor(rng.uniform(2.0 + 0.6 * K, 6.0 + 0.6 * K, n) / (freq * DT))
        start = np.zeros(n)
        theta = rng.uniform(-np.pi, np.pi, n)
        acc = (rng.normal(size=(n, K + 1)) + 1j * rng.normal(size=(n, K + 1))) * count[:, None]
        outs = (np.empty_like(acc), np.empty(n, dtype=np.int64), np.empty(n),
                np.empty((n, K)), np.empty((n, K)), np.empty(n, dtype=bool))

        def kernel(acc=acc, theta=theta, freq=freq, count=count, start=start, outs=outs):
            fit_windows(acc, theta, freq, start, count, DT, *outs)

        def reference(acc=acc, theta=theta, freq=freq, count=count, start=start, K=K):
            undone = acc * np.exp(1j * np.arange(K + 1) * theta[:, None])
            harmonics_from_sums(undone, count, freq=freq, dt=DT, start=start)

        kernel()
        reference()
        times: dict[str, list[float]] = {"kernel": [], "reference": []}
        for _ in range(max(5, 3 * repeats)):
            for name, run in (("kernel", kernel), ("reference", reference)):
                begin = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - begin)
        ours, theirs = (float(np.median(times[k])) * 1e3 for k in ("kernel", "reference"))
        print(f"{K:>10}{theirs:>11.2f}{ours:>9.2f}{theirs / ours:>9.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    threads = numba.get_num_threads()
    print(f"numba {numba.__version__}, numpy {np.__version__}, {threads} Numba threads")
    units = (1_000, 10_000, 100_000) if args.quick else (1_000, 10_000, 100_000, 1_000_000)
    table("cost vs units (2,000 steps, 1 harmonic)", "units",
          [(n, (n, 2000, 1)) for n in units], repeats)
    steps = (500, 5_000) if args.quick else (500, 2_000, 10_000, 50_000)
    table("cost vs steps (10,000 units, 1 harmonic)", "steps",
          [(s, (10_000, s, 1)) for s in steps], repeats)
    harmonics = (1, 4) if args.quick else (1, 2, 4, 8)
    table("cost vs harmonics (10,000 units x 10,000 steps)", "harmonics",
          [(k, (10_000, 10_000, k)) for k in harmonics], repeats)
    print(f"\npeak memory: {peak_memory(100_000, 500):.0f} bytes per unit (1e5 units, "
          "no recording)")
    fit_table(repeats)


if __name__ == "__main__":
    main()
