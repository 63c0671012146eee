"""Network benchmark: the coupled engine against bare BLAS and scipy, and error against cost.

Part 1, speed (issue 11.4), CPU time per step (every path is single-threaded), measured
side by side in one process, interleaved (each round times every variant once; the best
round counts), BLAS pinned to one thread:

* dense: a random network (leaky ReLU, Gaussian coupling g/sqrt(N)) at N = 1000 and 4000,
  ``simulate`` (exp_ab2 and exp_euler, on the vectorised element-wise path that such a run
  takes) against a bare ``W @ r``, float64 and float32; and exp_ab2 forced onto the per-unit
  path (``run_network_general``), to show what the vectorised passes save;
* sparse: the same with a random sparse W (CSR) against scipy.sparse's CSR ``A @ r`` at the
  same density: the whole step, and neurorect's CSR loop alone (``channels.csr_rows``, the
  same sums in the same order: checked bit for bit against scipy's);
* batched: 16 copies of N = 1000 sharing W (one matrix-matrix product per step) against 16
  single runs, and the bare ``R @ W.T`` against 16 ``W @ r``.

neurorect's time per step is the CPU time spent inside its network kernel during a run of S
steps, divided by S: the kernel call is timed alone (``KernelClock``), so building the model,
planning and compilation are left out. (The difference of two whole runs, 2S and S steps,
was dominated by the set-up's scatter at N = 4000: it even came out negative in --quick.)

Part 2, error against cost (issue 14.4): the largest error relative to the largest
reference value, for exp_euler, exp_ab2, euler and rk4 over a range of dt; the wall time per
step and per simulated second; the dt (interpolated on the log-log error curve) and the cost
at which each method reaches 1e-3 and 1e-6. Problems: the linear E-I pair
(models/ei_pair.toml with alpha = 1; first harmonics against the exact closed form), the
rectified E-I pair (models/ei_pair.toml; first harmonics against RK4 at 2.5 us) and
models/random_network.toml without its noise (a noisy run's path changes with dt; the rates
of 100 neurons sampled every 0.4 ms against RK4 at a small dt, its own error printed).

Run by hand (a few minutes; ``--quick`` for a smoke run of about a minute):

    .venv/bin/python benchmarks/bench_network.py [--quick] [--part speed|accuracy]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import neurorect._chunks as _chunks  # noqa: E402
from neurorect import (  # noqa: E402
    Connection,
    Drive,
    LeakyReLU,
    NeurorectWarning,
    load_model,
    simulate,
    single_population,
)
from neurorect.kernels.channels import csr_rows  # noqa: E402
from neurorect.kernels.network import run_network_general  # noqa: E402

DT = 1e-4
METHODS = ("exp_euler", "exp_ab2", "euler", "rk4")


# ------------------------------------------------------------------------------ speed
def network(n: int, steps: int, *, kind: str = "gaussian", probability: float = 1.0,
            method: str = "exp_ab2"):
    """The W2 random network: N leaky-ReLU rate units, a 10 Hz drive, no recording."""
    model = single_population(LeakyReLU(1.0, 0.0, 0.1), tau=0.01, size=n,
                              drive=Drive(I0=1.0, I1=0.5, freq=10.0), dt=DT,
                              duration=steps * DT, transient=0.0, record="none",
                              method=method)
    weight = 0.0 if kind == "gaussian" else 0.5 / (n * probability)
    return model.replace(connections=(Connection("EE", "E", "E", kind=kind, g=0.5,
                                                 weight=weight, probability=probability,
                                                 seed=1),))


class KernelClock:
    """CPU time (s) spent inside the network kernel since the last ``reset``: wraps the
    engine's one call site of ``run_network`` (``neurorect._chunks``; a benchmark may reach
    into the engine, the package's modules may not). CPU time, as for the bare products:
    every timed path runs on one thread (BLAS pinned, the network kernel serial), and CPU
    time scatters less than wall time on a shared machine. ``kernel`` (default: the
    engine's own ``run_network``) is what the engine calls, e.g. the per-unit path
    ``run_network_general`` to compare the element-wise paths."""

    def __init__(self):
        self.spent = 0.0
        self.default = self.kernel = _chunks.run_network

        def timed(*args):
            start = time.process_time()
            self.kernel(*args)
            self.spent += time.process_time() - start
        _chunks.run_network = timed

    def reset(self, kernel=None) -> None:
        self.spent = 0.0
        self.kernel = self.default if kernel is None else kernel


CLOCK = KernelClock()


class NeurorectStep:
    """Times one neurorect step (s): the kernel's CPU time over a run of S = ``steps``
    steps, divided by S (and by ``per``, e.g. the batch copies); ``kernel`` as in
    :meth:`KernelClock.reset`."""

    def __init__(self, model, steps: int, per: int = 1, kernel=None, **options):
        self.model = model.with_values({"simulation.duration": steps * DT})
        self.steps, self.per, self.kernel, self.options = steps, per, kernel, options
        self()  # compile and warm up

    def __call__(self) -> float:
        CLOCK.reset(self.kernel)
        with warnings.catch_warnings():  # (a short run has no whole period: NaN harmonics)
            warnings.simplefilter("ignore", NeurorectWarning)
            simulate(self.model, progress=False, **self.options)
        return CLOCK.spent / self.steps / self.per


def bare_step(product, steps: int):
    """A callable timing one call of ``product()`` (s), averaged over ``steps`` calls."""
    product()

    def step() -> float:
        start = time.process_time()
        for _ in range(steps):
            product()
        return (time.process_time() - start) / steps
    return step


def interleaved(variants: dict, rounds: int) -> dict:
    """Best per-step time of every variant over ``rounds`` interleaved rounds."""
    best = {name: math.inf for name in variants}
    for _ in range(rounds):
        for name, step in variants.items():
            best[name] = min(best[name], step())
    return best


def dense_table(scale: int, rounds: int) -> None:
    print("\nDense W2 (Gaussian random W), time per step (ms); ratios to the bare product; "
          "'per-unit': exp_ab2 on the per-unit element-wise path (run_network_general)")
    print("| N | dtype | bare W @ r | exp_ab2 | exp_euler | per-unit exp_ab2 | "
          "exp_ab2 / bare | exp_euler / bare | per-unit / bare |")
    print("|---|---|---|---|---|---|---|---|---|")
    per_dtype = {}
    for n, steps in ((1000, 2000 // scale), (4000, 200 // scale)):
        W = network(n, 1).coupling_matrix()
        for dtype in ("float64", "float32"):
            Wd = np.ascontiguousarray(W, dtype=dtype)
            r = np.random.default_rng(0).random(n).astype(dtype)
            variants = {"bare": bare_step(lambda Wd=Wd, r=r: Wd @ r, steps)}
            for method in ("exp_ab2", "exp_euler"):
                variants[method] = NeurorectStep(network(n, steps, method=method), steps,
                                                 dtype=dtype, coupling="dense")
            variants["general"] = NeurorectStep(network(n, steps), steps, dtype=dtype,
                                                coupling="dense", kernel=run_network_general)
            best = interleaved(variants, rounds)
            per_dtype[n, dtype] = best
            ratios = " | ".join(f"{best[key] / best['bare']:.3f}"
                                for key in ("exp_ab2", "exp_euler", "general"))
            print(f"| {n} | {dtype} | {best['bare'] * 1e3:.4f} | {best['exp_ab2'] * 1e3:.4f} | "
                  f"{best['exp_euler'] * 1e3:.4f} | {best['general'] * 1e3:.4f} | {ratios} |")
    for n in (1000, 4000):
        f64, f32 = per_dtype[n, "float64"], per_dtype[n, "float32"]
        print(f"N = {n}: float32 / float64 speed-up, neurorect exp_ab2 "
              f"{f64['exp_ab2'] / f32['exp_ab2']:.2f}x, bare product "
              f"{f64['bare'] / f32['bare']:.2f}x")


def sparse_table(scale: int, rounds: int) -> None:
    print("\nSparse W (CSR), time per step (ms); neurorect against scipy.sparse's CSR A @ r "
          "at the same density: the whole exp_ab2 step, and the CSR product alone "
          "(channels.csr_rows on the same matrix)")
    print("| N | density | non-zeros | scipy A @ r | neurorect step | csr_rows alone | "
          "step / scipy | csr_rows / scipy |")
    print("|---|---|---|---|---|---|---|---|")
    # (spec builds a sparse block as a dense array first: N = 8000 takes 0.5 GB while building)
    for n, probability, steps in ((4000, 0.05, 500 // scale), (8000, 0.01, 500 // scale)):
        model = network(n, steps, kind="sparse", probability=probability)
        A = scipy.sparse.csr_matrix(model.coupling_matrix())
        r = np.random.default_rng(0).random(n)
        pointers, indices, out = A.indptr.astype(np.int64), A.indices.astype(np.uint32), \
            np.empty(n)
        csr_rows(pointers, indices, A.data, r, out, 0)
        assert np.array_equal(out, A @ r)  # the same sums in the same order: the same bits
        variants = {"scipy": bare_step(lambda A=A, r=r: A @ r, steps),
                    "neurorect": NeurorectStep(model, steps, coupling="sparse"),
                    "rows": bare_step(lambda p=pointers, i=indices, A=A, r=r, o=out:
                                      csr_rows(p, i, A.data, r, o, 0), steps)}
        best = interleaved(variants, rounds)
        print(f"| {n} | {probability:g} | {A.nnz} | {best['scipy'] * 1e3:.4f} | "
              f"{best['neurorect'] * 1e3:.4f} | {best['rows'] * 1e3:.4f} | "
              f"{best['neurorect'] / best['scipy']:.3f} | {best['rows'] / best['scipy']:.3f} |")


def batch_table(scale: int, rounds: int) -> None:
    copies, n, steps = 16, 1000, 1000 // scale
    print(f"\nBatched copies: {copies} copies of N = {n} sharing W, time per copy-step (ms)")
    model = network(n, steps)
    W = np.ascontiguousarray(model.coupling_matrix())
    R = np.random.default_rng(0).random((copies, n))
    taus = {"populations.E.tau": np.linspace(0.009, 0.011, copies)}
    variants = {"gemm": bare_step(lambda: R @ W.T, steps),
                "gemv": bare_step(lambda: [W @ R[b] for b in range(copies)], steps),
                "batch": NeurorectStep(model, steps, per=copies, batch=taus, coupling="dense"),
                "single": NeurorectStep(model, steps, coupling="dense")}
    best = interleaved(variants, rounds)
    print("| bare R @ W.T | bare 16 x W @ r | neurorect batch of 16 | neurorect single run | "
          "batch speed-up |")
    print("|---|---|---|---|---|")
    print(f"| {best['gemm'] / copies * 1e3:.4f} | {best['gemv'] / copies * 1e3:.4f} | "
          f"{best['batch'] * 1e3:.4f} | {best['single'] * 1e3:.4f} | "
          f"{best['single'] / best['batch']:.2f}x |")


# --------------------------------------------------------------------------- accuracy
def harmonic(ds) -> np.ndarray:
    return (ds.amplitude.sel(harmonic=1).values
            * np.exp(1j * ds.phase.sel(harmonic=1).values))


def linear_pair_reference(model) -> np.ndarray:
    """Closed form of the linear E-I pair's steady first harmonic (drive into E)."""
    neurons = model.neuron_arrays()
    gain = np.diag([t.gain for t in neurons.transfer])
    w = 2 * np.pi * model.drive_scalar("E", "freq")
    system = np.eye(2) + 1j * w * np.diag(neurons.tau) - gain @ model.coupling_matrix()
    return np.linalg.solve(system, gain @ np.array([1.0, 0.0])) * model.drive_scalar("E", "I1")


SAMPLE = 4e-4  # s: the random network's rates are compared at multiples of this


def trace(model, dt: float, method: str) -> np.ndarray:
    """Rates of every 10th neuron at t = k SAMPLE, k >= 1 (the first 0.1 s left out)."""
    ds = simulate(model, dt=dt, method=method, record_every=int(round(SAMPLE / dt)),
                  neurons=range(0, model.size, 10), progress=False)
    return ds.rate.values[int(round(0.1 / SAMPLE)):]


def problems(quick: bool):
    """(name, model, measure(dt, method), reference, scale, note, dts) per problem."""
    pair = load_model("models/ei_pair.toml")
    linear = pair.with_values({"populations.E.transfer.alpha": 1.0,
                               "populations.I.transfer.alpha": 1.0})
    # the random network relaxes slowly (rate ~13/s): its harmonics over a short window
    # carry the transient, whose rectangle-rule projection is only first order; so its
    # rates are compared sample by sample instead
    random = load_model("models/random_network.toml").with_values(
        {"drives.E.noise.sigma": 0.0, "drives.I.noise.sigma": 0.0,
         "simulation.duration": "0.3 s", "simulation.transient": 0.0})

    def first_harmonic(model):
        return lambda dt, method: harmonic(simulate(model, dt=dt, method=method,
                                                    record="none", progress=False))

    dts = [8e-4, 4e-4, 2e-4, 1e-4, 5e-5, 2.5e-5]
    exact = linear_pair_reference(linear)
    out = [("E-I pair, linear (alpha = 1): first harmonic of E and I", linear,
            first_harmonic(linear), exact, np.max(np.abs(exact)), "the exact closed form",
            dts)]
    for name, model, measure, fine, dts_model in (
            ("E-I pair, rectified (ei_pair.toml): first harmonic of E and I", pair,
             first_harmonic(pair), 2.5e-6, dts),
            ("random_network.toml, noise off: rates of 100 neurons, 0.1-0.3 s", random,
             lambda dt, method: trace(random, dt, method), 1e-5 if quick else 5e-6,
             dts[1:-1] if quick else dts[1:])):
        reference = measure(fine, "rk4")
        scale = float(np.max(np.abs(reference)))
        own = np.max(np.abs(measure(2 * fine, "rk4") - reference)) / scale
        out.append((name, model, measure, reference, scale,
                    f"RK4 at {fine:g} s (which differs from RK4 at {2 * fine:g} s by "
                    f"{own:.1e})", dts_model))
    return out


def error_curve(model, measure, reference, scale: float, method: str, dts):
    """``[(dt, relative error)]`` and the wall time per step (s) of the finest run."""
    rows, per_step = [], math.nan
    for dt in dts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NeurorectWarning)
            start = time.process_time()
            value = measure(dt, method)
            wall = time.process_time() - start
        rows.append((dt, float(np.max(np.abs(value - reference)) / scale)))
        per_step = wall / round(model.simulation.duration / dt)
    return rows, per_step


def reaching(rows, target: float) -> tuple[float, str]:
    """dt at which the error curve crosses ``target`` (log-log interpolation between the
    bracketing points, or extrapolation from the last two at their local order: marked
    '*'), with a mark; (nan, '') when the curve does not go there."""
    if rows[0][1] <= target:
        return rows[0][0], ">="  # already there at the largest dt measured
    pairs = list(zip(rows, rows[1:], strict=False))
    for (dt1, e1), (dt2, e2) in pairs:
        if e1 >= target >= e2 > 0:
            slope = math.log(e1 / e2) / math.log(dt1 / dt2)
            return dt2 * (target / e2) ** (1 / slope), ""
    (dt1, e1), (dt2, e2) = rows[-2], rows[-1]
    if e2 <= 0 or e1 <= e2:
        return math.nan, ""
    slope = math.log(e1 / e2) / math.log(dt1 / dt2)
    return dt2 * (target / e2) ** (1 / slope), "*"


def accuracy_tables(quick: bool) -> None:
    for name, model, measure, reference, scale, note, dts in problems(quick):
        print(f"\n{name}; largest error relative to the largest value, against {note}")
        print("| method | " + " | ".join(f"dt = {dt * 1e3:g} ms" for dt in dts)
              + " | order | us per step | dt (cost) for 1e-3 | dt (cost) for 1e-6 |")
        print("|---" * (len(dts) + 5) + "|")
        for method in METHODS:
            rows, per_step = error_curve(model, measure, reference, scale, method, dts)
            cells = " | ".join(f"{e:.1e}" for _, e in rows)
            order = np.polyfit(np.log([d for d, _ in rows[-3:]]),
                               np.log([max(e, 1e-300) for _, e in rows[-3:]]), 1)[0]
            targets = []
            for target in (1e-3, 1e-6):
                dt, mark = reaching(rows, target)
                targets.append("-" if math.isnan(dt) else
                               f"{mark}{dt * 1e3:.3g} ms ({per_step / dt:.2g} s/s)")
            print(f"| {method} | {cells} | {order:.2f} | {per_step * 1e6:.1f} | {targets[0]} "
                  f"| {targets[1]} |")
    print("(order: least-squares slope over the three smallest dt; cost: wall seconds per "
          "simulated second, the finest run's time per step over dt; '>=': already reached "
          "at the largest dt measured; '*': extrapolated beyond the smallest dt at the local "
          "order)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    parser.add_argument("--part", choices=("speed", "accuracy", "all"), default="all")
    args = parser.parse_args()
    scale, rounds = (5, 2) if args.quick else (1, 7)
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, cores {os.cpu_count()}, "
          "BLAS threads 1")
    with threadpool_limits(limits=1, user_api="blas"):
        if args.part in ("speed", "all"):
            dense_table(scale, rounds)
            sparse_table(scale, rounds)
            batch_table(scale, rounds)
        if args.part in ("accuracy", "all"):
            accuracy_tables(args.quick)


if __name__ == "__main__":
    main()
