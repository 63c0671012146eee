"""Files written like a careful tool (issue 9.8): atomic replace in the target's folder that
follows symlinks, refuses non-regular files, keeps normal permissions and leaves no
temporary file after an error or an interruption; errors are one line naming the path.

The module imports only names that existed before this issue (``save``, ``load``), so that
the reproductions (``test_reproduction_*``) can be run against the old code, where they
fail. No test writes to ``/dev/full`` itself: the machine's tests may run as root, where a
regression would replace the device; a device node made in the test's folder stands in for
it (the same major and minor numbers).
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurorect.io as nio
from neurorect import NeurorectError
from neurorect.io import load, save

ROOT = Path(__file__).resolve().parents[1]


def dataset(value: float = 1.0) -> xr.Dataset:
    return xr.Dataset({"rate": ("time", np.full(5, value), {"units": "Hz", "long_name": "r"})},
                      attrs={"flag": True, "note": None})


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


@pytest.fixture
def umask():
    """Set the process umask for a test (restored afterwards)."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


# ------------------------------------------------------------------ the reproductions
def test_reproduction_writing_to_a_symlink_writes_its_target(tmp_path):
    """Issue 9.8: writing to a symlink replaced the link by a file. Fails on main."""
    target = tmp_path / "data" / "real.nc"
    save(dataset(1.0), target)
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    save(dataset(2.0), link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load(target)["rate"].values.tolist() == [2.0] * 5
    assert temporaries(tmp_path) == temporaries(target.parent) == []


def _device(tmp_path: Path) -> Path:
    """A character device like /dev/full (1, 7), made in the test's folder."""
    device = tmp_path / "full"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root)")
    return device


@pytest.mark.parametrize("kind", ["device", "fifo", "device_via_link"])
def test_reproduction_non_regular_files_are_refused_not_replaced(kind, tmp_path):
    """Issue 9.8: ``--out /dev/full`` replaced the device node by a netCDF file (a FIFO
    too). Fails on main. Now: one-line error naming the path, the node untouched."""
    if kind == "fifo":
        node = tmp_path / "pipe.nc"
        os.mkfifo(node)
        path, what, test = node, "a FIFO", stat.S_ISFIFO
    else:
        node = _device(tmp_path)
        path, what, test = node, "a character device", stat.S_ISCHR
        if kind == "device_via_link":
            path = tmp_path / "out.nc"
            path.symlink_to(node)
    with pytest.raises(NeurorectError, match=rf"^cannot write {path}: it is {what}.*not a "
                                             r"regular file"):
        save(dataset(), path)
    assert test(os.stat(node).st_mode) and temporaries(tmp_path) == []


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_reproduction_new_files_get_0666_minus_the_umask(mask, tmp_path, umask):
    """Issue 9.8: every .nc was created 0600 whatever the umask. Fails on main (umask 022
    and 002)."""
    umask(mask)
    save(dataset(), tmp_path / "new.nc")
    assert stat.S_IMODE(os.stat(tmp_path / "new.nc").st_mode) == 0o666 & ~mask


def test_reproduction_an_existing_file_keeps_its_mode(tmp_path, umask):
    """Fails on main (the replaced file became 0600)."""
    umask(0o077)
    path = tmp_path / "shared.nc"
    save(dataset(1.0), path)
    os.chmod(path, 0o644)
    save(dataset(2.0), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert load(path)["rate"].values[0] == 2.0


# ------------------------------------------------------------------------- the helper
def test_atomic_path_writes_any_format_by_its_suffix(tmp_path, umask):
    """The temporary file keeps the target's suffix: matplotlib picks PNG from it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    umask(0o022)
    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with nio.atomic_path(tmp_path / "figs" / "line.png") as temporary:
        assert temporary.parent == tmp_path / "figs" and temporary.suffix == ".png"
        assert temporary.name.startswith(".line.") and temporary.exists()
        figure.savefig(temporary)
    plt.close(figure)
    data = (tmp_path / "figs" / "line.png").read_bytes()
    assert data.startswith(b"\x89PNG") and temporaries(tmp_path / "figs") == []
    assert stat.S_IMODE(os.stat(tmp_path / "figs" / "line.png").st_mode) == 0o644
    table = np.arange(6.0).reshape(3, 2)
    path = nio.write_atomic(tmp_path / "t.csv", lambda p: np.savetxt(p, table, delimiter=","))
    np.testing.assert_array_equal(np.loadtxt(path, delimiter=","), table)
    assert nio.write_text(tmp_path / "m.toml", "a = 1\n").read_text() == "a = 1\n"


def test_targets_can_be_checked_before_any_work(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.nc").symlink_to(tmp_path / "pipe")
    with pytest.raises(nio.FileError, match=r"link.nc: it is a FIFO \(named pipe\) \(the "
                                            r"link points to .*pipe\), not a regular file"):
        nio.resolve_target(tmp_path / "link.nc")
    (tmp_path / "ok.nc").symlink_to(tmp_path / "new" / "real.nc")  # need not exist yet
    real = Path(os.path.realpath(tmp_path / "new" / "real.nc"))
    assert nio.resolve_target(tmp_path / "ok.nc") == real


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "later.txt")
    nio.write_text(link, "x")
    assert link.is_symlink() and (tmp_path / "later.txt").read_text() == "x"


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(nio.FileError, match=rf"^cannot write {tmp_path}: it is a directory"):
        nio.write_text(tmp_path, "x")


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, ValueError])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(interruption, tmp_path):
    path = tmp_path / "result.txt"
    path.write_text("old")
    with pytest.raises(interruption):
        with nio.atomic_path(path) as temporary:
            temporary.write_text("half of the new")
            raise interruption()
    assert path.read_text() == "old" and temporaries(tmp_path) == []


_SIGINT_WRITER = """
import sys, time
from neurorect.io import atomic_path
with atomic_path(sys.argv[1]) as temporary:
    with open(temporary, "wb") as handle:
        for i in range(600):
            handle.write(bytes(2**16)); handle.flush()
            if i == 0:
                print("writing", flush=True)
            time.sleep(0.05)
"""


def test_sigint_during_a_write_leaves_no_temporary(tmp_path):
    """A real Ctrl-C (SIGINT) in another process, in the middle of the write."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"old")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", _SIGINT_WRITER, str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert process.stdout.readline() == b"writing\n"
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert b"KeyboardInterrupt" in stderr
    assert path.read_bytes() == b"old" and temporaries(tmp_path) == []


def test_an_oserror_is_one_line_naming_the_path(tmp_path):
    path = tmp_path / "out.nc"
    with pytest.raises(nio.FileError, match=rf"^cannot write {path}: No space left on device$"):
        with nio.atomic_path(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert not path.exists() and temporaries(tmp_path) == []


_FSIZE_WRITER = """
import resource, signal, sys
import numpy as np, xarray as xr
from neurorect import NeurorectError
from neurorect.io import save
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: EFBIG instead of a kill
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))
try:
    save(xr.Dataset({"a": ("x", np.arange(100000.0))}), sys.argv[1])
except NeurorectError as error:
    print(type(error).__name__, error)
"""


def test_netcdf_hdf_error_names_the_path_and_the_likely_cause(tmp_path):
    """A real netCDF failure (the file-size limit: netCDF says only "NetCDF: HDF error"),
    in a process of its own; the old file is kept."""
    path = tmp_path / "big.nc"
    save(dataset(3.0), path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _FSIZE_WRITER, str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == (f"FileError cannot write {path}: NetCDF: HDF error (the "
                                  "file-size limit (ulimit -f) is 65536 bytes)"), out.stderr
    assert load(path)["rate"].values[0] == 3.0 and temporaries(tmp_path) == []


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(nio.FileError, match=rf"^cannot read {tmp_path / 'none.nc'}: no such "
                                            r"file$"):
        load(tmp_path / "none.nc")
    (tmp_path / "bad.nc").write_bytes(b"not netCDF at all")
    with pytest.raises(nio.FileError, match=r"^cannot read .*bad.nc: not a readable netCDF "
                                            r"file \(damaged, truncated, or another format\)$"):
        load(tmp_path / "bad.nc")


def test_save_round_trips_and_stores_booleans_as_integers(tmp_path):
    path = save(dataset(5.0), tmp_path / "a" / "b" / "r.nc")  # folders created
    again = load(path)
    assert again.attrs["flag"] == 1 and "note" not in again.attrs
    assert again["rate"].attrs == {"units": "Hz", "long_name": "r"}



def test_save_refuses_what_is_not_a_dataset(tmp_path):
    with pytest.raises(NeurorectError, match=r"dataset = 'NoneType': save writes a result "
                                             r"Dataset \(allowed: an xarray.Dataset"):
        save(None, tmp_path / "r.nc")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left

def test_model_files_are_written_atomically(tmp_path, models_dir):
    from neurorect import load_model
    from neurorect.modelfile import dump_model

    model = load_model(models_dir / "single_neuron.toml")
    link = tmp_path / "model.toml"
    link.symlink_to(tmp_path / "real.toml")
    dump_model(model, link)
    assert link.is_symlink() and load_model(tmp_path / "real.toml") == model
