"""The command line never shows a traceback: each failure of issue 10 is one clean line.

Every case runs the real command in a subprocess (as a user types it) and asserts: the exit
status (2 usage, 1 run failure, 130 Ctrl-C), that stderr is exactly one line starting
``neurorect COMMAND: error:`` (or ``interrupted:``), that it names what the user typed, and
that no traceback leaked.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurorect.cli.failures import describe
from neurorect.errors import ModelError, SimulationError

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """The command in its own process group with Ctrl-C enabled (as in a terminal)."""
    return subprocess.Popen([sys.executable, "-m", "neurorect.cli", *args], cwd=cwd,
                            env=_environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _run(args: list[str], cwd: Path, timeout: float = 300) -> tuple[int, str, str]:
    process = _start(args, cwd)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _interrupt(args: list[str], cwd: Path, ready, timeout: float = 300):
    """Start the command, wait until ``ready()`` is true, then Ctrl-C its process group."""
    process = _start(args, cwd)
    deadline = time.monotonic() + timeout
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "the command finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def _one_line(err: str, command: str, label: str = "error") -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    assert lines[0].startswith(f"neurorect {command}: {label}: "), lines[0]
    return lines[0]


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "notes.txt").write_text("not a result\n")
    (tmp_path / "table.csv").write_text("freq,gain\n1,2\n")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "out_dir").mkdir()
    return tmp_path


def test_usage_errors_are_one_line_with_status_2(folder):
    cases = [
        (["response", "single_neuron", "--freqs", "nonsense"], "response", "'nonsense'"),
        (["run", "single_neuron", "--out", "out_dir"], "run", "'out_dir': is a directory"),
        (["run", "single_neuron", "--out", "notes.txt/run.nc"], "run", "not a folder"),
        (["run", "single_neuron", "--plot", "notes.txt/run.png"], "run", "not a folder"),
        (["response", "single_neuron", "--method", "analytic", "--csv", "notes.txt/r.csv"],
         "response", "--csv"),
        (["run", "single_neuron", "--plot", "run.nc2"], "run", "unknown figure format '.nc2'"),
        (["plot", "notes.txt"], "plot", "'notes.txt': cannot read it as netCDF"),
        (["plot", "table.csv"], "plot", "'table.csv': cannot read it as netCDF"),
        (["plot", "picture.png"], "plot", "'picture.png': cannot read it as netCDF"),
        (["plot", "missing.nc"], "plot", "'missing.nc': no such file"),
        (["run", "no_such_model"], "run", "'no_such_model': no such model file"),
        (["run", "single_neuron", "--bogus"], "run", "unrecognized arguments: --bogus"),
        (["run", "single_neuron", "--duration", "soon"], "run", "--duration"),
        (["run", "single_neuron", "--param", "populations.E.transfer.alpa=0.3"], "run",
         "did you mean 'alpha'?"),
    ]
    processes = [_start(args, folder) for args, _, _ in cases]  # side by side: start-up time
    for (args, command, named), process in zip(cases, processes, strict=True):
        _, err = process.communicate(timeout=300)
        status = process.returncode
        line = _one_line(err, command)
        assert status == 2, (args, status, err)
        assert named in line, (args, line)
    assert not list(folder.glob("*.nc")) and not list(folder.glob(".*.tmp"))  # nothing ran


def test_a_file_that_cannot_be_written_at_the_end_names_the_path(folder):
    # checked before the run: the folder cannot hold files (/proc on Linux: ENOENT on create)
    status, _, err = _run(["run", "single_neuron", "--out", "/proc/run.nc"], folder)
    assert status == 2 and "'/proc/run.nc'" in _one_line(err, "run")


def test_unreachable_scheduler_fails_within_the_timeout(folder):
    started = time.monotonic()
    status, _, err = _run(["sweep", "single_neuron", "--param", "drives.E.I0=0,1",
                           "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1",
                           "--out", "s.nc"], folder)
    line = _one_line(err, "sweep")
    assert status == 1 and "'tcp://127.0.0.1:9' within 1 s" in line
    # the connection is tried before the engine loads: start-up plus the timeout
    assert time.monotonic() - started < 60


def test_ctrl_c_during_a_run_says_nothing_was_written(folder):
    args = ["run", "random_network", "--duration", "600 s", "--record", "none",
            "--out", "long.nc"]
    started = time.monotonic()
    status, _, err = _interrupt(args, folder, lambda: time.monotonic() - started > 3)
    line = _one_line(err, "run", "interrupted")
    assert status == 130 and "stopped before writing any file" in line
    assert not (folder / "long.nc").exists()


def _chunks(store: Path) -> int:
    return len(list(store.glob("chunk_*.nc")))


def _check_sweep_interrupt(folder: Path, extra: list[str]) -> None:
    store = folder / "grid_store"
    args = ["sweep", "single_neuron", "--param", "populations.E.transfer.alpha=0:1:40",
            "--param", "drives.E.freq=log:0.2:50:40", "--measure", "response",
            "--chunk-size", "8", "--out", "grid.nc", *extra]
    status, _, err = _interrupt(args, folder, lambda: _chunks(store) >= 1)
    line = _one_line(err, "sweep", "interrupted")
    match = re.search(r"(\d+) of (\d+) chunks are saved in (\S+); run the same command with "
                      r"--resume to compute the other (\d+)", line)
    assert status == 130 and match, line
    saved, total, where, other = match.groups()
    assert int(saved) == _chunks(store) and int(saved) + int(other) == int(total) == 200
    assert Path(where).name == "grid_store"


def test_ctrl_c_during_a_local_sweep_says_what_is_saved_and_how_to_resume(folder):
    _check_sweep_interrupt(folder, [])


@pytest.mark.slow
def test_ctrl_c_during_a_dask_sweep_is_one_line_too(folder):
    _check_sweep_interrupt(folder, ["--executor", "dask", "--workers", "2"])


def test_debug_shows_the_traceback(folder):
    status, _, err = _run(["--debug", "plot", "notes.txt"], folder)
    assert status != 0 and "Traceback" in err and "ModelError" in err


def test_every_exception_maps_to_a_status_and_one_line():
    assert describe(ModelError("bad", key="k", value=1))[0] == 2
    assert describe(SimulationError("diverged\nat t = 1 s"))[1] == "diverged at t = 1 s"
    assert describe(KeyboardInterrupt())[0] == 130
    status, message = describe(PermissionError(13, "Permission denied", "out/run.nc"))
    assert (status, message) == (1, "'out/run.nc': Permission denied")
    status, message = describe(RuntimeError("boom\n  detail"))
    assert status == 1 and message.startswith("unexpected RuntimeError: boom detail")
    assert "--debug" in message
