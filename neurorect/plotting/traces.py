"""Time traces of a simulation: rate lines, or a heat map for large populations."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["plot_rates", "HEATMAP_ABOVE"]

#: Populations with more recorded neurons than this are drawn as a heat map.
HEATMAP_ABOVE = 20


def plot_rates(ax, dataset: xr.Dataset, *, variable: str = "rate", max_lines: int = HEATMAP_ABOVE):
    """Rate traces over time: one line per neuron, or a heat map for large populations.

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
    if trace.sizes[neuron_dim] <= max_lines:
        labels = (dataset["neuron_population"].values if neuron_dim == "neuron"
                  and "neuron_population" in dataset else None)
        artists = []
        for j in range(trace.sizes[neuron_dim]):
            label = f"{labels[j]} {j}" if labels is not None else f"neuron {j}"
            artists += ax.plot(time, trace.isel({neuron_dim: j}).values, lw=1, label=label)
        ax.set_xlabel("time (s)")
        ax.set_ylabel(f"{variable} ({units})")
        if trace.sizes[neuron_dim] <= 8:
            ax.legend(fontsize="small", loc="upper right")
        return artists
    values = np.asarray(trace.transpose(neuron_dim, "time").values)
    image = ax.imshow(values, aspect="auto", origin="lower", interpolation="nearest",
                      extent=(time[0], time[-1], -0.5, values.shape[0] - 0.5), cmap="viridis")
    colorbar = ax.figure.colorbar(image, ax=ax, label=f"{variable} ({units})")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    return [image, colorbar]
