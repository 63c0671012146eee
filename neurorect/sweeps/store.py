"""The sweep store: ``manifest.json`` plus one atomically written netCDF file per chunk.

A store made with another model, grid, measure, options or neurorect version is refused
with a message saying what differs; see :func:`neurorect.sweeps.run_sweep` ("Store and
resume") for the rules.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurorect._version import __version__
from neurorect.errors import NeurorectError
from neurorect.io import load, save
from neurorect.spec import Model
from neurorect.sweeps.grid import Dim, to_python

__all__ = ["MANIFEST", "StoreMismatchError", "chunk_file", "make_manifest", "open_store",
           "save_chunk", "load_chunk"]

#: Name of the store's manifest file.
MANIFEST = "manifest.json"
_STORE_FORMAT = "neurorect-sweep-store"
_STORE_FORMAT_VERSION = 1


class StoreMismatchError(NeurorectError, ValueError):
    """A sweep store was made for a different sweep (model, grid, measure, options or
    version), or holds chunks that a run without ``resume`` would mix with new ones."""


def chunk_file(store: str | Path, index: int) -> Path:
    """Path of chunk ``index`` in a sweep store."""
    return Path(store) / f"chunk_{index:06d}.nc"


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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(temporary, path)


def open_store(store: Path, manifest: dict[str, Any], *, resume: bool,
                overwrite: bool) -> set[int]:
    """Check or create the store; return the indices of the chunks already in it."""
    store.mkdir(parents=True, exist_ok=True)
    path = store / MANIFEST
    existing = sorted(store.glob("chunk_*.nc"))
    if overwrite:
        for file in existing:
            file.unlink()
        existing = []
    elif path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise StoreMismatchError(f"{path}: unreadable manifest ({error}); use another "
                                     "store, or overwrite=True (--overwrite)") from None
        differences = _differences(old, manifest)
        if differences:
            raise StoreMismatchError(
                f"sweep store {store} was made for a different sweep: it differs in "
                + ", and in ".join(differences)
                + "; results are never mixed: use another store, or overwrite=True "
                  "(--overwrite) to discard its chunks")
    elif existing:
        raise StoreMismatchError(f"{store} holds chunk files but no {MANIFEST}: not a sweep "
                                 "store of this sweep; use another store, or overwrite=True "
                                 "(--overwrite)")
    done = set()
    for file in existing:
        try:
            done.add(int(file.stem.split("_")[1]))
        except (IndexError, ValueError):
            continue
    done &= set(range(manifest["n_chunks"]))
    if done and not resume:
        raise StoreMismatchError(
            f"sweep store {store} already holds {len(done)} of {manifest['n_chunks']} chunks "
            "of this sweep; pass resume=True (--resume) to compute only the missing ones, or "
            "overwrite=True (--overwrite) to start again")
    _write_json(path, manifest)
    return done


def save_chunk(store: Path, index: int, result: xr.Dataset) -> None:
    """Write chunk ``index`` (atomically: a killed run leaves no partial chunk file)."""
    save(result, chunk_file(store, index))


def load_chunk(store: Path, index: int, key: str) -> xr.Dataset:
    """Read chunk ``index``, checking that it belongs to the sweep ``key``."""
    ds = load(chunk_file(store, index))
    if ds.attrs.get("sweep_key") != key:
        raise StoreMismatchError(f"{chunk_file(store, index)} belongs to another sweep (its "
                                 "sweep_key differs from the manifest's); use another store, "
                                 "or overwrite=True (--overwrite)")
    return ds
