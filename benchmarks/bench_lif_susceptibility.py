"""Benchmark: vectorised LIF susceptibility versus the arbitrary-precision scalar loop.

``neurorect.lif.susceptibility`` (threshold integration, numpy, one call for the whole grid) on
a 100-frequency (log 1 Hz..10 kHz) x 50-mu grid, against ``susceptibility_reference`` (mpmath
parabolic cylinder functions, one scalar call per point), which is timed on a subset and
extrapolated per point. Both are single-threaded: the thread variables below are fixed before
numpy is imported (numba is not used by neurorect.lif; NUMBA_NUM_THREADS is fixed anyway so
the statement holds for the whole process).

Run: ``/work/venv/bin/python benchmarks/bench_lif_susceptibility.py``
"""

from __future__ import annotations

import os

THREADS = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}
os.environ.update(THREADS)

import platform  # noqa: E402
import time  # noqa: E402

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402

from neurorect import lif  # noqa: E402

PARAMS = {"tau_m": 0.02, "v_th": 0.02, "v_reset": 0.01, "t_ref": 0.002}  # s, V, V, s
SIGMA = 0.005  # V
N_FREQ, N_MU, N_SUBSET, REPEATS = 100, 50, 20, 3


def best_of(func, repeats: int) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls (the machine is shared) and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    freqs = np.logspace(0.0, 4.0, N_FREQ)  # Hz
    mus = np.linspace(0.005, 0.030, N_MU)  # V: sub- to supra-threshold
    n_grid = N_FREQ * N_MU

    t_vec, chi = best_of(
        lambda: lif.susceptibility(freqs[:, None], mus[None, :], SIGMA, **PARAMS), REPEATS
    )

    # subset spread over the whole grid, always including both frequency ends
    rng = np.random.default_rng(0)
    fi = np.concatenate([[0, N_FREQ - 1], rng.integers(0, N_FREQ, N_SUBSET - 2)])
    mi = rng.integers(0, N_MU, N_SUBSET)
    t0 = time.perf_counter()
    ref = np.array(
        [
            lif.susceptibility_reference(freqs[i], mus[j], SIGMA, **PARAMS)
            for i, j in zip(fi, mi, strict=True)
        ]
    )
    t_ref_subset = time.perf_counter() - t0
    rel = np.abs(chi[fi, mi] / ref - 1.0)

    per_ref = t_ref_subset / N_SUBSET
    per_vec = t_vec / n_grid
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"mpmath {mpmath.__version__}, os.cpu_count() = {os.cpu_count()}"
    )
    print("threads: " + ", ".join(f"{k}={v}" for k, v in THREADS.items()))
    print(
        f"grid: {N_FREQ} freqs (log 1 Hz..10 kHz) x {N_MU} mu (5..30 mV), sigma = 5 mV, "
        "tau_m = 20 ms, v_th = 20 mV, v_reset = 10 mV, t_ref = 2 ms"
    )
    print()
    header = f"{'method':<44}{'points':>8}{'time [s]':>12}{'per point [ms]':>16}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    print(
        f"{'susceptibility (vectorised, best of 3)':<44}{n_grid:>8}{t_vec:>12.3f}"
        f"{1e3 * per_vec:>16.4f}{per_ref / per_vec:>9.0f}x"
    )
    print(
        f"{'susceptibility_reference (mpmath, measured)':<44}{N_SUBSET:>8}{t_ref_subset:>12.3f}"
        f"{1e3 * per_ref:>16.4f}{'1x':>10}"
    )
    print(
        f"{'susceptibility_reference (extrapolated)':<44}{n_grid:>8}{per_ref * n_grid:>12.1f}"
        f"{1e3 * per_ref:>16.4f}{'1x':>10}"
    )
    print()
    print(
        f"max |chi_vec / chi_ref - 1| on the {N_SUBSET}-point subset: {rel.max():.2e} "
        f"(median {np.median(rel):.2e})"
    )


if __name__ == "__main__":
    main()
