"""Engine benchmark: neurorect vs a vectorised NumPy loop vs Brian2 (runtime Cython), one run.

W1: 10,000 independent leaky-ReLU rate neurons, each with its own alpha and drive frequency,
    20,000 steps of 0.1 ms, streaming mean and first harmonic (no trace memory); timed
    interleaved with the hand-tuned reference kernel ``ceiling_w1`` (imported from
    ``../shared/perf`` or ``$NEURORECT_PERF_DIR`` when present; its row is skipped
    otherwise), at 1 and 2 threads, as the ratio neurorect / reference throughput.
W2: dense random network (rate form, leaky ReLU, Gaussian coupling g/sqrt(N)), N = 1000 and
    4000, 10,000 steps; compared with the bare ``W @ r`` product at the same N.

Compile time is excluded everywhere (warm-up runs first). Threads are fixed: BLAS to one
thread; neurorect's Numba kernels at 1 and at 2 threads (stated per row). Run by hand:

    .venv/bin/python benchmarks/bench_engine.py [--quick] [--no-brian2] [--neurorect-only]
        [--only w1|w2]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurorect import Connection, Drive, LeakyReLU, simulate, single_population  # noqa: E402

DT = 1e-4
TAU = 0.01
GAIN, THRESHOLD, I0, I1 = 10.0, 0.0, 0.2, 1.0


def best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls (s): the least disturbed by other load."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ----------------------------------------------------------------------------- W1
def w1_inputs(n: int):
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 1.0, n), rng.uniform(1.0, 100.0, n)


def w1_neurorect(alphas, freqs, n_steps):
    model = single_population(LeakyReLU(GAIN, THRESHOLD, 0.1), tau=TAU,
                              drive=Drive(I0=I0, I1=I1, freq=5.0), dt=DT,
                              duration=n_steps * DT, transient=0.0, record="none",
                              n_harmonics=1)
    batch = {"populations.E.transfer.alpha": alphas, "drives.E.freq": freqs}
    return lambda: simulate(model, batch=batch, progress=False)


def w1_numpy(alphas, freqs, n_steps):
    def run():
        a = np.exp(-DT / TAU)
        rotation = np.exp(2j * np.pi * freqs * DT)
        z = np.ones_like(rotation)
        rate = np.zeros_like(alphas)
        mean_sum = np.zeros_like(alphas)
        first_sum = np.zeros_like(rotation)
        for _ in range(n_steps):
            mean_sum += rate
            first_sum += rate * z.conjugate()
            u = I0 + I1 * z.imag - THRESHOLD
            rate = a * rate + (1 - a) * GAIN * np.maximum(u, alphas * u)
            z *= rotation
        return mean_sum, first_sum
    return run


def w1_brian2(alphas, freqs, n_steps):
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    equations = """
    dr/dt = (-r + phi) / tau : Hz
    phi = gain * (int(u >= 0) * u + int(u < 0) * alpha * u) : Hz
    u = I0 + I1 * sin(2 * pi * f * t) - threshold : 1
    dmean_sum/dt = r : 1
    dcos_sum/dt = r * cos(2 * pi * f * t) : 1
    dsin_sum/dt = r * sin(2 * pi * f * t) : 1
    alpha : 1 (constant)
    f : Hz (constant)
    """
    namespace = {"tau": TAU * b2.second, "gain": GAIN * b2.Hz, "I0": I0, "I1": I1,
                 "threshold": THRESHOLD}

    def build():
        group = b2.NeuronGroup(alphas.size, equations, method="euler", dt=DT * b2.second,
                               namespace=namespace)
        group.alpha = alphas
        group.f = freqs * b2.Hz
        return b2.Network(group)

    build().run(10 * DT * b2.second)  # compile (cached afterwards)
    network = build()
    return lambda: network.run(n_steps * DT * b2.second)


# ----------------------------------------------------------------------------- W2
def w2_model(n: int, n_steps: int):
    model = single_population(LeakyReLU(1.0, 0.0, 0.1), tau=TAU, size=n,
                              drive=Drive(I0=1.0, I1=0.5, freq=10.0), dt=DT,
                              duration=n_steps * DT, transient=0.0, record="none")
    return model.replace(connections=(Connection("EE", "E", "E", kind="gaussian", g=0.5,
                                                 seed=1),))


def w2_neurorect(n, n_steps):
    model = w2_model(n, n_steps)
    return lambda: simulate(model, progress=False, coupling="dense")


def w2_matvec(n, n_steps):
    W = np.ascontiguousarray(w2_model(n, 10).coupling_matrix())
    r = np.random.default_rng(0).random(n)

    def run():
        for _ in range(n_steps):
            W @ r
    return run


def w2_numpy(n, n_steps):
    W = np.ascontiguousarray(w2_model(n, 10).coupling_matrix())
    freq = 10.0

    def run():
        a = np.exp(-DT / TAU)
        rate = np.zeros(n)
        for step in range(n_steps):
            u = W @ rate + 1.0 + 0.5 * np.sin(2 * np.pi * freq * step * DT)
            rate = a * rate + (1 - a) * np.maximum(u, 0.1 * u)
        return rate
    return run


def w2_brian2(n, n_steps):
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    W = w2_model(n, 10).coupling_matrix()
    post, pre = np.nonzero(W)
    namespace = {"tau": TAU * b2.second, "freq": 10 * b2.Hz}

    def build():
        group = b2.NeuronGroup(n, """
            dr/dt = (-r + (int(u >= 0) * u + int(u < 0) * 0.1 * u) * Hz) / tau : Hz
            u = recurrent + 1.0 + 0.5 * sin(2 * pi * freq * t) : 1
            recurrent : 1
            """, method="euler", dt=DT * b2.second, namespace=namespace)
        synapses = b2.Synapses(group, group, "w : 1\nrecurrent_post = w * r_pre / Hz : 1 "
                               "(summed)", dt=DT * b2.second, namespace=namespace)
        synapses.connect(i=pre, j=post)
        synapses.w = W[post, pre]
        return b2.Network(group, synapses)

    build().run(10 * DT * b2.second)
    network = build()
    return lambda: network.run(n_steps * DT * b2.second)


def reference_kernel():
    """``ceiling_w1.ceiling`` from the shared perf folder, or None when it is absent."""
    root = Path(__file__).resolve().parents[1]
    candidates = [os.environ.get("NEURORECT_PERF_DIR", ""), root.parent / "shared" / "perf",
                  root.parent.parent / "shared" / "perf"]
    for folder in candidates:
        if folder and (Path(folder) / "ceiling_w1.py").is_file():
            sys.path.insert(0, str(folder))
            from ceiling_w1 import ceiling
            return ceiling
    return None


def interleaved(runs: dict, repeats: int) -> dict:
    """Median wall time (s) of each callable, the calls interleaved (a burst of load from
    other processes then hits every row alike), after one warm-up call each."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def report_w1(scale: int, repeats: int, *, baselines: bool, brian2: bool) -> None:
    """Time W1 (neurorect interleaved with the reference kernel) and print its table."""
    n_neurons, n_steps = 10_000, 20_000 // scale
    alphas, freqs = w1_inputs(n_neurons)
    work = n_neurons * n_steps
    ceiling = reference_kernel()
    out = np.empty((3, n_neurons))
    rows = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        runs = {"neurorect": w1_neurorect(alphas, freqs, n_steps)}
        if ceiling is not None:
            runs["reference"] = lambda: ceiling(alphas, 2 * np.pi * freqs, n_steps, DT, TAU,
                                                GAIN, THRESHOLD, I0, I1, out)
        times = interleaved(runs, repeats)
        suffix = f"({threads} thread{'s' if threads > 1 else ''})"
        ratio = times["reference"] / times["neurorect"] if ceiling is not None else None
        rows.append((f"neurorect simulate {suffix}", times["neurorect"], ratio))
        if ceiling is not None:
            rows.append((f"reference ceiling_w1 {suffix}", times["reference"], 1.0))
    numba.set_num_threads(1)
    if baselines:
        rows.append(("NumPy vectorised loop (1 thread)",
                     best_of(w1_numpy(alphas, freqs, n_steps), 1), None))
    if brian2:
        rows.append(("Brian2 runtime Cython (1 thread)",
                     best_of(w1_brian2(alphas, freqs, n_steps // 4), 1) * 4, None))
    reference = rows[0][1]
    print(f"\nW1: {n_neurons} independent leaky-ReLU neurons x {n_steps} steps, streaming "
          f"mean + first harmonic (medians of {repeats}, interleaved)")
    print(f"{'implementation':<36}{'time (s)':>10}{'M neuron-steps/s':>18}"
          f"{'vs neurorect 1 thr':>20}{'vs reference':>14}")
    for name, seconds, ratio in rows:
        versus = f"{ratio:>13.2f}x" if ratio is not None else f"{'':>14}"
        print(f"{name:<36}{seconds:>10.3f}{work / seconds / 1e6:>18.1f}"
              f"{seconds / reference:>19.2f}x{versus}")
    if ceiling is None:
        print("(reference kernel rows skipped: ../shared/perf/ceiling_w1.py not found)")
    if brian2:
        print("(Brian2 timed over a quarter of the steps and scaled: its cost is linear in "
              "steps)")


def report_w2(scale: int, repeats: int, *, baselines: bool, brian2: bool) -> None:
    """Time W2 and print its table (NaN where a baseline is skipped)."""
    steps = 10_000 // scale
    print(f"\nW2: dense random network, {steps} steps, per-step times (ms)")
    print(f"{'N':>6}{'bare W @ r':>12}{'neurorect 1t':>14}{'neurorect 2t':>14}"
          f"{'NumPy loop':>12}{'Brian2':>10}{'neurorect/W@r':>15}")
    nan = float("nan")
    for n in (1000, 4000):
        times = {"matvec": best_of(w2_matvec(n, steps), repeats) / steps if baselines else nan}
        for threads in (1, 2):
            numba.set_num_threads(threads)
            run = w2_neurorect(n, steps)
            run()
            times[f"nr{threads}"] = best_of(run, repeats) / steps
        numba.set_num_threads(1)
        times["numpy"] = best_of(w2_numpy(n, steps), 1) / steps if baselines else nan
        brian = nan
        if brian2 and n == 1000:
            brian_steps = max(steps // 10, 100)
            brian = best_of(w2_brian2(n, brian_steps), 1) / brian_steps
        print(f"{n:>6}{times['matvec'] * 1e3:>12.4f}{times['nr1'] * 1e3:>14.4f}"
              f"{times['nr2'] * 1e3:>14.4f}{times['numpy'] * 1e3:>12.4f}{brian * 1e3:>10.4f}"
              f"{times['nr1'] / times['matvec']:>14.2f}x")
    if brian2:
        print("(Brian2 W2 only at N = 1000, timed over a tenth of the steps: its synapse loop "
              "over N^2 = 16M synapses at N = 4000 would take minutes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps (smoke test)")
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--neurorect-only", action="store_true",
                        help="time neurorect alone (no NumPy, W @ r or Brian2 baselines): "
                             "for before/after comparisons of the engine")
    parser.add_argument("--only", choices=("w1", "w2"), help="run one workload")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    baselines = not args.neurorect_only
    brian2 = baselines and not args.no_brian2
    print(f"numba {numba.__version__}, numpy {np.__version__}, BLAS threads 1, "
          f"cores {os.cpu_count()}")
    if args.only != "w2":
        report_w1(scale, 3 if args.quick else 7, baselines=baselines, brian2=brian2)
    if args.only != "w1":
        report_w2(scale, 3, baselines=baselines, brian2=brian2)


if __name__ == "__main__":
    main()
