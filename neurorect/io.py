"""Files written like a careful tool; result Datasets saved and loaded as netCDF.

Every file neurorect writes (results, figures, CSV tables, model files, sweep stores) goes
through :func:`atomic_path` (or :func:`write_atomic`, :func:`write_text`):

* atomic: the content is written to a temporary file in the target's own directory, flushed
  to disk, then renamed over the target (``os.replace``), so a reader sees the old file or
  the new one, never half of one, and a failed or interrupted write leaves the old file as
  it was;
* symlinks are followed: writing to a link writes the file it points to (the link stays a
  link), as a shell redirection does;
* only regular files are written: a directory, a device (``/dev/full``, ``/dev/null``), a
  FIFO or a socket is refused with a :class:`FileError` naming the path (a rename would
  replace the device node by a file);
* normal permissions: a new file gets ``0666 & ~umask`` (the temporary file is created with
  mode 0666 and the kernel applies the umask, or the directory's default ACL), an existing
  file keeps its mode (and, where the user may set it, its group). A rename gives the
  target a new inode: other hard links to the old file keep the old content;
* no temporary file is left behind by an error or an interruption (KeyboardInterrupt
  included); one killed by SIGKILL leaves a hidden ``.NAME.XXXXXXXX.tmp.SUFFIX`` next to the
  target, which the sweep store removes when it is stale;
* an OSError (disk full, permission denied, ...) becomes a one-line :class:`FileError`
  naming the path and the cause; so does netCDF's ``RuntimeError: NetCDF: HDF error``, with
  the likely cause (no space left on the device, or the file-size limit).

The temporary path ends with the target's suffix, so writers that choose a format by the
file name (matplotlib's ``savefig``, ``numpy.savetxt`` of ``.gz``) write the right one::

    with atomic_path("bode.png") as temporary:
        figure.savefig(temporary, dpi=120)

:func:`save` writes a result Dataset (provenance in its attrs); :func:`load` reads one.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neurorect.errors import ModelError, NeurorectError

if TYPE_CHECKING:  # xarray is imported by save and load only: model files need no xarray
    import xarray as xr

__all__ = ["FileError", "atomic_path", "write_atomic", "write_text", "write_netcdf", "save",
           "load", "resolve_target", "TEMPORARY_MARK"]

#: Part of the name of every temporary file :func:`atomic_path` makes
#: (``.NAME.XXXXXXXX.tmp.SUFFIX``).
TEMPORARY_MARK = ".tmp"


class FileError(NeurorectError, OSError):
    """A file could not be written or read; the message names the path and the cause."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


def _target(path: str | Path) -> tuple[Path, os.stat_result | None]:
    """The file a write to ``path`` goes to (symlinks followed) and its stat (None: new)."""
    given = Path(path)
    target = Path(os.path.realpath(given))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as error:
        raise FileError(f"cannot write {given}: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
        via = f" (the link points to {target})" if given.is_symlink() else ""
        raise FileError(f"cannot write {given}: it is {kind}{via}, not a regular file; give "
                        "the path of a file to write") from None
    return target, info


def resolve_target(path: str | Path) -> Path:
    """The file a write to ``path`` goes to (symlinks followed), checked before any work:
    FileError naming ``path`` if it is a directory, a device, a FIFO or a socket. The file
    need not exist. (The command line calls this on ``--out``, ``--plot``, ``--csv`` before
    it computes anything; :func:`atomic_path` checks again when it writes.)"""
    return _target(path)[0]


def _reserve(target: Path) -> Path:
    """Create an empty temporary file next to ``target``, mode 0666 minus the umask."""
    for _ in range(100):
        name = f".{target.stem}.{secrets.token_hex(4)}{TEMPORARY_MARK}{target.suffix}"
        temporary = target.with_name(name)
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temporary
    raise FileError(f"cannot create a temporary file next to {target}")  # pragma: no cover


def _keep_mode(temporary: Path, info: os.stat_result | None) -> None:
    """Give the new file the mode (and, where allowed, the group) of the file it replaces."""
    if info is None:
        return
    os.chmod(temporary, stat.S_IMODE(info.st_mode))
    if info.st_gid != os.stat(temporary).st_gid:
        try:
            os.chown(temporary, -1, info.st_gid)
        except OSError:  # not a member of that group: the mode is what matters
            pass


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush a file (or a directory's entries) to disk; file systems that cannot are fine."""
    try:
        handle = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _first_line(error: BaseException) -> str:
    """The first sentence of an error's message (xarray's run on with advice and links)."""
    text = str(error).strip()
    return text.splitlines()[0].split(". ")[0].rstrip(".:") if text else type(error).__name__


def _cause(error: BaseException, directory: Path) -> str:
    """The cause of a failed write in words: the OSError's, or for netCDF's opaque
    ``NetCDF: HDF error`` the likely one (a full device, a file-size limit)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = _first_line(error)
    hints = []
    try:
        free = os.statvfs(directory)
        available = free.f_bavail * free.f_frsize
        if available < 16 * 2**20:
            hints.append(f"no space left on the device? {available} bytes free in {directory}")
    except OSError:
        pass
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            hints.append(f"the file-size limit (ulimit -f) is {limit} bytes")
    except (ImportError, OSError, ValueError):
        pass
    return text + (f" ({'; '.join(hints)})" if hints else "")


@contextmanager
def atomic_path(path: str | Path, *, durable: bool = True) -> Iterator[Path]:
    """Write a file atomically: yield a temporary path to write, then rename it over ``path``.

    See the module docstring for what is guaranteed (symlinks followed, regular files only,
    permissions, cleanup, errors).

    Parameters
    ----------
    path : str or Path
        The file to write; its folder is created if needed.
    durable : bool
        Flush the file and the folder entry to disk before returning (default), so that the
        new content survives a crash of the machine, not only of the program.

    Yields
    ------
    Path
        An empty file in the target's folder, with the target's suffix, to be written by any
        means (opened again, or given to netCDF, matplotlib, numpy).

    Raises
    ------
    FileError
        A target that is not a regular file, or an OSError while writing (the message names
        ``path`` and the cause); the target is then untouched and the temporary file gone.
    """
    target, info = _target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = _reserve(target)
    except OSError as error:
        raise FileError(f"cannot write {path}: {_cause(error, target.parent)}") from None
    try:
        yield temporary
        _keep_mode(temporary, info)
        if durable:
            _fsync(temporary)
        os.replace(temporary, target)
    except BaseException as error:  # KeyboardInterrupt too: never leave the temporary file
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError) and not isinstance(error, FileError):
            raise FileError(f"cannot write {path}: {_cause(error, target.parent)}") from error
        raise
    if durable:
        _fsync(target.parent, directory=True)


def write_atomic(path: str | Path, write: Callable[[Path], Any], *,
                 durable: bool = True) -> Path:
    """``write(temporary_path)``, then the temporary file renamed over ``path`` (see
    :func:`atomic_path`); returns ``path``. E.g. ``write_atomic("t.csv", lambda p:
    numpy.savetxt(p, table, delimiter=","))``."""
    with atomic_path(path, durable=durable) as temporary:
        write(temporary)
    return Path(path)


def write_text(path: str | Path, text: str, *, durable: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, durable=durable) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def _plain_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attrs netCDF can store: booleans as 0/1 (netCDF has no boolean type), no None."""
    return {k: (int(v) if isinstance(v, bool) else v) for k, v in attrs.items()
            if v is not None}


def write_netcdf(dataset: xr.Dataset, path: str | Path, *, name: str | Path | None = None
                 ) -> None:
    """Write ``dataset`` to the netCDF file ``path`` in place (not atomic: give it the path
    :func:`atomic_path` yields; :func:`save` does both). Boolean attrs are stored as 0/1 and
    None attrs dropped (netCDF has neither). FileError naming ``name`` (default ``path``:
    the file the user asked for, when ``path`` is a temporary one) and the cause."""
    clean = dataset.copy()
    clean.attrs = _plain_attrs(clean.attrs)
    for variable in list(clean.variables):
        clean[variable].attrs = _plain_attrs(clean[variable].attrs)
    try:
        clean.to_netcdf(path)
    except FileError:
        raise
    except (OSError, RuntimeError) as error:  # netCDF's own errors say neither path nor errno
        raise FileError(f"cannot write {name or path}: {_cause(error, Path(path).parent)}"
                        ) from None


def save(dataset: xr.Dataset, path: str | Path) -> Path:
    """Write ``dataset`` to netCDF atomically (see :func:`atomic_path`).

    Provenance travels in the attrs that :func:`neurorect.simulate` sets (``model`` as TOML,
    ``neurorect_version``, ``seed``, ``dt``, ...). Boolean attrs are stored as 0/1 (netCDF has
    no boolean type).

    Parameters
    ----------
    dataset : xarray.Dataset
    path : str or Path
        Target ``.nc`` file; its folder is created if needed. A symlink writes the file it
        points to; a directory or a device is refused.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    FileError
        The file cannot be written (naming the path and the cause: no space left, the
        file-size limit, permissions, not a regular file); nothing is left half-written.
    """
    import xarray as xr

    if not isinstance(dataset, xr.Dataset):
        raise ModelError("save writes a result Dataset", key="dataset",
                         value=type(dataset).__name__,
                         allowed="an xarray.Dataset (what simulate, run_sweep, ... return)")
    with atomic_path(path) as temporary:
        write_netcdf(dataset, temporary, name=path)
    return Path(path)


def load(path: str | Path) -> xr.Dataset:
    """Read a result file written by :func:`save` (loaded into memory, file closed).

    Raises
    ------
    FileError
        The file is missing, unreadable or not a netCDF file (naming it and the cause).
    """
    import xarray as xr

    try:
        with xr.open_dataset(path) as dataset:
            return dataset.load()
    except FileNotFoundError:
        raise FileError(f"cannot read {path}: no such file") from None
    except OSError as error:
        raise FileError(f"cannot read {path}: {_cause(error, Path(path).parent)}") from None
    except (ValueError, RuntimeError, KeyError):  # xarray: no backend opens it
        raise FileError(f"cannot read {path}: not a readable netCDF file (damaged, "
                        "truncated, or another format)") from None

