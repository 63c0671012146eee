"""Parameter sweeps: grids over model parameters, batched and distributed, resumable.

``run_sweep(model, grid, measure=...)`` evaluates a measure at every point of a grid of
parameter values and returns a labelled :class:`xarray.Dataset` with one dim per swept
parameter, named after it.

Grid
----
``grid = {dotted path: values}``; paths mirror the model file (``populations.E.transfer.alpha``,
``populations.E.tau``, ``drives.E.freq``, ``drives.E.I0``, ``connections.EE.weight``,
``simulation.seed``, ``simulation.dt``, ...). Values are a list or 1-D array (numbers, unit
strings such as ``"5 ms"``, or words for word-valued settings such as ``simulation.method``),
or a spec string:

* ``"start:stop:num"`` or ``"lin:start:stop:num"``: ``numpy.linspace(start, stop, num)``;
* ``"log:start:stop:num"``: ``num`` points evenly spaced in log, endpoints exact
  (``numpy.geomspace``; ``start, stop > 0``);
* ``"v1,v2,..."``: a list; a single ``"v"``: one value.

Start and stop may carry units (``"log:1 Hz:1 kHz:31"``). The grid is the product of the
paths (``mode="product"``, dims in the order of ``grid``); ``mode="zip"`` zips all paths into
one dim, and ``zip_paths=[[p1, p2], ...]`` zips groups of paths (equal lengths) that then
take part in the product as one dim each. A zipped dim is named after its first path; the
other paths of the group are coordinates along it.

Dim and coordinate names are the path's last component (``alpha``, ``freq``, ``I0``); when two
paths share it, or it is the name of a result variable or dim (``gain``, ``phase``,
``population``), the population or connection name is prefixed (``E_alpha``, ``I_alpha``,
``E_gain``), and failing that the whole path with ``_`` for ``.``. Every path and value is
validated before anything runs (:class:`neurorect.ModelError` naming the path, the value
and what is allowed).

Measures
--------
* ``"rate"``: ``mean_rate`` (population), Hz, over the model's statistics window;
* ``"response"``: ``mean_rate``, ``amplitude`` and ``phase`` (population, harmonic), ``gain``
  = ``A_1 / |I1|`` (population; an undriven population is referred to the one driven
  population) and ``stat_freq``, at the drive frequency, in the sine convention
  ``r(t) = r0 + sum_k A_k sin(2 pi k f t + phase_k)``. For a population of several neurons the
  harmonics are those of the population-mean rate (the mean of the neurons' complex
  coefficients). Unless ``duration`` is given, each point runs
  ``transient + max(n_periods / f, transient)`` (rounded up to whole steps), ``f`` being the
  point's lowest drive frequency: low frequencies get ``n_periods`` whole periods and high
  frequencies do not pay for them, while their window (at least as long as the transient)
  holds so many periods that rounding whole periods to whole steps costs little accuracy.
  ``transient`` defaults to ``max(model transient, 10 tau_max)``. The duration of each
  point is the result variable ``duration``;
* ``"step_response"``: ``overshoot``, ``peak_time``, ``rise_time``, ``settling_time``,
  ``initial_value``, ``final_value`` and ``settled`` (population) of each population's mean
  rate after the earliest step of the model's drives
  (:func:`neurorect.sweeps.measures.measure_step_response` with its defaults: 10-90 % rise,
  2 % settling band; the whole rate trace of a chunk is recorded, then reduced); each point
  runs the model's duration;
* ``"fixed_point"``: ``fixed_point_rate`` and ``silent_fraction`` (population),
  ``stable``, ``max_real_eigenvalue`` and ``converged`` from
  :func:`neurorect.theory.fixed_point` of the constant input ``I0`` (sinusoids, steps, pulses
  and noise are ignored); no simulation;
* ``"silent_fraction"``: ``silent_fraction`` (population) and ``converged``, as above;
* a callable ``measure(result) -> Dataset`` (or DataArray, or ``{name: value}``), applied to
  the result of each point separately: the simulation is still batched, but each point's
  Dataset is split off (``record`` defaults to the model's setting so that traces are
  available), which costs a Python call per point. ``result`` is exactly what
  ``simulate`` returns for that point alone (its ``model`` attr is the point's model). With
  the Dask executor the callable is pickled (cloudpickle) to the workers.

Execution
---------
Points are flattened in C order of the grid; for execution the dims that cannot be batched
(those changing the shape or method of a run: ``simulation.dt``, ``populations.E.size``,
..., and noise paths of a population without noise) vary slowest, then drive frequencies,
then the rest. Consecutive points with the same unbatchable values and the same duration are
cut into chunks of at most ``chunk_size`` points, and each chunk is ONE ``simulate(...,
batch=..., record="none")`` call: uncoupled units run in parallel over the batch, coupled
copies share a matrix product per step on the engine's threads (at most 512 neurons per call
by default: beyond that the engine's batched product is slower per copy). A chunk's result
equals the individual runs of its points bit for bit, so results do not depend on chunking,
executor or thread count; the one exception is 8 or more coupled copies sharing one coupling
matrix in a call, whose single matrix-matrix product rounds differently from a lone copy's
matrix-vector product in the last bits (results are still identical across executors and
resumes, which use the same chunks). ``executor="dask"`` sends each chunk as one task (the
same function) to a Dask distributed scheduler (a ``LocalCluster`` of ``n_workers``
single-threaded processes when ``scheduler`` is None; in a script, call ``run_sweep`` under
``if __name__ == "__main__":`` since the workers re-import the script); chunk files are
written by the client as results arrive, so workers need no shared filesystem. Workers use
Numba's on-disk cache, so only the first run on a machine compiles.

Store and resume
----------------
``store`` is a directory holding ``manifest.json`` (format, neurorect version, model TOML and
its SHA-256, grid, measure, options, chunking, and a key hashing them all) and one netCDF
file per finished chunk, ``chunk_000123.nc``, written atomically (temporary file, then
rename) with dim ``point`` (the flat C-order index of the grid) and the chunk's measures.
Running again with ``resume=True`` loads the chunks present and computes only the missing
ones (a killed run loses at most the chunks in flight); with ``resume=False`` a store that
already holds chunks is refused, so nothing is overwritten by accident. A store made for a
different model, grid, measure, options or neurorect version is always refused, with a
message saying what differs (``overwrite=True`` discards its chunk files and starts over).
Several processes may run the same sweep into one store: they only duplicate work.

The returned Dataset has dims ``(*sweep dims, *measure dims)``, coordinates with ``units``,
``long_name`` and ``path`` attrs, and attrs ``model`` (the base model as TOML),
``model_sha256``, ``neurorect_version``, ``seed``, ``measure``, ``grid`` (JSON),
``sweep_dims`` and the duration rule; save it with :func:`neurorect.io.save`.

Modules
-------
One job each; layers point one way (``grid`` <- ``layout`` <- ``measures`` <- ``execute``;
``grid`` <- ``store``; ``layout``, ``store`` <- ``assemble``; all <- ``run``):

* ``grid``: value specs, the grid's dims, up-front validation;
* ``layout``: execution order, per-point durations, chunks, and the settings every chunk needs;
* ``measures``: the built-in and callable measures (what a point yields);
* ``execute``: one chunk (the task of both executors), the local and Dask executors, the
  progress bar;
* ``store``: manifest, chunk files, resume and refusals;
* ``assemble``: the chunks back on the grid, coordinates and attrs;
* ``run``: :func:`run_sweep`.

Internal interface (names shared between these modules, not part of the public API):
``grid.Dim`` (one dim: name, paths, values, kind, coordinate names), ``grid.build_dims``,
``grid.validate_grid``, ``grid.to_python`` (a numpy scalar as a Python value);
``layout.Chunk``, ``layout.Settings``, ``layout.Layout``, ``layout.plan_layout``,
``layout.THEORY`` (the theory measures); ``measures.MEASURE_VARIABLES``,
``measures.theory_chunk``, ``measures.callable_chunk``, ``measures.batched``,
``measures.model_from_toml`` (cached); ``execute.run_chunk``, ``execute.execute_local``,
``execute.execute_dask``, ``execute.ProgressBar``; ``store.make_manifest``,
``store.open_store``, ``store.save_chunk``, ``store.load_chunk``; ``assemble.assemble``,
``assemble.result_attrs``.
"""

from neurorect.sweeps.grid import parse_values
from neurorect.sweeps.measures import MEASURES, measure_rate, measure_response
from neurorect.sweeps.run import run_sweep
from neurorect.sweeps.store import MANIFEST, StoreMismatchError, chunk_file

__all__ = [
    "run_sweep", "parse_values", "measure_rate", "measure_response", "MEASURES",
    "StoreMismatchError", "MANIFEST", "chunk_file",
]
