"""The sweep store: a manifest, one netCDF file per chunk, and a place for the bad ones.

Layout of a store directory ``STORE``:

* ``manifest.json``: what identifies the sweep (store format, neurorect version, model TOML
  and its SHA-256, grid, dims, measure, options and ``sweep_key``, a hash of them all), its
  size (``n_points``, ``n_chunks``) and ``chunks``, the record of each chunk file written:
  ``{"sha256": ..., "bytes": ..., "points_sha256": ..., "n_points": ...}`` (the SHA-256 of the
  file, its size, and the SHA-256 of its grid points as little-endian int64). A record is
  written when its chunk is, just before the file is renamed into place, under the store's
  lock: every chunk file has its record;
* ``chunk_000123.nc``: one per finished chunk (dim ``point``, the flat C-order indices of its
  grid points; attrs ``sweep_key`` and ``chunk``), written atomically
  (:func:`neurorect.io.atomic_path`);
* ``corrupt/``: chunk files that failed verification, moved aside (never deleted), and
  ``corrupt/reasons.txt``, one line per file: when, which, why;
* ``.lock``: the lock (``fcntl.flock``) that serialises updates of the manifest between
  processes running the same sweep into the store.

A store made with another model, grid, measure, options or neurorect version is refused with
a message saying what differs, and so is one holding chunks when ``resume`` is not set; see
:func:`neurorect.sweeps.run_sweep` ("Store and resume").

Verification. When a run resumes, every chunk file is checked before anything is computed:
it must be readable as netCDF (a truncated, zeroed or random file is not), belong to this
sweep (its ``sweep_key``: another sweep's chunk copied in is caught), be the chunk its name
says (``chunk``), hold the grid points recorded for it (and the layout's, when given), and
have the SHA-256 recorded when it was written (an edited value is caught, and so is any
change of its bytes). A chunk that fails is named with the reason in one
:class:`~neurorect.NeurorectWarning`, moved to ``corrupt/`` and computed again with the
missing ones, so a damaged store heals on resume instead of failing at the end. The chunks
are checked again when they are read at the end (a change during the run is an error
naming the file).

Errors. An OSError on the store (no space left, permissions, ...) is a one-line
:class:`neurorect.io.FileError` naming the path and the cause; the chunks written before it
keep their files and records, so a run with ``resume=True`` continues from them.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorect._version import __version__
from neurorect.errors import NeurorectError, NeurorectWarning
from neurorect.io import TEMPORARY_MARK, FileError, atomic_path, load, write_netcdf, write_text
from neurorect.spec import Model
from neurorect.sweeps.grid import Dim, to_python

try:  # POSIX: processes sharing a store serialise their manifest updates
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per store
    fcntl = None

__all__ = ["MANIFEST", "CORRUPT", "StoreMismatchError", "chunk_file", "make_manifest",
           "open_store", "save_chunk", "load_chunk", "verify_chunk"]

#: Name of the store's manifest file.
MANIFEST = "manifest.json"
#: Folder (inside the store) that chunk files failing verification are moved to.
CORRUPT = "corrupt"
_LOCK = ".lock"
_STORE_FORMAT = "neurorect-sweep-store"
_STORE_FORMAT_VERSION = 2  # 2: chunk records (checksums) in the manifest
_STALE_SECONDS = 3600.0  # a temporary file this old was left by a killed writer


class StoreMismatchError(NeurorectError, ValueError):
    """A sweep store was made for a different sweep (model, grid, measure, options or
    version), or holds chunks that a run without ``resume`` would mix with new ones."""


def chunk_file(store: str | Path, index: int) -> Path:
    """Path of chunk ``index`` in a sweep store."""
    return Path(store) / f"chunk_{index:06d}.nc"


def _chunk_index(file: Path) -> int | None:
    try:
        return int(file.stem.split("_", 1)[1])
    except (IndexError, ValueError):
        return None


def _measure_id(measure: str | Callable) -> str:
    if isinstance(measure, str):
        return measure
    name = f"{getattr(measure, '__module__', '?')}.{getattr(measure, '__qualname__', '?')}"
    try:
        source = inspect.getsource(measure)
    except (OSError, TypeError):
        source = repr(measure)
    return f"callable {name} (source sha256 {hashlib.sha256(source.encode()).hexdigest()[:16]})"


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=to_python))


def _model_digest(model: Model, text: str) -> str:
    digest = hashlib.sha256(text.encode())
    for conn in model.connections:  # a matrix read from a .npy file is not in the TOML
        if isinstance(conn.matrix, str):
            digest.update(np.ascontiguousarray(model.coupling_matrix()).tobytes())
            break
    return digest.hexdigest()


def make_manifest(model: Model, model_text: str, dims: list[Dim], measure: str | Callable,
                  options: dict[str, Any], n_points: int, n_chunks: int) -> dict[str, Any]:
    """The manifest of a sweep: what identifies it (hashed into ``sweep_key``) and its size."""
    grid = {p: v.tolist() for d in dims for p, v in zip(d.paths, d.values, strict=True)}
    core = {
        "neurorect_version": __version__,
        "model_sha256": _model_digest(model, model_text),
        "grid": grid,
        "dims": [[d.name, list(d.paths)] for d in dims],
        "measure": _measure_id(measure),
        "options": options,
    }
    core = _canonical(core)
    key = hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()
    return {"format": _STORE_FORMAT, "format_version": _STORE_FORMAT_VERSION, **core,
            "sweep_key": key, "model": model_text, "n_points": n_points, "n_chunks": n_chunks}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    if old.get("format") != new["format"] or old.get("format_version") != new["format_version"]:
        return [f"store format ({old.get('format')} {old.get('format_version')}, "
                f"expected {new['format']} {new['format_version']})"]
    if old.get("model_sha256") != new["model_sha256"]:
        import difflib

        lines = [line for line in difflib.unified_diff(
            str(old.get("model", "")).splitlines(), new["model"].splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        shown = "; ".join(lines[:4]) + (" ..." if len(lines) > 4 else "")
        out.append(f"model (TOML sha256 {str(old.get('model_sha256'))[:12]} in the store, "
                   f"{new['model_sha256'][:12]} now{': ' + shown if shown else ''})")
    if old.get("grid") != new["grid"] or old.get("dims") != new["dims"]:
        old_grid, new_grid = old.get("grid", {}), new["grid"]
        parts = [f"{p} only in the store" for p in old_grid if p not in new_grid]
        parts += [f"{p} only now" for p in new_grid if p not in old_grid]
        parts += [f"{p} values differ ({len(old_grid[p])} in the store, {len(new_grid[p])} "
                  "now)" for p in new_grid if p in old_grid and old_grid[p] != new_grid[p]]
        if not parts:
            parts = [f"dims {old.get('dims')} in the store, {new['dims']} now"]
        out.append("grid (" + "; ".join(parts) + ")")
    if old.get("measure") != new["measure"]:
        out.append(f"measure ({old.get('measure')!r} in the store, {new['measure']!r} now)")
    if old.get("options") != new["options"]:
        old_opt, new_opt = old.get("options", {}), new["options"]
        keys = sorted(k for k in set(old_opt) | set(new_opt) if old_opt.get(k) != new_opt.get(k))
        out.append("options (" + "; ".join(f"{k}: {old_opt.get(k)!r} in the store, "
                                           f"{new_opt.get(k)!r} now" for k in keys) + ")")
    if old.get("neurorect_version") != new["neurorect_version"]:
        out.append(f"neurorect version ({old.get('neurorect_version')} in the store, "
                   f"{new['neurorect_version']} now)")
    return out


# ----------------------------------------------------------------------- files, lock, errors
@contextmanager
def _os_errors(action: str, path: Path) -> Iterator[None]:
    """An OSError while doing ``action`` on ``path`` as a one-line FileError."""
    try:
        yield
    except FileError:
        raise
    except OSError as error:
        raise FileError(f"cannot {action} {path}: {error.strerror or error}") from None


@contextmanager
def _locked(store: Path) -> Iterator[None]:
    """Hold the store's lock (other processes on this store wait; not re-entrant)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with _os_errors("lock the sweep store", store / _LOCK):
        handle = os.open(store / _LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _os_errors("read", path), open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _points_sha256(points: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(points, dtype="<i8").tobytes()).hexdigest()


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (OSError, ValueError) as error:
        raise StoreMismatchError(f"{path}: unreadable manifest ({error}); use another "
                                 "store, or overwrite=True (--overwrite)") from None


def _write_manifest(store: Path, manifest: Mapping[str, Any]) -> None:
    write_text(store / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def _remove_stale_temporaries(store: Path) -> None:
    """Delete temporary files left by writers killed (SIGKILL) more than an hour ago."""
    now = time.time()
    for pattern in (f".chunk_*{TEMPORARY_MARK}.nc", f".manifest*{TEMPORARY_MARK}.json"):
        for file in store.glob(pattern):
            try:
                if now - file.stat().st_mtime > _STALE_SECONDS:
                    file.unlink()
            except OSError:
                continue


# ------------------------------------------------------------------------------ verification
def verify_chunk(file: Path, index: int, sweep_key: str, record: Mapping[str, Any] | None,
                 points: np.ndarray | None = None) -> tuple[xr.Dataset | None, str | None]:
    """Check one chunk file; return ``(dataset, None)``, or ``(None, reason)`` in words.

    Parameters
    ----------
    file : Path
    index : int
        The chunk its name says it is.
    sweep_key : str
        The sweep's key (the manifest's ``sweep_key``).
    record : mapping or None
        The manifest's record of the chunk (None: none was written).
    points : ndarray, optional
        The chunk's grid points in the layout, when the caller knows them.
    """
    digest = _sha256(file)
    try:
        dataset = load(file)
    except FileError as error:
        return None, f"unreadable: {str(error).split(': ', 1)[-1]}"
    found_key = dataset.attrs.get("sweep_key")
    if found_key != sweep_key:
        return None, (f"belongs to another sweep (its sweep_key {str(found_key)[:12]}, this "
                      f"sweep's {sweep_key[:12]})")
    found_index = dataset.attrs.get("chunk")
    if found_index is None or int(found_index) != index:
        return None, f"holds chunk {found_index}, not chunk {index} (renamed or copied?)"
    if "point" not in dataset.coords:
        return None, "has no 'point' coordinate"
    stored = np.asarray(dataset["point"].values, dtype=np.int64)
    if points is not None and not np.array_equal(stored, np.asarray(points, dtype=np.int64)):
        return None, f"holds other grid points than chunk {index} of this sweep"
    if record is None:
        return None, "no checksum recorded for it in the manifest (this sweep did not write it)"
    if record.get("points_sha256") != _points_sha256(stored):
        return None, "holds other grid points than recorded when it was written"
    if record.get("sha256") != digest:
        return None, (f"its contents changed after it was written (sha256 {digest[:12]}, "
                      f"recorded {str(record.get('sha256'))[:12]}): edited or damaged")
    return dataset, None


def _move_aside(store: Path, file: Path, reason: str) -> Path:
    """Move a bad chunk file into ``STORE/corrupt/`` (never overwriting) and log why."""
    folder = store / CORRUPT
    with _os_errors("move the bad chunk aside into", folder):
        folder.mkdir(exist_ok=True)
        target = folder / file.name
        n = 1
        while target.exists():
            target = folder / f"{file.stem}.{n}{file.suffix}"
            n += 1
        os.replace(file, target)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(folder / "reasons.txt", "a", encoding="utf-8") as log:
            log.write(f"{stamp} {file.name} -> {target.name}: {reason}\n")
    return target


def _verified(store: Path, files: list[Path], manifest: Mapping[str, Any],
              records: Mapping[str, Any],
              points: Mapping[int, np.ndarray] | None) -> tuple[dict[str, Any], list[str]]:
    """The records of the good chunk files; the bad ones moved aside, with their reasons."""
    kept: dict[str, Any] = {}
    bad: list[str] = []
    n_chunks = manifest["n_chunks"]
    for file in files:
        index = _chunk_index(file)
        if index is None:
            continue  # not named like a chunk of ours: left alone
        if index >= n_chunks:
            reason = f"not a chunk of this sweep (it has {n_chunks} chunks)"
        else:
            expected = None if points is None else points.get(index)
            record = records.get(str(index))
            _, reason = verify_chunk(file, index, manifest["sweep_key"], record, expected)
        if reason is None:
            kept[str(index)] = records[str(index)]
            continue
        moved = _move_aside(store, file, reason)
        bad.append(f"{file.name} ({reason}; now {moved.relative_to(store)})")
    return kept, bad


# --------------------------------------------------------------------------------- the store
def open_store(store: Path, manifest: dict[str, Any], *, resume: bool, overwrite: bool,
               points: Mapping[int, np.ndarray] | None = None) -> set[int]:
    """Check or create the store; return the indices of the verified chunks already in it.

    With ``resume``, every chunk file is verified (see the module docstring): the bad ones
    are moved to ``corrupt/`` (one NeurorectWarning names them and why) and left out of the
    returned set, so that they are computed again. ``points`` (``{chunk index: grid
    points}``, from the layout) adds the check of each chunk's points against the layout.
    """
    with _os_errors("create the sweep store", store):
        store.mkdir(parents=True, exist_ok=True)
    with _locked(store), _os_errors("use the sweep store", store):
        path = store / MANIFEST
        _remove_stale_temporaries(store)
        existing = sorted(store.glob("chunk_*.nc"))
        old: dict[str, Any] = {}
        if overwrite:
            for file in existing:
                file.unlink()
            existing = []
        elif path.exists():
            old = _read_manifest(path)
            differences = _differences(old, manifest)
            if differences:
                raise StoreMismatchError(
                    f"sweep store {store} was made for a different sweep: it differs in "
                    + ", and in ".join(differences)
                    + "; results are never mixed: use another store, or overwrite=True "
                      "(--overwrite) to discard its chunks")
        elif existing:
            raise StoreMismatchError(f"{store} holds chunk files but no {MANIFEST}: not a "
                                     "sweep store of this sweep; use another store, or "
                                     "overwrite=True (--overwrite)")
        present = [f for f in existing
                   if (i := _chunk_index(f)) is not None and i < manifest["n_chunks"]]
        if present and not resume:
            raise StoreMismatchError(
                f"sweep store {store} already holds {len(present)} of {manifest['n_chunks']} "
                "chunks of this sweep; pass resume=True (--resume) to compute only the "
                "missing ones, or overwrite=True (--overwrite) to start again")
        records = old.get("chunks", {}) if isinstance(old.get("chunks"), dict) else {}
        kept, bad = _verified(store, existing, manifest, records, points)
        _write_manifest(store, {**manifest, "chunks": kept})
    if bad:
        warnings.warn(NeurorectWarning(
            f"sweep store {store}: {len(bad)} chunk file(s) failed verification and will be "
            f"computed again: " + "; ".join(bad)), stacklevel=3)
    return {int(index) for index in kept}


def save_chunk(store: Path, index: int, result: xr.Dataset) -> None:
    """Write chunk ``index`` atomically and record its checksum in the manifest.

    The record is written before the file is renamed into place, both under the store's
    lock: a killed run leaves no partial chunk file and no chunk file without its record.
    Raises FileError (naming the file and the cause) if either cannot be written; the chunks
    written before are kept.
    """
    target = chunk_file(store, index)
    points = np.asarray(result["point"].values, dtype=np.int64)
    try:
        with _locked(store), atomic_path(target) as temporary:
            write_netcdf(result, temporary, name=target)
            record = {"sha256": _sha256(temporary), "bytes": temporary.stat().st_size,
                      "points_sha256": _points_sha256(points), "n_points": int(points.size)}
            manifest = _read_manifest(store / MANIFEST)
            manifest.setdefault("chunks", {})[str(index)] = record
            _write_manifest(store, manifest)
    except FileError as error:
        raise FileError(f"{error}; the chunks already in {store} are kept: run again with "
                        "resume=True (--resume) to compute only the missing ones") from None


def _records(store: Path) -> dict[str, Any]:
    """The manifest's chunk records (read once per version of the manifest file)."""
    path = store / MANIFEST
    with _os_errors("read", path):
        info = path.stat()
    return _records_of(str(path), info.st_mtime_ns, info.st_size, info.st_ino)


@functools.lru_cache(maxsize=4)
def _records_of(path: str, *stamp: int) -> dict[str, Any]:
    chunks = _read_manifest(Path(path)).get("chunks", {})
    return chunks if isinstance(chunks, dict) else {}


def load_chunk(store: Path, index: int, key: str) -> xr.Dataset:
    """Read chunk ``index``, verified again (sweep ``key``, checksum, points)."""
    file = chunk_file(store, index)
    dataset, reason = verify_chunk(file, index, key, _records(store).get(str(index)))
    if reason is not None:
        raise StoreMismatchError(f"{file} {reason}; it was verified when the run started, so "
                                 "it changed during the run: run again with resume=True "
                                 "(--resume) to compute it again")
    return dataset
