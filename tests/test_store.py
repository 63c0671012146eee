"""The sweep store heals and explains (issue 9.7).

Every chunk file is verified when a run resumes; a bad one (truncated, zeroed, random bytes,
another sweep's, another chunk's, edited, or without a record) is named in one warning,
moved into ``STORE/corrupt/`` and computed again; disk full and other OSErrors are one-line
errors naming the path and the cause, and the chunks written before are kept.

Comparisons of results are exact (``xarray.testing.assert_identical``, attrs included): the
engine is deterministic, so a recomputed chunk equals the lost one bit for bit and a healed
store gives the result of an undisturbed run.

The module imports only names that existed before this issue, so that the reproductions
(``test_reproduction_*``) can be run against the old code, where they fail.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurorect.io as nio
import neurorect.sweeps.execute as sweep_execute
import neurorect.sweeps.store as store_module
from neurorect import NeurorectError, load_model
from neurorect.errors import NeurorectWarning
from neurorect.sweeps import StoreMismatchError, run_sweep
from neurorect.sweeps.store import MANIFEST, chunk_file

ROOT = Path(__file__).resolve().parents[1]
ALPHA = "populations.E.transfer.alpha"
GRID = {ALPHA: "0:1:8"}
OPTIONS = {"chunk_size": 2, "duration": 0.4, "progress": False}  # 4 chunks of 2 points
# (0.4 s: the 5 Hz drive gets one whole period after the 0.2 s transient)


@pytest.fixture(scope="module")
def single():
    return load_model(ROOT / "models" / "single_neuron.toml")


@pytest.fixture(scope="module")
def reference(single):
    """The undisturbed result (no store)."""
    return run_sweep(single, GRID, **OPTIONS)


@pytest.fixture
def store(single, tmp_path):
    """A complete store of the sweep (4 chunks)."""
    path = tmp_path / "store"
    run_sweep(single, GRID, store=path, **OPTIONS)
    assert len(list(path.glob("chunk_*.nc"))) == 4
    return path


def resume(single, store):
    return run_sweep(single, GRID, store=store, resume=True, **OPTIONS)


def computed_chunks(monkeypatch) -> list[int]:
    """The indices of the chunks computed from now on (run_chunk calls)."""
    calls: list[int] = []
    original = sweep_execute.run_chunk

    def counted(settings, chunk):
        calls.append(chunk.index)
        return original(settings, chunk)

    monkeypatch.setattr(sweep_execute, "run_chunk", counted)
    return calls


def leftovers(store: Path) -> list[str]:
    """Temporary files in the store (the lock file is not one)."""
    return sorted(p.name for p in store.iterdir() if p.name.startswith(".") and p.name != ".lock")


# --------------------------------------------------------------------------- damages
def truncate(file: Path, store: Path, single) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def zero(file: Path, store: Path, single) -> None:
    file.write_bytes(bytes(file.stat().st_size))


def random_bytes(file: Path, store: Path, single) -> None:
    file.write_bytes(np.random.default_rng(7).bytes(file.stat().st_size))


def edit_a_value(file: Path, store: Path, single) -> None:
    """A valid netCDF file of this sweep and chunk, one value changed in its last bit."""
    dataset = xr.load_dataset(file)
    values = dataset["mean_rate"].values.copy()
    values.flat[0] = np.nextafter(values.flat[0], np.inf)
    dataset["mean_rate"].values = values
    file.unlink()
    dataset.to_netcdf(file)


def foreign_chunk(file: Path, store: Path, single) -> None:
    """Chunk 1 of another sweep (same grid and chunking, another duration): same points,
    a valid file, but not this sweep's."""
    other = store.parent / "other_store"
    run_sweep(single, GRID, store=other, **{**OPTIONS, "duration": 0.5})
    shutil.copyfile(chunk_file(other, 1), file)


def other_chunk(file: Path, store: Path, single) -> None:
    """This sweep's chunk 0 under chunk 1's name."""
    shutil.copyfile(chunk_file(store, 0), file)


def unrecorded(file: Path, store: Path, single) -> None:
    """A good chunk file whose record is missing from the manifest."""
    manifest = json.loads((store / MANIFEST).read_text())
    del manifest["chunks"]["1"]
    (store / MANIFEST).write_text(json.dumps(manifest))


UNREADABLE = (r"unreadable: (not a readable netCDF file \(damaged, truncated, or another "
              r"format\)|NetCDF: [\w ]+)")
DAMAGES = {
    "truncated": (truncate, UNREADABLE),
    "zeroed": (zero, UNREADABLE),
    "random": (random_bytes, UNREADABLE),
    "edited": (edit_a_value, r"its contents changed after it was written \(sha256 \w{12}, "
                             r"recorded \w{12}\): edited or damaged"),
    "foreign": (foreign_chunk, r"belongs to another sweep \(its sweep_key \w{12}, this "
                               r"sweep's \w{12}\)"),
    "other_chunk": (other_chunk, r"holds chunk 0, not chunk 1 \(renamed or copied\?\)"),
    "unrecorded": (unrecorded, r"no checksum recorded for it in the manifest \(this sweep did "
                               r"not write it\)"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_reproduction_bad_chunk_is_named_moved_aside_and_recomputed(
        damage, single, reference, store, monkeypatch):
    """Issue 9.7: a truncated, zeroed or random chunk gave a raw HDF/xarray traceback at the
    end of every rerun; a foreign chunk was caught only by an untested check (this test fails
    if the sweep_key check is disabled: the reason would be the checksum's); an edited
    chunk was accepted. Fails on main. Now: named with its reason in one warning, moved to
    corrupt/ (kept as evidence), recomputed alone, and the result is the undisturbed one."""
    damage_file, reason = DAMAGES[damage]
    file = chunk_file(store, 1)
    damage_file(file, store, single)
    damaged = file.read_bytes()
    computed = computed_chunks(monkeypatch)
    with pytest.warns(NeurorectWarning, match=rf"sweep store .*: 1 chunk file\(s\) failed "
                      rf"verification and will be computed again: chunk_000001.nc \({reason}; "
                      rf"now corrupt/chunk_000001.nc\)"):
        healed = resume(single, store)
    assert computed == [1]
    xr.testing.assert_identical(healed, reference)
    assert (store / "corrupt" / "chunk_000001.nc").read_bytes() == damaged
    log = (store / "corrupt" / "reasons.txt").read_text()
    assert "chunk_000001.nc -> chunk_000001.nc: " in log and log.count("\n") == 1
    with warnings.catch_warnings():  # healed: the next resume computes and warns nothing
        warnings.simplefilter("error", NeurorectWarning)
        again = resume(single, store)
    assert computed == [1]
    xr.testing.assert_identical(again, reference)


def test_several_bad_chunks_in_one_warning_and_a_second_copy_kept(single, reference, store,
                                                                  monkeypatch):
    zero(chunk_file(store, 0), store, single)
    truncate(chunk_file(store, 3), store, single)
    computed = computed_chunks(monkeypatch)
    with pytest.warns(NeurorectWarning, match=r"2 chunk file\(s\).*chunk_000000.nc.*"
                                              r"chunk_000003.nc") as record:
        xr.testing.assert_identical(resume(single, store), reference)
    assert len(record) == 1 and computed == [0, 3]
    random_bytes(chunk_file(store, 0), store, single)  # damaged again: both copies kept
    with pytest.warns(NeurorectWarning, match=r"now corrupt/chunk_000000.1.nc"):
        xr.testing.assert_identical(resume(single, store), reference)
    assert sorted(p.name for p in (store / "corrupt").glob("*.nc")) == [
        "chunk_000000.1.nc", "chunk_000000.nc", "chunk_000003.nc"]


def test_a_chunk_beyond_the_sweep_is_moved_aside(single, reference, store, monkeypatch):
    shutil.copyfile(chunk_file(store, 2), chunk_file(store, 99))
    computed = computed_chunks(monkeypatch)
    with pytest.warns(NeurorectWarning, match=r"chunk_000099.nc \(not a chunk of this sweep "
                                              r"\(it has 4 chunks\)"):
        xr.testing.assert_identical(resume(single, store), reference)
    assert computed == []


def test_chunk_points_are_checked_against_the_layout(store):
    """open_store(points=...) (the layout's chunks) refuses a chunk holding other points."""
    manifest = json.loads((store / MANIFEST).read_text())
    points = {0: np.array([0, 1]), 1: np.array([2, 99]), 2: np.array([4, 5])}
    with pytest.warns(NeurorectWarning, match=r"chunk_000001.nc \(holds other grid points "
                                              r"than chunk 1 of this sweep"):
        done = store_module.open_store(store, manifest, resume=True, overwrite=False,
                                       points=points)
    assert done == {0, 2, 3}  # chunk 3: no layout points given, checked against its record


def test_manifest_records_each_chunk_at_write_time(store):
    """The record of a chunk is the SHA-256 of its file and of its points."""
    import hashlib

    manifest = json.loads((store / MANIFEST).read_text())
    assert sorted(manifest["chunks"]) == ["0", "1", "2", "3"]
    for index, record in manifest["chunks"].items():
        file = chunk_file(store, int(index))
        assert record["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert record["bytes"] == file.stat().st_size
        points = xr.load_dataset(file)["point"].values.astype("<i8")
        assert record["points_sha256"] == hashlib.sha256(points.tobytes()).hexdigest()
        assert record["n_points"] == points.size == 2


def test_a_chunk_changed_during_the_run_is_an_error_naming_it(single, store, monkeypatch):
    """Chunks are verified again when they are read at the end of the run."""
    chunk_file(store, 3).unlink()
    original = sweep_execute.run_chunk

    def swap_then_run(settings, chunk):  # while chunk 3 is computed, chunk 0 is replaced
        shutil.copyfile(chunk_file(store, 2), chunk_file(store, 0))
        return original(settings, chunk)

    monkeypatch.setattr(sweep_execute, "run_chunk", swap_then_run)
    with pytest.raises(StoreMismatchError, match=r"chunk_000000.nc holds chunk 2, not chunk 0 "
                                                 r".*changed during the run"):
        resume(single, store)


def test_load_chunk_refuses_another_sweeps_chunk(store):
    """The check at the end of a run, on its own: a key that is not the chunk's."""
    key = json.loads((store / MANIFEST).read_text())["sweep_key"]
    assert store_module.load_chunk(store, 1, key)["point"].size == 2
    with pytest.raises(StoreMismatchError, match=r"chunk_000001.nc belongs to another sweep"):
        store_module.load_chunk(store, 1, "0" * 64)


# ------------------------------------------------------------------------- OS errors
def fail_on_call(monkeypatch, n: int, error: BaseException):
    """``Dataset.to_netcdf``'s n-th call writes half a file, then raises ``error``."""
    original = xr.Dataset.to_netcdf
    calls = []

    def to_netcdf(self, path=None, *args, **kwargs):
        calls.append(path)
        if len(calls) == n:
            Path(path).write_bytes(b"\x89HDF\r\n" + bytes(100))
            raise error
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", to_netcdf)


@pytest.mark.parametrize("cause", ["ENOSPC", "HDF"])
def test_reproduction_disk_full_is_one_line_naming_the_path(cause, single, reference,
                                                            tmp_path, monkeypatch):
    """Issue 9.7: disk full was ``RuntimeError: NetCDF: HDF error`` naming no path. Fails on
    main. Now: one line naming the chunk file and the cause (for netCDF's opaque error the
    likely one: the device's free space); the two chunks written before keep their files
    and records, no temporary file is left, and a resume computes only the rest."""
    store = tmp_path / "store"
    if cause == "ENOSPC":
        error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        expected = "No space left on device"
    else:
        error = RuntimeError("NetCDF: HDF error")
        monkeypatch.setattr(nio.os, "statvfs",
                            lambda path: types.SimpleNamespace(f_bavail=0, f_frsize=4096),
                            raising=False)
        expected = "NetCDF: HDF error (no space left on the device? 0 bytes free in"
    fail_on_call(monkeypatch, 3, error)  # chunks 0 and 1 are written, chunk 2 is not
    with pytest.raises(NeurorectError) as failure:
        run_sweep(single, GRID, store=store, **OPTIONS)
    message = str(failure.value)
    assert "\n" not in message and f"cannot write {chunk_file(store, 2)}: {expected}" in message
    assert "resume=True (--resume)" in message
    assert sorted(p.name for p in store.glob("chunk_*.nc")) == ["chunk_000000.nc",
                                                                "chunk_000001.nc"]
    assert sorted(json.loads((store / MANIFEST).read_text())["chunks"]) == ["0", "1"]
    assert leftovers(store) == []
    monkeypatch.undo()
    computed = computed_chunks(monkeypatch)
    xr.testing.assert_identical(resume(single, store), reference)
    assert computed == [2, 3]


def test_disk_full_while_recording_a_chunk_keeps_the_store_consistent(single, reference,
                                                                       tmp_path, monkeypatch):
    """The manifest cannot be written: the chunk is not stored either (a chunk file always
    has its record), the message names the manifest, and a resume heals."""
    store = tmp_path / "store"
    original = Path.write_text
    calls = []

    def write_text(self, text, *args, **kwargs):
        if self.name.startswith(".manifest"):
            calls.append(self)
            if len(calls) == 3:  # the store's manifest, chunk 0's record, chunk 1's record
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(nio.FileError, match=rf"cannot write {store / MANIFEST}: No space left "
                                            r"on device; the chunks already in .* are kept"):
        run_sweep(single, GRID, store=store, **OPTIONS)
    assert [p.name for p in store.glob("chunk_*.nc")] == ["chunk_000000.nc"]
    assert leftovers(store) == []
    monkeypatch.undo()
    computed = computed_chunks(monkeypatch)
    xr.testing.assert_identical(resume(single, store), reference)
    assert computed == [1, 2, 3]


def test_an_interrupted_chunk_write_leaves_no_temporary_file(single, tmp_path, monkeypatch):
    store = tmp_path / "store"
    fail_on_call(monkeypatch, 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_sweep(single, GRID, store=store, **OPTIONS)
    assert leftovers(store) == [] and [p.name for p in store.glob("chunk_*")] == [
        "chunk_000000.nc"]


def test_a_store_that_cannot_be_created_is_one_line(single, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(nio.FileError, match=r"^cannot create the sweep store .*file/store: "
                                            r"Not a directory$"):
        run_sweep(single, GRID, store=tmp_path / "file" / "store", **OPTIONS)


def test_stale_temporary_files_are_removed(single, reference, store):
    stale = store / ".chunk_000001.deadbeef.tmp.nc"
    fresh = store / ".chunk_000002.cafebabe.tmp.nc"
    for file in (stale, fresh):
        file.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    xr.testing.assert_identical(resume(single, store), reference)
    assert not stale.exists() and fresh.exists()  # a fresh one may be another writer's
