"""Noise benchmark: noisy uncoupled simulation vs NumPy drawing the same number of normals.

W1 with input noise: 10,000 independent leaky-ReLU rate neurons (own alpha and drive
frequency each), 0.1 ms steps, streaming mean and first harmonic, plus OU input noise
(tau_noise = 5 ms) or white noise: every neuron-step draws one standard normal from
neurorect's counter-based generator (Philox4x32-10 keyed by seed, neuron and step; a
vectorised Box-Muller transform). The yardstick is the rate at which NumPy's
``Generator(PCG64).standard_normal`` fills a preallocated buffer (1e6 normals per call), on
one thread, in the same process, interleaved. The ratio is neurorect's neuron-steps per
second per thread over NumPy's normals per second: above 1, a noisy simulation runs faster
than NumPy could merely draw its noise. Compile time is excluded (warm-up calls first).

    .venv/bin/python benchmarks/bench_noise.py [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from bench_engine import interleaved  # noqa: E402  (this folder: the one timing loop)

from neurorect import Drive, LeakyReLU, Noise, simulate, single_population  # noqa: E402

DT, TAU = 1e-4, 0.01
N_NEURONS = 10_000


def noisy_run(kind: str | None, n_steps: int):
    """simulate() of W1 with ``kind`` noise (None: noise-free)."""
    rng = np.random.default_rng(0)
    batch = {"populations.E.transfer.alpha": rng.uniform(0.0, 1.0, N_NEURONS),
             "drives.E.freq": rng.uniform(1.0, 100.0, N_NEURONS)}
    noise = None if kind is None else Noise(kind=kind, sigma=0.3,
                                            tau=0.005 if kind == "ou" else 0.0)
    model = single_population(LeakyReLU(10.0, 0.0, 0.1), tau=TAU,
                              drive=Drive(I0=0.2, I1=1.0, freq=5.0, noise=noise), dt=DT,
                              duration=n_steps * DT, transient=0.0, record="none",
                              n_harmonics=1)
    return lambda: simulate(model, batch=batch, progress=False)


def numpy_normals(count: int):
    generator = np.random.Generator(np.random.PCG64(1))
    buffer = np.empty(1_000_000)

    def run():
        for _ in range(count // buffer.size):
            generator.standard_normal(out=buffer)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args()
    n_steps, repeats = (1000, 3) if args.quick else (5000, 7)
    work = N_NEURONS * n_steps
    print(f"numba {numba.__version__}, numpy {np.__version__}, cores {os.cpu_count()}; "
          f"W1 with noise: {N_NEURONS} neurons x {n_steps} steps, medians of {repeats}, "
          "interleaved")
    print(f"{'implementation':<40}{'threads':>8}{'M/s':>10}{'M/s per thread':>16}"
          f"{'vs NumPy':>10}")
    for threads in (1, 2):
        numba.set_num_threads(threads)
        runs = {"NumPy PCG64 standard_normal (normals)": numpy_normals(work),
                "neurorect noise-free (neuron-steps)": noisy_run(None, n_steps),
                "neurorect OU noise (neuron-steps)": noisy_run("ou", n_steps),
                "neurorect white noise (neuron-steps)": noisy_run("white", n_steps)}
        times = interleaved(runs, repeats)  # medians, the rows interleaved
        numpy_rate = work / times["NumPy PCG64 standard_normal (normals)"]
        for name, median in times.items():
            numpy_row = name.startswith("NumPy")
            used = 1 if numpy_row else threads  # NumPy's generator runs on one thread
            rate = work / median
            print(f"{name:<40}{used:>8}{rate / 1e6:>10.1f}{rate / used / 1e6:>16.1f}"
                  f"{rate / used / numpy_rate:>9.2f}x")
    print("(per-thread ratio: neurorect's neuron-steps/s per thread over NumPy's normals/s "
          "on one thread; the machine may be shared: ratios, not absolute figures, carry)")


if __name__ == "__main__":
    main()
