"""``neurorect models``: list the packaged models with their descriptions."""

from __future__ import annotations

import argparse

__all__ = ["register"]

_DESCRIPTION = """\
List the models shipped with neurorect. Wherever a command takes MODEL, give one of these
names (neurorect run single_neuron) or the path of a model file of your own; 'neurorect show
NAME' prints a model with all its settings, and is a good start for a file of your own:
neurorect show single_neuron > mine.toml"""


def register(subparsers) -> None:
    """Add the ``models`` subcommand."""
    p = subparsers.add_parser("models", help="list the packaged models",
                              description=_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--paths", action="store_true", help="also print each model's file")
    p.set_defaults(handler=_cmd_models)


def _cmd_models(args: argparse.Namespace) -> int:
    from neurorect.catalogue import CATALOGUE_DIR, entries

    found = entries()
    if not found:
        print(f"no packaged models found in {CATALOGUE_DIR}")
        return 1
    width = max(len(entry.name) for entry in found)
    for entry in found:
        print(f"{entry.name:<{width}}  {entry.description}")
        if args.paths:
            print(f"{'':<{width}}  {entry.path}")
    return 0
