"""``neurorect sweep``: parameter sweeps from the command line (see :mod:`neurorect.sweeps`).

Example::

    neurorect sweep models/single_neuron.toml \\
        --param populations.E.transfer.alpha=0:1:21 --param drives.E.freq=log:0.1:1000:31 \\
        --measure response --out sweep.nc

writes ``sweep.nc`` and keeps the chunks in ``sweep_store/`` (``--store``); rerun with
``--resume`` after an interruption to compute only the missing chunks. ``--scheduler
tcp://HOST:PORT`` (or ``--executor dask`` for a local cluster) runs the chunks on Dask.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurorect.cli.common import quantity

__all__ = ["register", "default_store"]

# the measures of neurorect.sweeps.MEASURES, written out so that --help needs no xarray
MEASURE_CHOICES = ("rate", "response", "fixed_point", "silent_fraction")


def register(subparsers) -> None:
    """Add the ``sweep`` subcommand."""
    p = subparsers.add_parser(
        "sweep", help="sweep model parameters over a grid (batched, resumable, Dask)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="TOML model file (see models/)")
    p.add_argument("--param", action="append", required=True, metavar="PATH=VALUES",
                   help="a swept parameter, e.g. populations.E.transfer.alpha=0:1:21, "
                        "drives.E.freq=log:0.1:1000:31, drives.E.I0=0,0.5,1, "
                        "populations.E.tau='5 ms,10 ms'; repeat for a product grid")
    p.add_argument("--zip", action="append", metavar="PATH,PATH",
                   help="zip these swept paths into one dim (equal lengths); repeatable")
    p.add_argument("--mode", choices=("product", "zip"), default="product",
                   help="product grid (default) or all parameters zipped")
    p.add_argument("--measure", choices=MEASURE_CHOICES, default="rate",
                   help="what to compute at each point (default: rate)")
    p.add_argument("--out", required=True, help="netCDF result file, e.g. sweep.nc")
    p.add_argument("--store", help="chunk store directory (default: OUT without its suffix "
                                   "+ '_store', e.g. sweep_store/)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the chunks in the store; compute only the missing ones")
    p.add_argument("--overwrite", action="store_true",
                   help="discard the store's chunks and start again")
    p.add_argument("--executor", choices=("local", "dask"),
                   help="local (default) or dask (implied by --scheduler)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="Dask scheduler address (default with --executor dask: a local "
                        "cluster)")
    p.add_argument("--workers", type=int, default=2,
                   help="workers of the local Dask cluster (default 2)")
    p.add_argument("--chunk-size", type=int, help="points per chunk (one kernel call)")
    p.add_argument("--duration", type=quantity,
                   help="simulated time of every point, e.g. '2 s'")
    p.add_argument("--transient", type=quantity, help="discarded initial time, e.g. '0.2 s'")
    p.add_argument("--n-periods", type=int, default=3,
                   help="drive periods analysed per point by --measure response")
    p.add_argument("--n-harmonics", type=int, help="harmonics computed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_sweep)


def _parse_params(items: list[str]) -> dict[str, str]:
    from neurorect.errors import ModelError

    grid: dict[str, str] = {}
    for item in items:
        path, sep, spec = item.partition("=")
        path = path.strip()
        if not sep or not path or not spec.strip():
            raise ModelError("expected PATH=VALUES", key="--param", value=item,
                             allowed="e.g. populations.E.transfer.alpha=0:1:21")
        if path in grid:
            raise ModelError("parameter given twice", key="--param", value=path,
                             allowed="each path once")
        grid[path] = spec
    return grid


def default_store(out: str | Path) -> Path:
    """``sweep.nc`` -> ``sweep_store`` (next to it)."""
    out = Path(out)
    return out.with_name(f"{out.stem}_store")


def _cmd_sweep(args: argparse.Namespace) -> int:
    import time

    from neurorect.errors import ModelError
    from neurorect.io import save
    from neurorect.modelfile import load_model
    from neurorect.plotting import sweep_dims
    from neurorect.sweeps import run_sweep

    grid = _parse_params(args.param)
    zip_paths = [[p.strip() for p in group.split(",") if p.strip()] for group in args.zip or []]
    executor = args.executor or ("dask" if args.scheduler else "local")
    if args.scheduler and executor != "dask":
        raise ModelError("--scheduler needs the dask executor", key="--executor",
                         value=executor, allowed="dask")
    store = Path(args.store) if args.store else default_store(args.out)
    model = load_model(args.model)
    before = len(list(store.glob("chunk_*.nc"))) if args.resume and store.is_dir() else 0
    started = time.perf_counter()
    result = run_sweep(model, grid, measure=args.measure, mode=args.mode,
                       zip_paths=zip_paths or None, executor=executor,
                       scheduler=args.scheduler, n_workers=args.workers, store=store,
                       resume=args.resume, overwrite=args.overwrite,
                       chunk_size=args.chunk_size, duration=args.duration,
                       transient=args.transient, n_periods=args.n_periods,
                       n_harmonics=args.n_harmonics, progress=False if args.quiet else None)
    elapsed = time.perf_counter() - started
    n_points = int(result.attrs["n_points"])
    shape = " x ".join(f"{d} {result.sizes[d]}" for d in sweep_dims(result))
    reused = f", {before} reused from the store" if before else ""
    print(f"{model.name}: {args.measure} over {shape} = {n_points} points in "
          f"{result.attrs['n_chunks']} chunks{reused}; {elapsed:.2f} s "
          f"({n_points / elapsed:.0f} points/s, {executor} executor)")
    print(f"durations: {result.attrs['duration_rule']}")
    print(f"store: {store}")
    print(f"wrote {save(result, args.out)}")
    return 0

