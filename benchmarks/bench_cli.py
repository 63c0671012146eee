"""Start-up time of the command line against ``python -c "import numpy"``.

Issue 10 asks that ``neurorect --help``, ``--version``, ``models`` and argument errors answer
in under ~0.5 s, i.e. in about the time Python takes to import NumPy: the command modules
import only argparse and the standard library, the handlers load NumPy, xarray, Numba,
Brian2 and Dask when they run. Each command is run as a fresh process (``python -m
neurorect.cli``, this checkout first on the path), the commands interleaved round by round
so that load on a shared machine hits them alike; the report is the median wall time and
its ratio to the NumPy import. Also shown, for scale: ``show`` (loads a model: NumPy) and a
full ``import neurorect.driver`` (the engine).

Run: ``python benchmarks/bench_cli.py`` (``--quick`` for a 3-round smoke run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    'python -c "import numpy"': ["-c", "import numpy"],
    "neurorect --help": ["-m", "neurorect.cli", "--help"],
    "neurorect --version": ["-m", "neurorect.cli", "--version"],
    "neurorect models": ["-m", "neurorect.cli", "models"],
    "neurorect run MODEL --bogus (argument error)": ["-m", "neurorect.cli", "run",
                                                     "single_neuron", "--bogus"],
    "neurorect run (missing MODEL)": ["-m", "neurorect.cli", "run"],
    "neurorect show single_neuron (loads a model)": ["-m", "neurorect.cli", "show",
                                                     "single_neuron"],
    'python -c "import neurorect.driver" (the engine)': ["-c", "import neurorect.driver"],
}
FAST = [name for name in CASES if name.startswith("neurorect") and "show" not in name]


def _time(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds (smoke run)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH",
                                                                               "")}
    for case in CASES.values():  # warm the file cache and Python's bytecode cache
        _time(case, env)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, case in CASES.items():
            times[name].append(_time(case, env))
    baseline = statistics.median(times['python -c "import numpy"'])
    version = sys.version.split()[0]
    print(f"{rounds} rounds, median wall time of a fresh process (s); python {version}")
    print(f"{'command':<52} {'median':>8} {'min':>8} {'/ numpy':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<52} {median:>8.3f} {min(values):>8.3f} {median / baseline:>8.2f}")
    slowest = max(statistics.median(times[name]) for name in FAST)
    verdict = "meets" if slowest < 0.5 else "misses"
    print(f"slowest fast command: {slowest:.3f} s ({verdict} the ~0.5 s target; "
          f"the numpy import takes {baseline:.3f} s here)")


if __name__ == "__main__":
    main()
