"""``neurorect sweep``: evaluate a measure over a grid of parameter values."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurorect.cli.common import (
    Interrupted,
    check_output,
    load_model_arg,
    quantity_type,
    save_result,
    split_assignments,
)

__all__ = ["register", "default_store"]

# the measures of neurorect.sweeps.MEASURES, written out so that --help needs no xarray
MEASURE_CHOICES = ("rate", "response", "step_response", "fixed_point",
                   "silent_fraction")

_DESCRIPTION = """\
Evaluate a measure at every point of a grid of parameter values of MODEL (a model file or a
packaged model's name). Each --param gives one swept parameter by its dotted path and its
values; several make a product grid (or use --zip). Points that differ only in values the
engine can batch run in one kernel call; coupled networks run chunk by chunk.

Values: 0:1:21 (21 evenly spaced from 0 to 1), log:0.1:1000:31 (31 geometrically spaced),
0,0.2,0.5 (a list), '5 ms,10 ms' (with units).

Measures: rate (mean rate of each population), response (mean rate, harmonics, gain and
phase under the model's sinusoidal drive, over --n-periods whole periods after the
transient), fixed_point and silent_fraction (from theory, no simulation).

The finished chunks are kept in a store folder (default: OUT without its suffix + _store):
after an interruption, rerun the same command with --resume to compute only the missing
ones. --executor dask runs the chunks on a local Dask cluster, --scheduler tcp://HOST:PORT
on a running Dask scheduler."""

_EPILOG = """\
examples:
  neurorect sweep single_neuron --param populations.E.transfer.alpha=0:1:21 \\
      --param drives.E.freq=log:0.1:1000:31 --measure response --out sweep.nc
  neurorect sweep single_neuron --param drives.E.I0=0:1:11 --out rate.nc --resume
  neurorect sweep random_network --param connections.EE.g=0:1:5 --executor dask --workers 2 \\
      --out g.nc"""


def register(subparsers) -> None:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="sweep model parameters over a grid (batched, resumable, Dask)",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="model file or packaged model name")
    p.add_argument("--param", action="append", required=True, metavar="PATH=VALUES",
                   help="a swept parameter, e.g. populations.E.transfer.alpha=0:1:21, "
                        "drives.E.freq=log:0.1:1000:31, drives.E.I0=0,0.5,1, "
                        "populations.E.tau='5 ms,10 ms'; repeat for a product grid")
    p.add_argument("--zip", action="append", metavar="PATH,PATH",
                   help="sweep these parameters together along one axis (equal numbers of "
                        "values) inside the product grid; repeatable")
    p.add_argument("--mode", choices=("product", "zip"), default="product",
                   help="product grid (default), or all parameters together along one axis")
    p.add_argument("--measure", choices=MEASURE_CHOICES, default="rate",
                   help="what to compute at each point (default: rate)")
    p.add_argument("--out", required=True, help="netCDF result file, e.g. sweep.nc")
    p.add_argument("--store", help="folder of the finished chunks (default: OUT without its "
                                   "suffix + '_store', e.g. sweep_store)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the chunks in the store; compute only the missing ones")
    p.add_argument("--overwrite", action="store_true",
                   help="discard the store's chunks and start again")
    p.add_argument("--executor", choices=("local", "dask"),
                   help="run the chunks in this process (local, the default) or on Dask "
                        "(implied by --scheduler)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="address of a running Dask scheduler (default with --executor dask: "
                        "a local cluster of --workers processes)")
    p.add_argument("--timeout", type=quantity_type("time"), default=10.0, metavar="SECONDS",
                   help="give up reaching --scheduler after this long (default: 10 s)")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes of the local Dask cluster (default: 2)")
    p.add_argument("--chunk-size", type=int, help="grid points per chunk (one kernel call)")
    p.add_argument("--duration", type=quantity_type("time"),
                   help="simulated time of every point, e.g. '2 s' (default: the model's; "
                        "for --measure response, enough for --n-periods periods)")
    p.add_argument("--transient", type=quantity_type("time"),
                   help="discarded initial time, e.g. '0.2 s'")
    p.add_argument("--n-periods", type=int, default=3,
                   help="drive periods analysed per point by --measure response (default: 3)")
    p.add_argument("--n-harmonics", type=int, help="harmonics computed")
    p.set_defaults(handler=_cmd_sweep)


def default_store(out: str | Path) -> Path:
    """``sweep.nc`` -> ``sweep_store`` (next to it)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_store")


def _cmd_sweep(args: argparse.Namespace) -> int:

    from neurorect.errors import ModelError

    out = check_output(args.out, "--out", "netcdf")
    grid = split_assignments(args.param, "--param", single=False)
    zip_paths = [[p.strip() for p in group.split(",") if p.strip()] for group in args.zip or []]
    executor = args.executor or ("dask" if args.scheduler else "local")
    if args.scheduler and executor != "dask":
        raise ModelError("--scheduler needs the dask executor", key="--executor",
                         value=executor, allowed="dask")
    if not args.timeout > 0:
        raise ModelError("must be positive", key="--timeout", value=args.timeout,
                         allowed="a time in seconds > 0")
    scheduler = _connect(args.scheduler, args.timeout) if args.scheduler else None
    try:
        return _sweep(args, out, grid, zip_paths, executor, scheduler)
    finally:
        if scheduler is not None:
            scheduler.close()


def _connect(address: str, timeout: float):
    """The scheduler's client, reached first (before the engine loads) within ``timeout``."""
    from neurorect.sweeps.execute import connect

    return connect(address, timeout)


def _sweep(args, out, grid, zip_paths, executor, scheduler) -> int:
    import time

    from neurorect.plotting import sweep_dims
    from neurorect.sweeps import run_sweep
    from neurorect.sweeps.execute import SweepInterrupted

    store = Path(args.store) if args.store else default_store(out)
    model = load_model_arg(args.model)
    before = len(list(store.glob("chunk_*.nc"))) if args.resume and store.is_dir() else 0
    started = time.perf_counter()
    try:
        result = run_sweep(model, grid, measure=args.measure, mode=args.mode,
                           zip_paths=zip_paths or None, executor=executor,
                           scheduler=scheduler, n_workers=args.workers, store=store,
                           resume=args.resume, overwrite=args.overwrite,
                           chunk_size=args.chunk_size, duration=args.duration,
                           transient=args.transient, n_periods=args.n_periods,
                           n_harmonics=args.n_harmonics, progress=None)
    except SweepInterrupted as stop:
        total = before + stop.finished + stop.pending
        raise Interrupted(f"{before + stop.finished} of {total} chunks are saved in {store}; "
                          "run the same command with --resume to compute the other "
                          f"{stop.pending}") from None
    elapsed = time.perf_counter() - started
    n_points = int(result.attrs["n_points"])
    shape = " x ".join(f"{d} {result.sizes[d]}" for d in sweep_dims(result))
    reused = f", {before} reused from the store" if before else ""
    print(f"{model.name}: {args.measure} over {shape} = {n_points} points in "
          f"{result.attrs['n_chunks']} chunks{reused}; {elapsed:.2f} s "
          f"({n_points / elapsed:.0f} points/s, {executor} executor)")
    print(f"durations: {result.attrs['duration_rule']}")
    print(f"store: {store}")
    print(f"wrote {save_result(result, out)}")
    return 0
