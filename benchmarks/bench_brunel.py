"""Brunel's model A: Brian2 runtime Cython vs C++ standalone (1 and 2 OpenMP threads), per
simulated second, and the matched rate network's cost for the same simulated time.

Side by side in one process, interleaved (cython, cpp 1 thread, cpp 2 threads, rate network;
``--repeats`` rounds, the median of each), on the same network (same connectivity seed).
Compile times are reported apart and kept out of the ratios: the first Cython run of a
process and every C++ standalone build compile; the run time of a standalone run is the
device's own (code generation and the compiler excluded). The rate network is the model
file's (two one-unit populations), simulated by ``neurorect.simulate``; its theory
(fixed point, eigenvalues, response) and the mean field are timed too. Timings on a shared
machine are noisy: read the ratios.

    .venv/bin/python benchmarks/bench_brunel.py [--quick] [--duration 1.0] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from neurorect import lif
from neurorect.brian2_lif import simulate_network
from neurorect.crossval.matched import rate_network_theory
from neurorect.driver import simulate
from neurorect.modelfile import load_model

MODEL = Path(__file__).resolve().parents[1] / "models" / "brunel_ai.toml"


def brian2_once(model, duration: float, target: str, threads: int = 1) -> dict[str, float]:
    started = time.perf_counter()
    ds = simulate_network(model, duration, transient=min(0.1, duration / 2), target=target,
                          threads=threads, record_spikes=False, progress=False)
    return {"run": float(ds.attrs["run_time"]), "build": float(ds.attrs["build_time"]),
            "wall": time.perf_counter() - started, "rate": float(ds["r0"].mean())}


def rate_once(model, duration: float) -> float:
    started = time.perf_counter()
    simulate(model, duration, transient=0.0, record="none", progress=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.2 s simulated, one round")
    parser.add_argument("--duration", type=float, default=1.0, help="simulated time, s")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    args = parser.parse_args()
    duration = 0.2 if args.quick else args.duration
    repeats = 1 if args.quick else args.repeats
    model = load_model(MODEL)
    print(f"model A: {model.lif_network.N_E} + {model.lif_network.N_I} LIF neurons, "
          f"{model.lif_network.C_E + model.lif_network.C_I} inputs each, dt "
          f"{model.lif_network.dt * 1e3:g} ms; {duration:g} s simulated per run, "
          f"{repeats} round(s)")
    warm = brian2_once(model, min(duration, 0.05), "cython")  # Cython compile (cached)
    rate_once(model, 0.01)  # Numba compile
    print(f"warm-up (compiles): cython wall {warm['wall']:.1f} s")
    targets = [("cython", "cython", 1), ("cpp 1 thread", "cpp_standalone", 1),
               ("cpp 2 threads", "cpp_standalone", 2)]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in targets}
    rate_times: list[float] = []
    for _ in range(repeats):
        for name, target, threads in targets:
            results[name].append(brian2_once(model, duration, target, threads))
        rate_times.append(rate_once(model, duration))
    base = statistics.median(r["run"] for r in results["cython"]) / duration
    print(f"\n{'engine':>16} | {'s per sim. s':>12} | {'vs cython':>9} | {'build/compile s':>15} "
          f"| {'rate (Hz)':>9}")
    for name, runs in results.items():
        per_second = statistics.median(r["run"] for r in runs) / duration
        build = statistics.median(r["build"] for r in runs)
        rate = statistics.median(r["rate"] for r in runs)
        print(f"{name:>16} | {per_second:12.3f} | {base / per_second:8.2f}x | {build:15.1f} | "
              f"{rate:9.2f}")
    rate_per_second = statistics.median(rate_times) / duration
    print(f"{'rate network':>16} | {rate_per_second:12.5f} | {base / rate_per_second:8.0f}x | "
          f"{'-':>15} | {'-':>9}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        rate_network_theory(model, np.geomspace(1.0, 300.0, 30), delay=2.5e-3)
        theory_time = time.perf_counter() - started
        started = time.perf_counter()
        lif.mean_field(model, freqs=np.geomspace(1.0, 300.0, 30))
        mean_field_time = time.perf_counter() - started
    print(f"\nrate-network theory (fixed point, eigenvalues, 30 frequencies): {theory_time:.3f} s;"
          f" mean field of model A (rate, eigenvalues, 30 frequencies): {mean_field_time:.2f} s")


if __name__ == "__main__":
    main()
