"""Save and load result Datasets as netCDF, with provenance (version, model, seed)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

__all__ = ["save", "load"]


def save(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to netCDF atomically (temporary file, then rename).

    Provenance travels in the attrs that :func:`neurorect.simulate` sets (``model`` as TOML,
    ``neurorect_version``, ``seed``, ``dt``, ...). Boolean attrs are stored as 0/1 (netCDF has
    no boolean type).

    Parameters
    ----------
    dataset : xarray.Dataset
    path : str or Path
        Target ``.nc`` file; its folder is created if needed.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = dataset.copy()
    clean.attrs = {k: (int(v) if isinstance(v, bool) else v) for k, v in clean.attrs.items()
                   if v is not None}
    for name in list(clean.variables):
        clean[name].attrs = {k: (int(v) if isinstance(v, bool) else v)
                             for k, v in clean[name].attrs.items() if v is not None}
    handle, temporary = tempfile.mkstemp(suffix=".nc.tmp", dir=path.parent)
    os.close(handle)
    try:
        clean.to_netcdf(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load(path: str | Path) -> xr.Dataset:
    """Read a result file written by :func:`save` (loaded into memory, file closed)."""
    with xr.open_dataset(path) as dataset:
        return dataset.load()
