"""Brian2's C++ standalone device in a fresh Python process, for both runners.

The standalone device is process-global state in Brian2 (``set_device`` cannot be undone
cleanly within one process), so each standalone run happens in a child process:
:func:`run_in_child` writes the run spec as JSON, starts ``python -m MODULE spec.json
result.npz project``, and reads the arrays back; the child's ``__main__`` calls
:func:`child_main` with the function that builds and runs the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from neurorect.errors import NeurorectError

__all__ = ["run_in_child", "child_main"]


def run_in_child(module: str, spec: dict, directory: str | os.PathLike | None, *,
                 what: str = "run") -> dict[str, Any]:
    """Run ``spec`` with ``python -m module`` under the C++ standalone device.

    ``directory`` is the project directory (default: a temporary one, deleted afterwards).
    Returns the child's arrays plus ``build_time``, ``run_time`` (s, the child's) and
    ``process_time`` (s, wall time of the whole child). Raises NeurorectError with the tail
    of the child's output if the build or the run fails.
    """
    with tempfile.TemporaryDirectory(prefix="neurorect_standalone_") as scratch:
        spec_path = Path(scratch) / "spec.json"
        out_path = Path(scratch) / "result.npz"
        spec_path.write_text(json.dumps(spec))
        project = str(directory) if directory is not None else str(Path(scratch) / "project")
        command = [sys.executable, "-m", module, str(spec_path), str(out_path), project]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise NeurorectError(f"the C++ standalone {what} failed (exit {proc.returncode}) "
                                 f"in {project}:\n{tail}")
        with np.load(out_path) as data:
            out: dict[str, Any] = {k: data[k] for k in data.files}
    out["build_time"] = float(out.get("build_time", np.nan))
    out["run_time"] = float(out.get("run_time", np.nan))
    out["process_time"] = time.perf_counter() - started
    return out


def child_main(argv: list[str], run: Callable[[dict], dict[str, Any]]) -> int:
    """The child's entry point (``spec.json result.npz project_dir``): ``run(spec)`` under
    the standalone device (``spec["openmp_threads"]`` OpenMP threads when given), arrays
    saved to ``result.npz``."""
    import brian2 as b2

    spec_path, out_path, project = argv
    spec = json.loads(Path(spec_path).read_text())
    b2.set_device("cpp_standalone", directory=project, build_on_run=True)
    if "openmp_threads" in spec:
        b2.prefs.devices.cpp_standalone.openmp_threads = int(spec["openmp_threads"])
    started = time.perf_counter()
    out = run(spec)
    # with build_on_run, code generation and the C++ compile happen inside Network.run: the
    # simulation proper is the device's own run time, the rest counts as build time
    total = time.perf_counter() - started
    simulated = getattr(b2.get_device(), "_last_run_time", None)
    out["run_time"] = float(simulated) if simulated is not None else out["run_time"]
    out["build_time"] = total - out["run_time"]
    np.savez(out_path, **out)
    return 0
