"""Sweep grids: parse value specs, build the labelled dims, validate every path and value up
front (before anything runs).

A grid is ``{dotted path: values}``; :func:`build_dims` turns it into one :class:`Dim` per
product axis (a zipped group of paths shares one), names each dim after its first path (see
:func:`neurorect.sweeps.run_sweep` for the naming rule) and classifies it by how the engine
can run it: ``"outer"`` (changes the shape or method of a run: looped outside the batch),
``"freq"`` (a drive frequency: sets the duration of the ``response`` measure) or ``"batch"``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurorect._paths import dimension_at
from neurorect.errors import ModelError
from neurorect.spec import Model
from neurorect.units import DimensionError, Expected, dimension_of, parse_quantity, to_si

__all__ = ["parse_values", "Dim", "build_dims", "validate_grid", "to_python"]

_VALIDATE_ALL_UP_TO = 64  # unique values per path validated one by one; beyond: min and max
_CORNER_COMBOS = 256  # unbatchable combinations checked against the batched paths up-front
_UNSWEEPABLE = ("simulation.n_harmonics", "simulation.record", "simulation.record_every",
                "name", "description")

_RANGE_HELP = ("a list, 'start:stop:num' or 'lin:start:stop:num' (linspace), "
               "'log:start:stop:num' or 'start:stop:log:num' (geometric, start and stop > 0), "
               "or 'v1,v2,...'")


def parse_values(spec: Any, *, key: str = "values",
                 dimension: str | Expected | None = None) -> np.ndarray:
    """Parse the values of one swept parameter.

    Parameters
    ----------
    spec : str, number, sequence or numpy array
        ``"start:stop:num"``, ``"lin:start:stop:num"`` (linspace), ``"log:start:stop:num"``
        (geometric, endpoints exact), ``"v1,v2,..."``, a number, or a sequence of numbers,
        unit strings (``"5 ms"``, converted to SI) or words (``"rk4"``).
    key : str
        The parameter's path, named in errors.
    dimension : str or Expected, optional
        The parameter's dimension (:data:`neurorect.units.DIMENSIONS`, e.g. ``"time"``):
        a unit string or a Brian2 quantity of another one is refused. Default: not checked.

    Returns
    -------
    numpy.ndarray
        1-D: float64 (SI), int64 (all integers given), or str (words).

    Raises
    ------
    ModelError
        Malformed spec, empty or non-finite values, or numbers mixed with words; a
        DimensionError for a unit of another dimension than ``dimension``.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if ":" in text:
            return _parse_range(text, key, dimension)
        return _convert_items([item for item in text.split(",")], key, spec, dimension)
    if np.ndim(spec) > 0 and dimension_of(spec) is not None:  # a Brian2 array
        return _convert_items(list(np.atleast_1d(to_si(spec, dimension, key=key))), key, spec)
    if isinstance(spec, np.ndarray):
        if spec.ndim > 1:
            raise ModelError("values must be one-dimensional", key=key,
                             value=f"array of shape {spec.shape}", allowed=_RANGE_HELP)
        return _convert_items(list(np.atleast_1d(spec).tolist()), key, spec, dimension)
    if isinstance(spec, (list, tuple, range)):
        return _convert_items(list(spec), key, spec, dimension)
    return _convert_items([spec], key, spec, dimension)


def _parse_range(text: str, key: str, dimension: str | Expected | None) -> np.ndarray:
    parts = [part.strip() for part in text.split(":")]
    kind = "lin"
    if parts[0].lower() in ("lin", "log"):
        kind, parts = parts[0].lower(), parts[1:]
    elif len(parts) == 4 and parts[2].lower() in ("lin", "log"):  # start:stop:log:num
        kind, parts = parts[2].lower(), [parts[0], parts[1], parts[3]]
    if len(parts) != 3:
        raise ModelError("malformed range", key=key, value=text, allowed=_RANGE_HELP)
    try:
        start = parse_quantity(parts[0], dimension, key=key)
        stop = parse_quantity(parts[1], dimension, key=key)
        num = float(parts[2])
    except DimensionError:
        raise
    except ValueError as error:
        raise ModelError(f"malformed range ({error})", key=key, value=text,
                         allowed=_RANGE_HELP) from None
    if not (num.is_integer() and num >= 1):
        raise ModelError("the number of points must be an integer >= 1", key=key, value=text,
                         allowed=_RANGE_HELP)
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ModelError("range ends must be finite", key=key, value=text, allowed=_RANGE_HELP)
    if kind == "log":
        if start <= 0 or stop <= 0:
            raise ModelError("a log range needs start > 0 and stop > 0", key=key, value=text,
                             allowed=_RANGE_HELP)
        return np.geomspace(start, stop, int(num))
    return np.linspace(start, stop, int(num))


def _convert_items(items: list, key: str, original: Any,
                   dimension: str | Expected | None = None) -> np.ndarray:
    if not items:
        raise ModelError("no values", key=key, value=original, allowed=_RANGE_HELP)
    out: list = []
    words = False
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise ModelError("booleans cannot be swept", key=key, value=item,
                             allowed="numbers, quantity strings or words")
        if isinstance(item, (int, np.integer)):
            out.append(int(item))
        elif isinstance(item, (float, np.floating)):
            out.append(float(item))
        elif isinstance(item, str):
            text = item.strip()
            try:
                out.append(parse_quantity(text, dimension, key=key))
            except DimensionError:
                raise
            except ValueError:
                if not text:
                    raise ModelError("empty value", key=key, value=original,
                                     allowed=_RANGE_HELP) from None
                out.append(text)
                words = True
        else:
            try:
                out.append(parse_quantity(item, dimension, key=key))
            except DimensionError:
                raise
            except ValueError:
                raise ModelError("not a number", key=key, value=item,
                                 allowed=_RANGE_HELP) from None
    if words:
        if not all(isinstance(v, str) for v in out):
            raise ModelError("numbers mixed with words", key=key, value=original,
                             allowed="all numbers (with or without units) or all words")
        return np.array(out, dtype=str)
    if all(isinstance(v, int) for v in out):
        return np.array(out, dtype=np.int64)
    array = np.array(out, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ModelError("values must be finite", key=key,
                         value=float(array[~np.isfinite(array)][0]), allowed="finite numbers")
    return array


@dataclass(frozen=True)
class Dim:
    """One dim of the grid: a path, or a zipped group of paths sharing the dim."""

    name: str
    paths: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    kind: str  # "outer" (looped outside the batch), "freq" (sets the duration), "batch"
    names: tuple[str, ...] = ()  # coordinate name of each path (the first is the dim's)

    @property
    def size(self) -> int:
        return int(self.values[0].size)


def _base_value(model: Model, path: str) -> Any:
    try:
        return model.get_value(path)
    except ModelError:
        return None


def _coerce(model: Model, path: str, values: np.ndarray) -> np.ndarray:
    """Match the values' type to the parameter's: integers, floats or words."""
    base = _base_value(model, path)
    if isinstance(base, str):
        return values.astype(str)
    if values.dtype.kind == "U":
        raise ModelError("must be numbers", key=path, value=values[0].item(),
                         allowed="numbers or quantity strings such as '5 ms'",
                         file=model.source)
    if isinstance(base, (int, np.integer)) and not isinstance(base, bool):
        as_float = values.astype(float)
        if not np.all(np.isfinite(as_float) & (np.round(as_float) == as_float)):
            bad = as_float[~(np.isfinite(as_float) & (np.round(as_float) == as_float))][0]
            raise ModelError("must be an integer", key=path, value=float(bad),
                             allowed="integers", file=model.source)
        return as_float.astype(np.int64) if values.dtype.kind == "f" else values
    return values.astype(float)


def to_python(value: Any) -> Any:
    """A numpy scalar as the Python number or str it holds (other values unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


def _coord_names(paths: Sequence[str], reserved: set[str]) -> dict[str, str]:
    """Short, unique coordinate names: ``alpha``; ``E_alpha`` on a clash; else the path."""
    def name(path: str, level: int) -> str:
        parts = path.split(".")
        if level == 0:
            return parts[-1]
        if level == 1 and len(parts) >= 3:
            return f"{parts[1]}_{parts[-1]}"
        return "_".join(parts)

    levels = dict.fromkeys(paths, 0)
    while True:
        names = {p: name(p, levels[p]) for p in paths}
        counts = Counter(names.values())
        clashing = [p for p in paths if (counts[names[p]] > 1 or names[p] in reserved)
                    and levels[p] < 2]
        if not clashing:
            break
        for path in clashing:
            levels[path] += 1
    for path, value in names.items():
        if value in reserved:
            raise ModelError("the parameter's name clashes with a result variable or dim",
                             key=path, value=value, allowed="another path")
    return names


def _probe_batchable(model: Model, path: str, value: Any) -> bool:
    """True if ``path`` can go into the engine's batch dimension (checked by compiling)."""
    from neurorect._plan import batch_kind, compile_plan

    try:
        batch_kind(model, path)
        compile_plan(model, seed=model.simulation.seed, batch={path: [to_python(value)]})
    except (ModelError, TypeError, ValueError):
        return False
    return True


def build_dims(model: Model, grid: Mapping[str, Any], mode: str,
                zip_paths: Sequence[Sequence[str]] | Sequence[str] | None,
                reserved: set[str]) -> list[Dim]:
    """The dims of ``grid`` (values parsed, typed like the parameters and validated against
    ``model``); coordinate names avoid ``reserved`` (result variables and dims)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ModelError("the grid is empty", key="grid", value=grid,
                         allowed="{dotted path: values, ...}")
    if mode not in ("product", "zip"):
        raise ModelError("unknown mode", key="mode", value=mode, allowed="'product' or 'zip'")
    values: dict[str, np.ndarray] = {}
    for path, spec in grid.items():
        if not isinstance(path, str) or not path:
            raise ModelError("a path must be a non-empty string", key="grid", value=path,
                             allowed="dotted paths such as 'populations.E.transfer.alpha'")
        if path in _UNSWEEPABLE:
            raise ModelError("cannot be swept", key=path, value=spec,
                             allowed="model parameters (it is a setting of the run)")
        try:
            parsed = parse_values(spec, key=path, dimension=dimension_at(model, path))
        except DimensionError as error:
            raise error.in_context(file=model.source) from None
        values[path] = _coerce(model, path, parsed)
        _check_values(model, path, values[path])
    groups = [list(grid)] if mode == "zip" else _zip_groups(list(values), zip_paths)
    for group in groups:
        sizes = {p: values[p].size for p in group}
        if len(set(sizes.values())) > 1:
            raise ModelError("zipped paths have different lengths", key="zip_paths",
                             value=sizes, allowed="equal lengths")
    names = _coord_names(list(values), reserved)
    dims = []
    for group in groups:
        kinds = []
        for path in group:
            ok = _probe_batchable(model, path, values[path][0])
            is_freq = path.startswith("drives.") and path.endswith(".freq")
            kinds.append("outer" if not ok else ("freq" if is_freq else "batch"))
        kind = "outer" if "outer" in kinds else ("freq" if "freq" in kinds else "batch")
        dims.append(Dim(name=names[group[0]], paths=tuple(group),
                         values=tuple(values[p] for p in group), kind=kind,
                         names=tuple(names[p] for p in group)))
    return dims


def _zip_groups(paths: list[str],
                zip_paths: Sequence[Sequence[str]] | Sequence[str] | None) -> list[list[str]]:
    """The product axes: groups of zipped paths (in grid order), every other path alone."""
    if zip_paths is None:
        raw: list[list[str]] = []
    elif all(isinstance(p, str) for p in zip_paths):
        raw = [list(zip_paths)]
    else:
        raw = [list(group) for group in zip_paths]
    seen: set[str] = set()
    for group in raw:
        for path in group:
            if path not in paths:
                raise ModelError("zipped path is not in the grid", key="zip_paths",
                                 value=path, allowed=", ".join(paths))
            if path in seen:
                raise ModelError("path zipped twice", key="zip_paths", value=path,
                                 allowed="each path in at most one group")
            seen.add(path)
    groups = []
    emitted: set[str] = set()
    for path in paths:
        if path in emitted:
            continue
        group = next((g for g in raw if path in g), [path])
        groups.append([p for p in paths if p in group])
        emitted.update(group)
    return groups


def _check_values(model: Model, path: str, values: np.ndarray) -> None:
    """Each value (the extremes beyond 64 distinct ones) through the model's validation."""
    unique = np.unique(values)
    if unique.size > _VALIDATE_ALL_UP_TO and unique.dtype.kind != "U":
        unique = np.array([unique.min(), unique.max()])
    for value in unique:
        model.with_values({path: to_python(value)})


def validate_grid(model: Model, dims: list[Dim]) -> None:
    """The batched paths' extremes against each combination of unbatchable values (up to
    ``_CORNER_COMBOS`` of them); each path's values were checked against the base model."""
    outer = [d for d in dims if d.kind == "outer"]
    inner = [d for d in dims if d.kind != "outer"]
    if not outer:
        return
    shape = [d.size for d in outer]
    n_combos = int(np.prod(shape))
    picks = range(n_combos) if n_combos <= _CORNER_COMBOS else (0, n_combos - 1)
    for flat in picks:
        index = np.unravel_index(flat, shape)
        point = {p: to_python(v[i]) for d, i in zip(outer, index, strict=True)
                 for p, v in zip(d.paths, d.values, strict=True)}
        outer_model = model.with_values(point)
        for dim in inner:
            for path, values in zip(dim.paths, dim.values, strict=True):
                for value in {values.min(), values.max()}:
                    outer_model.with_values({path: to_python(value)})
