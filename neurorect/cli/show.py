"""``neurorect show``: print a model with every setting resolved, in units, defaults marked.

The output is a TOML model file (``neurorect show MODEL > mine.toml`` gives a file that
loads back to the same model): every key of every table, including the ones the file left
at their defaults (marked ``# default``), quantities written in readable units (``"0.1
ms"``, ``"15 mV"``, ``"3.884 Hz/mV"``), each line commented with the quantity's meaning.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import fields
from typing import Any

from neurorect.cli.common import load_model_arg

__all__ = ["register", "format_model"]

_DESCRIPTION = """\
Print MODEL (a model file or a packaged model's name) as a complete model file: every key
of every table with its value in units, the keys left at their defaults marked, and a
comment saying what each is. The output loads back to the same model."""

#: Display unit of each key: "s", "Hz", "V" (volts), "drive" (drive units: volts for the
#: population matched to an LIF neuron, else dimensionless), "gain" (Hz per drive unit), or
#: "" (a plain number). The model-file reference (docs/model-files.md) describes each key.
_UNITS = {
    "dt": "s", "duration": "s", "transient": "s", "tau": "s", "tau_m": "s", "t_ref": "s",
    "start": "s", "stop": "s", "period": "s", "width": "s",
    "freq": "Hz", "rate_min": "Hz", "rate_max": "Hz", "baseline": "Hz",
    "v_th": "V", "v_reset": "V",
    "I0": "drive", "I1": "drive", "threshold": "drive", "amplitude": "drive", "sigma": "drive",
    "gain": "gain",
}
_SCALES = {"s": (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)), "Hz": (("kHz", 1e3), ("Hz", 1.0)),
           "V": (("V", 1.0), ("mV", 1e-3), ("uV", 1e-6)),
           "Hz/V": (("Hz/uV", 1e6), ("Hz/mV", 1e3), ("Hz/V", 1.0))}
_NOTES = {
    "dt": "time step", "duration": "simulated time", "method": "integrator",
    "seed": "noise seed", "transient": "discarded before the statistics",
    "record": "what is recorded", "record_every": "record every n-th step",
    "n_harmonics": "harmonics of the streaming statistics", "size": "neurons",
    "tau": "time constant", "form": "state equation", "init": "initial state",
    "I0": "constant input", "I1": "sinusoid amplitude", "freq": "sinusoid frequency",
    "phase": "sinusoid phase at t = 0 (rad)", "steps": "steps", "pulses": "pulse trains",
    "pre": "presynaptic population", "post": "postsynaptic population",
    "kind": "connection kind", "weight": "coupling weight (drive units per Hz)",
    "probability": "connection probability", "g": "random gain g/sqrt(N)",
    "matrix": "explicit matrix", "autapses": "self-connections kept",
    "population": "matched rate population", "tau_m": "membrane time constant",
    "v_th": "threshold (from rest)", "v_reset": "reset (from rest)",
    "t_ref": "refractory period", "n_neurons": "LIF neurons per condition",
}


def register(subparsers) -> None:
    """Add the ``show`` subcommand."""
    p = subparsers.add_parser("show", help="print a model with all settings, units and "
                                           "defaults", description=_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="model file or packaged model name")
    p.set_defaults(handler=_cmd_show)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _cmd_show(args: argparse.Namespace) -> int:
    model = load_model_arg(args.model)
    print(format_model(model), end="")
    return 0


def _quantity(value: Any, unit: str) -> str:
    """A TOML value: ``"0.1 ms"`` for a quantity, a plain number or string otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_quantity(v, unit) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if not unit or value == 0.0:
        return f"{value:.12g}" if "e" in f"{value:.12g}" or "." in f"{value:.12g}" else (
            f"{value:.1f}")
    from neurorect.units import parse_quantity

    scales = _SCALES.get(unit, ((unit, 1.0),))
    first = next((i for i, (_, s) in enumerate(scales) if abs(value) >= 0.1 * s * (1 - 1e-12)),
                 len(scales) - 1)
    order = scales[first:] + scales[:first]
    for short in (True, False):  # readable first (12 digits, the usual unit), exact always
        for name, scale in order:
            number = f"{value / scale:.12g}" if short else repr(value / scale)
            text = f"{number} {name}"
            if parse_quantity(text) == value:
                return f'"{text}"'
    return repr(value)  # SI, exactly


def _unit(key: str, matched: bool) -> str:
    unit = _UNITS.get(key, "")
    if unit == "drive":
        return "V" if matched else ""
    if unit == "gain":
        return "Hz/V" if matched else "Hz"
    return unit


def _line(key: str, value: Any, default: Any, unit: str, note: str | None = None) -> str:
    """``key = value   # note; default``."""
    text = f"{key} = {_quantity(value, unit)}"
    comments = [note if note is not None else _NOTES.get(key, "")]
    if _same(value, default):
        comments.append("default")
    comment = "; ".join(c for c in comments if c)
    return f"{text:<40} # {comment}" if comment else text


def _same(value: Any, default: Any) -> bool:
    if default is _NO_DEFAULT:
        return False
    try:
        return bool(value == default) or (isinstance(value, float) and isinstance(default, float)
                                          and math.isnan(value) and math.isnan(default))
    except (TypeError, ValueError):
        return False


_NO_DEFAULT = object()


def _defaults(cls: type) -> dict[str, Any]:
    from dataclasses import MISSING

    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _inline(table: dict[str, Any], matched: bool) -> str:
    parts = [f"{k} = {_quantity(v, _unit(k, matched))}" for k, v in table.items()]
    return "{ " + ", ".join(parts) + " }"


def format_model(model) -> str:
    """The model as a complete, commented TOML model file (see the module docstring)."""
    from neurorect.drive import Drive
    from neurorect.spec import LIFNeuron, Population, Simulation

    matched_name = model.lif.population if model.lif is not None else None
    n_pops = len(model.populations)
    lines = [f"# {model.name}: {_count(model.size, 'neuron')} in {_count(n_pops, 'population')}"
             f"; {'coupled' if model.connections else 'uncoupled'}"]
    if model.source:
        lines.append(f"# from {model.source}")
    lines.append(f"name = {_quantity(model.name, '')}")
    lines.append(f"description = {_quantity(model.description, '')}")
    sim, defaults = model.simulation, _defaults(Simulation)
    lines += ["", "[simulation]"]
    lines += [_line(f.name, getattr(sim, f.name), defaults.get(f.name, _NO_DEFAULT),
                    _unit(f.name, False)) for f in fields(Simulation)]
    pop_defaults = _defaults(Population)
    for pop in model.populations:
        matched = pop.name == matched_name
        lines += ["", f"[populations.{pop.name}]"]
        for key in ("size", "tau", "form"):
            lines.append(_line(key, getattr(pop, key), pop_defaults.get(key, _NO_DEFAULT),
                               _unit(key, matched)))
        init_unit, init_note = (("Hz", "initial rate") if pop.form == "rate"
                                else (_unit("I0", matched), "initial input v (drive units)"))
        lines.append(_line("init", pop.init, pop_defaults["init"], init_unit, init_note))
        transfer = pop.transfer
        lines.append(f"transfer = {_inline(transfer.to_dict(), matched)}")
    drive_defaults = _defaults(Drive)
    for name, drive in model.drives.items():
        matched = name == matched_name
        lines += ["", f"[drives.{name}]"]
        for key in ("I0", "I1", "freq", "phase"):
            lines.append(_line(key, getattr(drive, key), drive_defaults[key],
                               _unit(key, matched)))
        data = drive.to_dict()
        for key in ("steps", "pulses"):
            items = data.get(key, [])
            text = f"{key} = [{', '.join(_inline(item, matched) for item in items)}]"
            lines.append(text if items else f"{text:<40} # {_NOTES[key]}: none; default")
        if drive.noise is not None:
            noise = {"kind": drive.noise.kind, "sigma": drive.noise.sigma,
                     "tau": drive.noise.tau, "shared": drive.noise.shared}
            lines.append(f"noise = {_inline(noise, matched)}")
        else:
            lines.append("# noise: none")
    lines += _connections(model)
    if model.lif is not None:
        lif_defaults = _defaults(LIFNeuron)
        lines += ["", "[lif]"]
        for f in fields(LIFNeuron):
            unit = "V" if f.name == "sigma" else _unit(f.name, True)
            note = ("noise amplitude (free membrane sd sigma/sqrt(2))" if f.name == "sigma"
                    else None)
            lines.append(_line(f.name, getattr(model.lif, f.name),
                               lif_defaults.get(f.name, _NO_DEFAULT), unit, note))
    return "\n".join(lines) + "\n"


def _connections(model) -> list[str]:
    from neurorect.modelfile import model_to_dict

    lines: list[str] = []
    tables = model_to_dict(model).get("connections", {})
    for name, table in tables.items():
        lines += ["", f"[connections.{name}]"]
        for key, value in table.items():
            if key == "matrix" and not isinstance(value, str):
                value = [list(row) for row in value]
            note = "seed of the random matrix" if key == "seed" else None
            lines.append(_line(key, value, _NO_DEFAULT, _unit(key, False), note))
    return lines
