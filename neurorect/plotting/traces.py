"""Time traces of a simulation: rate lines, or a heat map for large populations."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["plot_rates", "HEATMAP_ABOVE"]

#: Populations with more recorded neurons than this are drawn as a heat map.
HEATMAP_ABOVE = 20


def plot_rates(ax, dataset: xr.Dataset, *, variable: str = "rate", max_lines: int = HEATMAP_ABOVE):
    """Rate traces over time: one line per neuron, or a heat map for large populations.

    Populations are labelled: lines take one colour per population (one legend entry
    each); a heat map (neuron x time) marks the population boundaries and names each
    population's band on the neuron axis.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    dataset : xarray.Dataset
        A :func:`neurorect.simulate` result with a recorded ``rate`` (time, neuron).
    variable : str
        ``"rate"`` or ``"state"``.
    max_lines : int
        Above this many neurons, draw a heat map (neuron x time, colour = rate).

    Returns
    -------
    list
        The matplotlib artists.
    """
    if variable not in dataset:
        raise ValueError(f"the dataset has no recorded {variable!r}; simulate with "
                         f"record='{variable}'")
    trace = dataset[variable]
    neuron_dim = "neuron" if "neuron" in trace.dims else "recorded"
    time = trace["time"].values
    units = trace.attrs.get("units", "")
    populations = _populations(dataset, trace, neuron_dim)
    if trace.sizes[neuron_dim] <= max_lines:
        artists = []
        names = list(dict.fromkeys(populations))
        for j in range(trace.sizes[neuron_dim]):
            colour = f"C{names.index(populations[j]) % 10}"
            first = populations.index(populations[j]) == j
            count = populations.count(populations[j])
            label = (f"{populations[j]} ({count} neuron{'s' if count > 1 else ''})"
                     if first else None)
            artists += ax.plot(time, trace.isel({neuron_dim: j}).values, lw=1, color=colour,
                               label=label)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"{variable} ({units})")
        ax.legend(fontsize="small", loc="upper right", title="population")
        return artists
    values = np.asarray(trace.transpose(neuron_dim, "time").values)
    image = ax.imshow(values, aspect="auto", origin="lower", interpolation="nearest",
                      extent=(time[0], time[-1], -0.5, values.shape[0] - 0.5), cmap="viridis")
    colorbar = ax.figure.colorbar(image, ax=ax, label=f"{variable} ({units})")
    ax.set_xlabel("time (s)")
    _label_bands(ax, populations)
    return [image, colorbar]


def _populations(dataset: xr.Dataset, trace: xr.DataArray, neuron_dim: str) -> list[str]:
    """The population of each recorded neuron ("neuron j" labels when unknown)."""
    if "neuron_population" not in dataset:
        return [f"neuron {j}" for j in range(trace.sizes[neuron_dim])]
    names = dataset["neuron_population"].values
    if neuron_dim == "recorded":
        names = names[dataset["recorded_neuron"].values]
    return [str(name) for name in names]


def _label_bands(ax, populations: list[str]) -> None:
    """Lines between populations and their names beside the neuron axis of a heat map."""
    starts = [j for j in range(len(populations))
              if j == 0 or populations[j] != populations[j - 1]]
    stops = starts[1:] + [len(populations)]
    for start in starts[1:]:
        ax.axhline(start - 0.5, color="white", lw=1.5)
    ax.set_yticks([(a + b - 1) / 2 for a, b in zip(starts, stops, strict=True)],
                  labels=[f"{populations[a]}\n({b - a})" for a, b in zip(starts, stops,
                                                                         strict=True)])
    ax.set_ylabel("neuron (population, size)")
