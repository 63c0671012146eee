r"""Brunel's E-I network of LIF neurons in Brian2: :func:`simulate_network`.

The network is the model's ``[lif_network]`` table (:mod:`neurorect.spec_lif`): one explicit
``brian2.Network`` built by :mod:`~neurorect.brian2_lif.network_runner` (seeded; runtime
Cython or numpy in this process, or C++ standalone with OpenMP threads in a child process),
its spikes analysed by :mod:`~neurorect.brian2_lif.network_analysis` into the project's
result schema. Every argument and result is an SI float.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import fields
from typing import Any

import numpy as np
import xarray as xr

from neurorect import _progress
from neurorect._schema import attrs, provenance
from neurorect._validate import check_choice, check_integer, check_range
from neurorect.brian2_lif.network_analysis import analyse_network
from neurorect.brian2_lif.network_runner import (
    run_network_runtime,
    run_network_standalone,
)
from neurorect.brian2_lif.runner import brian2_version
from neurorect.errors import ModelError, NeurorectWarning
from neurorect.spec import Model
from neurorect.spec_lif import LIFNetwork

__all__ = ["simulate_network", "NETWORK_TARGETS", "network_spec"]

NETWORK_TARGETS = ("cython", "numpy", "cpp_standalone")


def network_spec(network: LIFNetwork, *, duration: float, seed: int) -> dict[str, Any]:
    """The JSON-serialisable run spec of ``network`` (SI floats)."""
    return {
        "N_E": network.N_E, "N_I": network.N_I, "C_E": network.C_E, "C_I": network.C_I,
        "J": network.J, "g": network.g, "delay_steps": network.delay_steps,
        "tau_m": network.tau_m, "v_th": network.v_th, "v_reset": network.v_reset,
        "t_ref": network.t_ref, "dt": network.dt, "duration": duration,
        "nu_ext": network.nu_ext, "mod_depth": network.mod_depth,
        "mod_freqs": list(network.mod_freqs), "external": network.external, "seed": seed,
        "connectivity_seed": network.seed,
    }


def _resolve(model: Model | LIFNetwork, duration, transient, seed):
    if isinstance(model, Model):
        sim = model.simulation
        return (model.require_lif_network(), sim.duration if duration is None else duration,
                sim.transient if transient is None else transient,
                sim.seed if seed is None else seed)
    if isinstance(model, LIFNetwork):
        if duration is None:
            raise ModelError("duration is required with a bare LIFNetwork", key="duration",
                             value=None, allowed="a duration in s")
        return model, duration, 0.1 if transient is None else transient, seed or 0
    raise ModelError("must be a Model with an [lif_network] table or an LIFNetwork",
                     key="model", value=type(model).__name__, allowed="Model or LIFNetwork")


def _check_modulation_window(network: LIFNetwork, window: float, n_blocks: int) -> None:
    """Enough whole periods of every modulation frequency; warn about cross-talk between
    components when the window is not a whole number of periods of each."""
    freqs = np.asarray(network.mod_freqs, dtype=float)
    if freqs.size == 0:
        return
    short = freqs * window < n_blocks
    if np.any(short):
        raise ModelError("the analysis window holds fewer periods than the error blocks",
                         key="lif_network.mod_freqs", value=float(freqs[short][0]),
                         allowed=f"freq >= n_blocks / (duration - transient) = "
                                 f"{n_blocks / window:g} Hz")
    periods = freqs * window
    off = np.abs(periods - np.rint(periods)) > 1e-6
    if np.any(off):
        # a component f_j read over M whole periods of f_i leaks ~ 1/(pi M |f_j/f_i - 1|)
        leak = max(1.0 / (np.pi * np.floor(periods[i]) * abs(fj / freqs[i] - 1.0))
                   for i in range(freqs.size) for fj in freqs if fj != freqs[i])
        if leak > 1e-3:
            warnings.warn(f"modulation frequencies are not whole multiples of 1/(duration - "
                          f"transient) = {1 / window:g} Hz: components leak into each "
                          f"other's estimates by up to ~{100 * leak:.2g} % of their "
                          "amplitude", NeurorectWarning, stacklevel=3)


def simulate_network(model: Model | LIFNetwork, duration: float | None = None, *,
                     seed: int | None = None, transient: float | None = None,
                     target: str = "cython", threads: int = 1, n_blocks: int = 10,
                     bin_width: float = 1e-3, n_segments: int = 16,
                     record_spikes: bool = True, standalone_dir: str | os.PathLike | None = None,
                     progress: bool | None = None) -> xr.Dataset:
    """Simulate Brunel's E-I network of LIF neurons in Brian2 and analyse its spikes.

    Parameters
    ----------
    model : Model or LIFNetwork
        A model with an ``[lif_network]`` table (defaults of duration, transient and seed
        from its ``[simulation]``), or the table itself.
    duration : float, optional
        Simulated time, s.
    seed : int, optional
        Seed of the noise (external input, initial potentials); the connectivity has
        ``lif_network.seed``. The same seed gives the same spikes on the same target (C++
        standalone with several threads draws its numbers per thread).
    transient : float, optional
        Time discarded before the analysis, s (default: the model's, else 0.1 s).
    target : {"cython", "numpy", "cpp_standalone"}
        Brian2 runtime code generation (Cython: first compile ~30 s, then cached; numpy: no
        compiler, slow) or C++ standalone in a child process with ``threads`` OpenMP
        threads.
    threads : int
        OpenMP threads of C++ standalone (ignored by the runtime targets).
    n_blocks : int
        Time blocks of the standard errors (rates, harmonics, synchrony).
    bin_width : float
        Bin of the synchrony measure, s.
    n_segments : int
        Non-overlapping Welch segments of the population spectrum.
    record_spikes : bool
        Keep every spike in the result (``spike_time``, ``spike_neuron``).
    standalone_dir : path, optional
        Project directory of the C++ build (default: a temporary one).
    progress : bool, optional
        Phases and the run's bar on stderr (default: the process setting, see
        :mod:`neurorect._progress`).

    Returns
    -------
    xarray.Dataset
        Dims ``population`` (E, I), ``spectrum_freq``, ``freq`` (the modulation frequencies,
        when the external rate is modulated) and ``spike``: ``r0``, ``r0_se`` (Hz), ``cv``,
        ``cv_se``, ``psd``, ``psd_se``, ``psd_poisson`` (Hz^2/Hz), ``synchrony``,
        ``synchrony_se``, ``gain``, ``gain_se`` (Hz/Hz), ``phase``, ``phase_se`` (rad),
        the spikes, and attrs with the network, the target, the seed and wall-clock times
        (see :mod:`~neurorect.brian2_lif.network_analysis` for the estimators).

    Raises
    ------
    ModelError
        Bad arguments (naming the key, the value and what is allowed).
    NeurorectError
        A failed C++ standalone build or run.
    """
    network, duration, transient, seed = _resolve(model, duration, transient, seed)
    check_choice("target", target, NETWORK_TARGETS)
    check_range("duration", duration, low=0.0, low_open=True, high=math.inf, high_open=True,
                unit="s")
    check_range("transient", transient, low=0.0, high=duration, high_open=True, unit="s")
    seed = check_integer("seed", seed, low=0)
    threads = check_integer("threads", threads, low=1)
    n_blocks = check_integer("n_blocks", n_blocks, low=2)
    n_segments = check_integer("n_segments", n_segments, low=1)
    check_range("bin_width", bin_width, low=network.dt, high=duration - transient, unit="s")
    window = duration - transient
    _check_modulation_window(network, window, n_blocks)
    spec = network_spec(network, duration=float(duration), seed=seed)
    if target == "cpp_standalone":
        with _progress.phase(f"brian2: C++ standalone build and run ({threads} thread(s))",
                             enabled=progress):
            raw = run_network_standalone(spec, standalone_dir, threads)
    else:
        with _progress.brian2_report(f"brian2 ({target}): network run",
                                     enabled=progress) as report:
            raw = run_network_runtime(spec, target, report)
    with _progress.phase("brian2: spike analysis", enabled=progress):
        ds = analyse_network(raw, spec, t_start=float(transient), t_stop=float(duration),
                             n_blocks=n_blocks, bin_width=float(bin_width),
                             n_segments=n_segments)
    if record_spikes:
        ds["spike_time"] = ("spike", raw["spike_time"], attrs("s", "spike time"))
        ds["spike_neuron"] = ("spike", raw["spike_neuron"],
                              attrs("1", "neuron of each spike (E first, then I)"))
    ds.attrs = provenance(model if isinstance(model, Model) else None,
                          description="Brian2 LIF E-I network (Brunel 2000, model A)",
                          target=target, threads=threads if target == "cpp_standalone" else 1,
                          seed=seed, duration=float(duration), transient=float(transient),
                          n_blocks=n_blocks, bin_width=float(bin_width),
                          build_time=float(raw["build_time"]),
                          run_time=float(raw["run_time"]), brian2_version=brian2_version(),
                          lif_network=json.dumps({f.name: getattr(network, f.name)
                                                  for f in fields(LIFNetwork)}),
                          nu_ext=network.nu_ext)
    return ds
