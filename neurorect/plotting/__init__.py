"""Matplotlib figures: each function takes Axes and a result Dataset and returns the artists.

traces (rates over time), bode (frequency responses), sweeps (heat maps and families of sweep
results), crossval (rate model against spiking LIF neurons and LIF theory).
"""

from neurorect.plotting.bode import plot_frequency_response
from neurorect.plotting.crossval import plot_crossval_bode, plot_fi
from neurorect.plotting.sweeps import plot_bode_family, plot_sweep_heatmap, reduce_sweep, sweep_dims
from neurorect.plotting.traces import HEATMAP_ABOVE, plot_rates

__all__ = ["plot_rates", "HEATMAP_ABOVE", "plot_frequency_response", "plot_sweep_heatmap",
           "plot_bode_family", "reduce_sweep", "sweep_dims", "plot_fi", "plot_crossval_bode"]
