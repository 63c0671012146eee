"""The model catalogue shipped inside the package: find model files by name.

The catalogue is the directory ``neurorect/models/`` of the installed package (package
data: every ``*.toml`` file there is a model, named after the file). In the source tree it
is a symbolic link to the top-level ``models/`` directory, which stays the one place the
files are written, so ``neurorect run models/single_neuron.toml`` (a path) and
``neurorect run single_neuron`` (a name, also from a non-editable install) read the same
file.

Light at import (the standard library only): ``neurorect models`` lists the catalogue
without loading NumPy.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import NamedTuple

from neurorect.errors import ModelError

__all__ = ["CATALOGUE_DIR", "CatalogueEntry", "names", "entries", "model_path", "resolve"]

#: Where the packaged model files are.
CATALOGUE_DIR = Path(__file__).resolve().parent / "models"


class CatalogueEntry(NamedTuple):
    """One packaged model: its name (the file's stem), file and one-line description."""

    name: str
    path: Path
    description: str


def names() -> list[str]:
    """Names of the packaged models, sorted."""
    if not CATALOGUE_DIR.is_dir():
        return []
    return sorted(path.stem for path in CATALOGUE_DIR.glob("*.toml"))


def entries() -> list[CatalogueEntry]:
    """Every packaged model with its description (the file's top-level ``description``)."""
    out = []
    for name in names():
        path = CATALOGUE_DIR / f"{name}.toml"
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:  # listed, with what is wrong
            description = f"(unreadable: {error})"
        else:
            description = str(data.get("description", ""))
        out.append(CatalogueEntry(name, path, description))
    return out


def model_path(name: str) -> Path:
    """The file of the packaged model ``name``; ModelError naming the catalogue otherwise."""
    path = CATALOGUE_DIR / f"{name}.toml"
    if name and "/" not in name and path.is_file():
        return path
    known = names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ModelError(f"no such model file, and no packaged model of that name{hint}",
                     key="model", value=name,
                     allowed="a .toml path, or one of " + (", ".join(known) or "(none)")
                     + " (neurorect models lists them)")


def resolve(model: str | Path) -> Path:
    """The model file meant by ``model``: an existing path as it is, else a packaged name.

    ``"models/single_neuron.toml"`` (a file) is returned unchanged; ``"single_neuron"`` (or
    ``"single_neuron.toml"``, when no such file exists here) is the packaged model's file.
    A path that does not exist and names no packaged model raises ModelError.
    """
    path = Path(model)
    if path.exists():
        return path
    text = str(model)
    stem = text[:-5] if text.endswith(".toml") else text
    if path.parent == Path(".") and stem:
        return model_path(stem)
    packaged = f" ({stem.rsplit('/', 1)[-1]!r} is a packaged model: give its name)" if (
        stem.rsplit("/", 1)[-1] in names()) else ""
    raise ModelError(f"no such model file{packaged}", key="model", value=text,
                     allowed="an existing .toml file, or a packaged model name: "
                     + ", ".join(names()))
