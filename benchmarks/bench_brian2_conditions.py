"""Benchmark: all conditions in ONE Brian2 NeuronGroup vs one Brian2 run per condition.

The same LIF populations (Brunel convention, ``models/lif_matched.toml`` parameters), the same
drives (``mu0 + mu1 sin(2 pi f t)`` at C frequencies), the same number of neurons per
condition, duration, time step, threshold correction and code-generation target. The grouped
version is one call of :func:`neurorect.brian2_lif.simulate_lif` with C conditions; the
per-condition version is C calls with one condition each (what a user looping over a sweep
would write). Wall-clock times include network construction, the run and the spike analysis
(everything a call costs); code generation and compilation are excluded by a warm-up call of
each variant first (Cython modules are cached after it). Threads are fixed:
OMP_NUM_THREADS=1 and the runtime targets are single-threaded.

Run::

    OMP_NUM_THREADS=1 python benchmarks/bench_brian2_conditions.py [--neurons 100 500 2000]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from neurorect.brian2_lif import simulate_lif  # noqa: E402
from neurorect.spec import LIFNeuron  # noqa: E402


def _timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", type=int, default=20, help="number of frequencies")
    parser.add_argument("--neurons", type=int, nargs="+", default=[100, 500, 2000],
                        help="neurons per condition (one table row each)")
    parser.add_argument("--duration", type=float, default=1.0, help="simulated time, s")
    parser.add_argument("--dt", type=float, default=5e-5, help="time step, s")
    parser.add_argument("--target", default="cython", choices=("cython", "numpy"))
    parser.add_argument("--correction", default="bridge", choices=("bridge", "shift", "none"))
    args = parser.parse_args(argv)

    lif = LIFNeuron(tau_m=0.02, v_th=0.02, v_reset=0.01, t_ref=0.002, sigma=0.005, dt=args.dt)
    freqs = np.geomspace(2.0, 100.0, args.conditions)
    correction = None if args.correction == "none" else args.correction
    common = dict(transient=0.2, dt=args.dt, target=args.target,
                  threshold_correction=correction, seed=1)
    grouped_conditions = {"mu0": 0.015, "mu1": 0.001, "freq": freqs}

    def grouped(n):
        return simulate_lif(lif, args.duration, conditions=grouped_conditions, n_neurons=n,
                            **common)

    def separate(n):
        return [simulate_lif(lif, args.duration, n_neurons=n,
                             conditions={"mu0": 0.015, "mu1": 0.001, "freq": f}, **common)
                for f in freqs]

    # warm-up: generate and compile the code of both variants (not timed)
    simulate_lif(lif, 0.6, conditions=grouped_conditions, n_neurons=2,
                 **{**common, "transient": 0.0})
    simulate_lif(lif, 0.6, conditions={"mu0": 0.015, "mu1": 0.001, "freq": 10.0},
                 n_neurons=2, **{**common, "transient": 0.0})

    steps = int(round(args.duration / args.dt))
    print(f"{args.conditions} conditions (drive frequencies 2-100 Hz), {args.duration:g} s at "
          f"dt = {args.dt * 1e3:g} ms ({steps} steps), target {args.target}, threshold "
          f"correction {args.correction}, OMP_NUM_THREADS=1; times exclude compilation")
    header = (f"{'N/cond':>7} {'neurons':>8} | {'one group (s)':>13} {'run only':>9} | "
              f"{'per condition (s)':>17} {'run only':>9} | {'speed-up':>8} {'run only':>9}")
    print(header)
    print("-" * len(header))
    for n in args.neurons:
        t_group, one = _timed(lambda n=n: grouped(n))
        t_sep, many = _timed(lambda n=n: separate(n))
        run_group = one.attrs["run_time"]
        run_sep = sum(ds.attrs["run_time"] for ds in many)
        # same physics either way: the per-condition runs give the same rates (statistically)
        r_group = float(one["r0"].mean())
        r_sep = float(np.mean([float(ds["r0"][0]) for ds in many]))
        print(f"{n:>7} {n * args.conditions:>8} | {t_group:>13.2f} {run_group:>9.2f} | "
              f"{t_sep:>17.2f} {run_sep:>9.2f} | {t_sep / t_group:>7.1f}x "
              f"{run_sep / run_group:>8.1f}x   (mean r0 {r_group:.2f} vs {r_sep:.2f} Hz)",
              flush=True)


if __name__ == "__main__":
    main()
