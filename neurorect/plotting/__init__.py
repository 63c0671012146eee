"""Matplotlib figures: each function takes Axes and a result Dataset and returns the artists.

Plotting draws what a result holds (it computes no theory) and never imports Numba, Brian2
or the rate engine.

Modules
-------
``traces``
    Rates over time (:func:`plot_rates`): lines, or a heat map for large populations.
``bode``
    Frequency responses (:func:`plot_frequency_response`) and the Bode drawing core shared
    by every Bode figure.
``sweeps``
    Sweep results: a measure against one swept parameter (:func:`plot_sweep_line`), heat
    maps over two (:func:`plot_sweep_heatmap`) and Bode families (:func:`plot_bode_family`);
    :func:`reduce_sweep` and :func:`sweep_dims` pick what they draw.
``crossval``
    Rate model against spiking LIF neurons and LIF theory (:func:`plot_fi`,
    :func:`plot_crossval_bode`).

Internal interface
------------------
``bode.bode_axes(ax_gain, ax_phase, gain_label=..., freq_label=..., phase_label=...,
log_gain=...)`` sets up the log scales and labels, and ``bode.draw_bode(ax_gain, ax_phase,
freq, gain, phase, gain_se=..., phase_se=..., points=..., **style)`` draws one source as a
line or as points with error bars; ``sweeps`` and ``crossval`` use both.
"""

from neurorect.plotting.bode import plot_frequency_response
from neurorect.plotting.crossval import plot_crossval_bode, plot_fi
from neurorect.plotting.sweeps import (
    plot_bode_family,
    plot_sweep_heatmap,
    plot_sweep_line,
    reduce_sweep,
    sweep_dims,
)
from neurorect.plotting.traces import HEATMAP_ABOVE, plot_rates

__all__ = ["plot_rates", "HEATMAP_ABOVE", "plot_frequency_response", "plot_sweep_heatmap",
           "plot_bode_family", "plot_sweep_line", "reduce_sweep", "sweep_dims", "plot_fi",
           "plot_crossval_bode"]
