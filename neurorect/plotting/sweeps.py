"""Matplotlib figures of sweep results (:func:`neurorect.run_sweep`).

Functions take an Axes and a Dataset and return the artists. A sweep result has one dim per
swept parameter plus measure dims (``population``, ``harmonic``); the functions reduce it to
the dims they draw: ``population`` and ``harmonic`` are picked by argument (default: the first
population, harmonic 1) and the other sweep dims by ``sel`` (nearest value) or, when not
given, their first value. :func:`reduce_sweep` does that reduction and reports what it picked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurorect.plotting.bode import bode_axes, draw_bode

__all__ = ["reduce_sweep", "plot_sweep_heatmap", "plot_bode_family", "plot_sweep_line",
           "sweep_dims", "cell_edges"]

_MEASURE_DIMS = ("population", "harmonic")


def sweep_dims(dataset: xr.Dataset) -> list[str]:
    """The swept dims of a sweep result, in grid order."""
    if "sweep_dims" in dataset.attrs:
        return [name for name, _ in json.loads(dataset.attrs["sweep_dims"])]
    return [d for d in dataset.dims if d not in _MEASURE_DIMS]


def reduce_sweep(dataset: xr.Dataset, variable: str, keep: tuple[str, ...], *,
                 population: str | None = None, harmonic: int = 1,
                 sel: Mapping[str, Any] | None = None) -> tuple[xr.DataArray, dict[str, Any]]:
    """Reduce ``dataset[variable]`` to the dims ``keep``.

    Parameters
    ----------
    dataset : xarray.Dataset
        A sweep result.
    variable : str
        E.g. ``"gain"``, ``"mean_rate"``, ``"amplitude"``, ``"phase"``.
    keep : tuple of str
        Dims to keep, in order.
    population : str, optional
        Population to show (default: the first).
    harmonic : int
        Harmonic to show for variables with a ``harmonic`` dim.
    sel : mapping, optional
        ``{dim: value}`` for the other dims (nearest value); unlisted dims take their first
        value.

    Returns
    -------
    (xarray.DataArray, dict)
        The reduced array and ``{dim: value picked}`` for every dim removed.
    """
    if variable not in dataset:
        raise ValueError(f"no variable {variable!r} in the dataset; it has "
                         f"{', '.join(map(str, dataset.data_vars))}")
    array = dataset[variable]
    for dim in keep:
        if dim not in array.dims:
            raise ValueError(f"{variable!r} has no dim {dim!r}; its dims are "
                             f"{', '.join(map(str, array.dims))}")
    picked: dict[str, Any] = {}
    sel = dict(sel or {})
    for dim in list(array.dims):
        if dim in keep:
            continue
        if dim == "population" and population is not None and "population" not in sel:
            sel["population"] = population
        if dim == "harmonic" and "harmonic" not in sel:
            sel["harmonic"] = harmonic
        if dim in sel:
            value = sel[dim]
            if dim in array.coords and array[dim].dtype.kind in "iuf":
                array = array.sel({dim: value}, method="nearest")
            else:
                array = array.sel({dim: value})
        else:
            array = array.isel({dim: 0})
        picked[dim] = array[dim].values.item() if dim in array.coords else 0
    unknown = [d for d in sel if d not in dataset[variable].dims]
    if unknown:
        raise ValueError(f"cannot select {', '.join(unknown)}: not dims of {variable!r}")
    return array.transpose(*keep), picked


def _is_log(values: np.ndarray) -> bool:
    """Positive and more evenly spaced in log than in linear scale."""
    values = np.asarray(values, dtype=float)
    if values.size < 3 or np.any(values <= 0):
        return False
    linear = np.diff(values)
    logarithmic = np.diff(np.log(values))
    return bool(_spread(logarithmic) < _spread(linear))


def _spread(steps: np.ndarray) -> float:
    mean = np.mean(steps)
    return float(np.std(steps) / abs(mean)) if mean != 0 else np.inf


def _uniform(steps: np.ndarray) -> bool:
    return bool(np.all(np.abs(steps - steps.mean()) <= 1e-6 * abs(steps.mean())))


def cell_edges(values: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges of a heat map over the sampled ``values`` (sorted; in log space if ``log``).

    Each cell holds the points nearer to its value than to any other (edges half-way
    between neighbours). On a uniform grid the outer cells are as wide as the others (the
    axis extends half a step beyond the extreme values); on an irregular grid (alpha = 0,
    0.1, 0.3, 1) the outer cells stop at the extreme values, so the axis spans exactly the
    sampled range instead of extrapolating half of a large last step beyond it.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return values[0] * np.array([0.5, 2.0]) if log else values[0] + np.array([-0.5, 0.5])
    x = np.log(values) if log else values
    middle = 0.5 * (x[1:] + x[:-1])
    if _uniform(np.diff(x)):
        first, last = x[0] - (middle[0] - x[0]), x[-1] + (x[-1] - middle[-1])
    else:
        first, last = x[0], x[-1]
    edges = np.concatenate([[first], middle, [last]])
    return np.exp(edges) if log else edges


def _mark_samples(axis, values: np.ndarray, log: bool) -> None:
    """Ticks at the sampled values of an irregular grid (up to 12 of them), so that the
    reader sees where the cells' values were computed."""
    x = np.log(values) if log else np.asarray(values, dtype=float)
    if values.size < 3 or values.size > 12 or _uniform(np.diff(x)):
        return
    axis.set_ticks(values, labels=[f"{v:g}" for v in values])
    axis.set_ticks([], minor=True)


def _label(array: xr.DataArray, name: str) -> str:
    """``"leak slope alpha"`` for a swept coordinate (the long name with the coordinate's
    name, unless the long name ends in it), ``"population mean rate (Hz)"`` for a variable
    (a long name over 24 characters gives way to the name, so axis labels stay short)."""
    units = array.attrs.get("units", "")
    description = str(array.attrs.get("long_name", name)).split(" (")[0]
    if "path" in array.attrs:
        if description in (name, array.attrs["path"]):
            label = name
        elif description.endswith(name):
            label = description
        else:
            label = f"{description} {name}"
    else:  # a variable: its long name when short, else its name ("mean rate")
        label = description if 0 < len(description) <= 24 else name.replace("_", " ")
    return f"{label} ({units})" if units and units != "1" else label


def _title(picked: Mapping[str, Any]) -> str:
    """``"population = E, I0 = 0.2"``: the values :func:`reduce_sweep` picked."""
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in picked.items())


def plot_sweep_heatmap(ax, dataset: xr.Dataset, variable: str = "gain", *,
                       x: str | None = None, y: str | None = None,
                       population: str | None = None, harmonic: int = 1,
                       sel: Mapping[str, Any] | None = None, log_x: bool | None = None,
                       log_y: bool | None = None, log_color: bool = False,
                       cmap: str = "viridis", colorbar: bool = True) -> list:
    """Heat map of a sweep variable over two swept parameters (e.g. gain over alpha x freq).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    dataset : xarray.Dataset
        A :func:`neurorect.run_sweep` result.
    variable : str
        Variable to colour by (``"gain"``, ``"mean_rate"``, ``"amplitude"``, ...).
    x, y : str, optional
        Swept dims on the axes (default: ``freq`` on x if swept, else the first two).
    population, harmonic, sel
        See :func:`reduce_sweep`.
    log_x, log_y : bool, optional
        Log axes (default: when the coordinate is geometrically spaced).
    log_color : bool
        Logarithmic colour scale (positive values).
    cmap : str
    colorbar : bool

    Returns
    -------
    list
        The mesh (and the colorbar).
    """
    from matplotlib.colors import LogNorm

    dims = sweep_dims(dataset)
    if x is None:
        x = "freq" if "freq" in dims and y != "freq" else next(d for d in dims if d != y)
    if y is None:
        candidates = [d for d in dims if d != x]
        if not candidates:
            raise ValueError(f"a heat map needs two swept parameters, this sweep has one "
                             f"({x}): draw it as a line (plot_sweep_line, or --kind line)")
        y = candidates[0]
    array, picked = reduce_sweep(dataset, variable, (y, x), population=population,
                                 harmonic=harmonic, sel=sel)
    xs, ys = array[x].values, array[y].values
    log_x = _is_log(xs) if log_x is None else log_x
    log_y = _is_log(ys) if log_y is None else log_y
    values = np.asarray(array.values, dtype=float)
    norm = None
    if log_color:
        positive = values[np.isfinite(values) & (values > 0)]
        if positive.size:
            norm = LogNorm(vmin=positive.min(), vmax=positive.max())
    x_order, y_order = np.argsort(xs), np.argsort(ys)
    xs, ys, values = xs[x_order], ys[y_order], values[np.ix_(y_order, x_order)]
    mesh = ax.pcolormesh(cell_edges(xs, log_x), cell_edges(ys, log_y),
                         np.ma.masked_invalid(values), cmap=cmap, norm=norm, shading="flat")
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    _mark_samples(ax.xaxis, xs, log_x)
    _mark_samples(ax.yaxis, ys, log_y)
    ax.set_xlabel(_label(dataset[x], x))
    ax.set_ylabel(_label(dataset[y], y))
    title = _title(picked)
    if title:
        ax.set_title(title, fontsize="small")
    artists = [mesh]
    if colorbar:
        artists.append(ax.figure.colorbar(mesh, ax=ax, label=_label(dataset[variable],
                                                                      variable)))
    return artists


def plot_bode_family(ax, dataset: xr.Dataset, *, phase_ax=None, freq: str = "freq",
                     family: str | None = None, variable: str = "gain",
                     population: str | None = None, harmonic: int = 1,
                     sel: Mapping[str, Any] | None = None, cmap: str = "viridis",
                     max_curves: int = 12) -> list:
    """Family of Bode curves: gain (log-log) and phase against the drive frequency, one curve
    per value of another swept parameter (e.g. alpha).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes of the gain (or of ``variable``).
    dataset : xarray.Dataset
        A :func:`neurorect.run_sweep` result of measure ``"response"``.
    phase_ax : matplotlib.axes.Axes, optional
        Axes of the phase of harmonic ``harmonic`` (rad); omitted when None.
    freq : str
        The frequency dim.
    family : str, optional
        Dim giving one curve per value (default: the first other swept dim; none if there
        is no other).
    variable : str
        What the first axes shows (default ``"gain"``).
    population, harmonic, sel
        See :func:`reduce_sweep`.
    cmap : str
        Colour map over the family's values.
    max_curves : int
        At most this many curves (evenly picked from the family's values).

    Returns
    -------
    list
        The lines (gain, then phase) and the colorbar if one was drawn.
    """
    import matplotlib as mpl

    dims = sweep_dims(dataset)
    if freq not in dims:
        raise ValueError(f"no swept dim {freq!r}; sweep dims: {', '.join(dims)}")
    if family is None:
        others = [d for d in dims if d != freq]
        family = others[0] if others else None
    keep = (family, freq) if family else (freq,)
    gain, picked = reduce_sweep(dataset, variable, keep, population=population,
                                harmonic=harmonic, sel=sel)
    phase = None
    if phase_ax is not None:
        phase, _ = reduce_sweep(dataset, "phase", keep, population=population,
                                harmonic=harmonic, sel=sel)
    f = gain[freq].values
    if family:
        values = gain[family].values
        take = np.unique(np.round(np.linspace(0, values.size - 1,
                                              min(max_curves, values.size))).astype(int))
    else:
        values, take = np.array([np.nan]), np.array([0])
    colours = mpl.colormaps[cmap]
    numeric = family is not None and values.dtype.kind in "iuf" and values.size > 1
    low, high = (float(np.min(values)), float(np.max(values))) if numeric else (0.0, 1.0)
    norm = mpl.colors.Normalize(vmin=low, vmax=high if high > low else low + 1)
    # theory (fixed points) as lines; simulated values as points joined by a thin line
    style = dict(lw=1.2) if "theory" in dataset.attrs else dict(lw=0.8, marker="o", ms=3)
    artists: list = []
    for rank, i in enumerate(take):
        if family:
            curve = gain.isel({family: i}).values
            value = values[i]
            colour = colours(norm(value)) if numeric else colours(rank / max(1, take.size - 1))
            label = f"{family} = {value:g}" if numeric else f"{family} = {value}"
        else:
            curve, colour, label = gain.values, colours(0.2), None
        trace = None
        if phase is not None:
            trace = phase.isel({family: i}).values if family else phase.values
        artists += draw_bode(ax, phase_ax, f, curve, trace, color=colour, label=label,
                             **style)
    bode_axes(ax, phase_ax, gain_label=_label(dataset[variable], variable),
              freq_label=_label(dataset[freq], freq),
              phase_label=_label(dataset["phase"], "phase") if phase is not None else "",
              log_gain=bool(np.all(np.asarray(gain.values)[np.isfinite(gain.values)] > 0)))
    title = _title(picked)
    if title:
        ax.set_title(title, fontsize="small")
    if family and numeric and take.size > 6:
        mappable = mpl.cm.ScalarMappable(norm=norm, cmap=colours)
        axes = [ax, phase_ax] if phase_ax is not None else ax
        artists.append(ax.figure.colorbar(mappable, ax=axes, label=_label(dataset[family],
                                                                           family)))
    elif family:
        ax.legend(fontsize="small")
    return artists


def plot_sweep_line(ax, dataset: xr.Dataset, variable: str | None = None, *,
                    x: str | None = None, family: str | None = None,
                    population: str | None = None, harmonic: int = 1,
                    sel: Mapping[str, Any] | None = None, log_x: bool | None = None,
                    cmap: str = "viridis", max_curves: int = 12) -> list:
    """A sweep variable against one swept parameter: one curve, or one per value of
    ``family``.

    Values computed by theory (measures ``fixed_point`` and ``silent_fraction``) are drawn
    as lines; simulated values as points joined by a thin line, with error bars where the
    dataset has ``<variable>_se``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    dataset : xarray.Dataset
        A :func:`neurorect.run_sweep` result.
    variable : str, optional
        What to draw (default: ``gain`` if present, else ``mean_rate``, else the first
        variable).
    x : str, optional
        The swept dim on the x axis (default: ``freq`` if swept, else the first).
    family : str, optional
        Another swept dim giving one curve per value (at most ``max_curves``).
    population, harmonic, sel
        See :func:`reduce_sweep`.
    log_x : bool, optional
        Log x axis (default: when the values are geometrically spaced).

    Returns
    -------
    list
        The lines or error-bar containers, one per curve.
    """
    import matplotlib as mpl

    dims = sweep_dims(dataset)
    variable = variable or next((v for v in ("gain", "mean_rate", "fixed_point_rate")
                                 if v in dataset), str(next(iter(dataset.data_vars))))
    if x is None:
        x = "freq" if "freq" in dims and family != "freq" else next(d for d in dims
                                                                    if d != family)
    keep = (family, x) if family else (x,)
    array, picked = reduce_sweep(dataset, variable, keep, population=population,
                                 harmonic=harmonic, sel=sel)
    errors = None
    if f"{variable}_se" in dataset:
        errors, _ = reduce_sweep(dataset, f"{variable}_se", keep, population=population,
                                 harmonic=harmonic, sel=sel)
    xs = array[x].values
    order = np.argsort(xs)
    theory = "theory" in dataset.attrs
    style = (dict(lw=1.5) if theory and errors is None
             else dict(marker="o", ms=4, lw=0.8, capsize=2))
    values = array[family].values if family else np.array([None])
    take = np.unique(np.round(np.linspace(0, values.size - 1,
                                          min(max_curves, values.size))).astype(int))
    colours = mpl.colormaps[cmap]
    artists: list = []
    for rank, i in enumerate(take):
        curve = array.isel({family: i}) if family else array
        colour = colours(rank / max(1, take.size - 1)) if family else "C0"
        label = (f"{family} = {values[i]:g}" if family and values.dtype.kind in "iuf"
                 else f"{family} = {values[i]}" if family else None)
        y = np.asarray(curve.values, dtype=float)[order]
        if "marker" in style:
            yerr = None
            if errors is not None:
                yerr = np.asarray((errors.isel({family: i}) if family else errors).values,
                                  dtype=float)[order]
            artists.append(ax.errorbar(xs[order], y, yerr=yerr, color=colour, label=label,
                                       **style))
        else:
            artists += ax.plot(xs[order], y, color=colour, label=label, **style)
    if log_x if log_x is not None else _is_log(xs):
        ax.set_xscale("log")
    ax.set_xlabel(_label(dataset[x], x))
    ax.set_ylabel(_label(dataset[variable], variable))
    title = _title(picked)
    if title:
        ax.set_title(title, fontsize="small")
    if family:
        ax.legend(fontsize="small")
    return artists
