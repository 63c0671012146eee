"""Frequency-response grid: 31 frequencies x 21 leak slopes, three ways, one run.

(a) exact theory, ONE vectorised ``sinusoid_response`` call over the whole grid;
(b) simulation, ONE batched ``simulate`` call (651 copies, streaming harmonics);
(c) a loop of single-point simulations (what a user would otherwise write), timed on a
    subset and extrapolated per point (stated).

Leaky ReLU (gain 10 Hz, threshold 0), rate form, tau = 10 ms, I0 = 0.2, I1 = 1, dt = 0.1 ms,
transient 0.1 s plus 5 periods of the lowest frequency. Compile time excluded (warm-up);
Numba threads fixed. Run by hand:

    .venv/bin/python benchmarks/bench_response.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurorect import Drive, LeakyReLU, simulate, single_population  # noqa: E402
from neurorect.theory import sinusoid_response  # noqa: E402

FREQS = np.geomspace(1.0, 1000.0, 31)
ALPHAS = np.linspace(0.0, 1.0, 21)
TAU, I0, I1, DT = 0.01, 0.2, 1.0, 1e-4
TRANSIENT = 0.1
DURATION = TRANSIENT + 5 / FREQS.min()


def model():
    return single_population(LeakyReLU(10.0, 0.0, 0.1), tau=TAU,
                             drive=Drive(I0=I0, I1=I1, freq=10.0), dt=DT, duration=DURATION,
                             transient=TRANSIENT, record="none", n_harmonics=3)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    numba.set_num_threads(2)
    alpha_grid, freq_grid = np.meshgrid(ALPHAS, FREQS, indexing="ij")
    batch = {"populations.E.transfer.alpha": alpha_grid.ravel(),
             "drives.E.freq": freq_grid.ravel()}
    base = model()
    sinusoid_response(LeakyReLU(10.0, 0.0), I0, I1, FREQS[:2], tau=TAU, form="rate",
                      alpha=ALPHAS[:2])
    simulate(base, duration=0.01, transient=0.0, batch=batch)  # compile

    t_exact, exact = timed(lambda: sinusoid_response(LeakyReLU(10.0, 0.0), I0, I1, FREQS,
                                                     tau=TAU, form="rate", alpha=ALPHAS))
    t_batch, batched = timed(lambda: simulate(base, batch=batch, progress=False))
    subset = np.random.default_rng(0).choice(alpha_grid.size, 24, replace=False)

    def loop():
        out = []
        for index in subset:
            one = base.with_values({"populations.E.transfer.alpha": alpha_grid.ravel()[index],
                                    "drives.E.freq": freq_grid.ravel()[index]})
            out.append(simulate(one, progress=False))
        return out

    t_subset, singles = timed(loop)
    t_loop = t_subset / subset.size * alpha_grid.size

    amplitude = batched.amplitude.sel(harmonic=1).values[:, 0].reshape(alpha_grid.shape)
    phase = batched.phase.sel(harmonic=1).values[:, 0].reshape(alpha_grid.shape)
    exact_a = exact.amplitude.sel(harmonic=1).transpose("alpha", "freq").values
    exact_p = exact.phase.sel(harmonic=1).transpose("alpha", "freq").values
    simulated = amplitude * np.exp(1j * phase)
    reference = exact_a * np.exp(1j * exact_p)
    error = np.max(np.abs(simulated - reference)) / np.max(np.abs(reference))
    same = all(np.array_equal(single.amplitude.values[0],
                              batched.amplitude.values[index, 0])
               for single, index in zip(singles, subset, strict=True))

    points = alpha_grid.size
    print(f"grid: {ALPHAS.size} alpha x {FREQS.size} freq = {points} points; "
          f"{DURATION:g} s simulated per point at dt = {DT:g} s "
          f"({int(round(DURATION / DT))} steps); Numba threads 2")
    print(f"{'method':<46}{'time (s)':>10}{'points/s':>12}{'vs loop':>10}")
    rows = [("(a) exact theory, one vectorised call", t_exact),
            ("(b) simulation, one batched call", t_batch),
            (f"(c) loop of single simulations (from {subset.size})", t_loop)]
    for name, seconds in rows:
        print(f"{name:<46}{seconds:>10.4f}{points / seconds:>12.0f}"
              f"{t_loop / seconds:>9.0f}x")
    print(f"max |simulated - exact| / max |exact| over the grid (first harmonic): {error:.2e}"
          " (O(dt^2) integrator error)")
    print(f"loop points equal their batch elements bit for bit: {same}")


if __name__ == "__main__":
    main()
