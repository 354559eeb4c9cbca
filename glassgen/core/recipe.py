"""YAML recipes mapped onto dataclasses; an unknown key is an error naming the key.

Every ``glassgen fit`` task defines its recipe as a dataclass (nested dataclasses
for sections) and calls :func:`from_dict`.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from glassgen.core.errors import InputError


def load_yaml(path) -> dict:
    """Read a YAML mapping. Bad YAML or a non-mapping top level -> InputError."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "recipe file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError(str(path), f"not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "a recipe must be a YAML mapping (key: value lines)")
    return data


def from_dict(cls, data: dict, source: str, prefix: str = ""):
    """Build dataclass ``cls`` from a mapping, recursing into dataclass-typed fields.

    Args:
        cls: the dataclass type.
        data: the mapping (e.g. from :func:`load_yaml`).
        source: file name used in error messages.
        prefix: dotted path of this section, for error messages.
    """
    if not isinstance(data, dict):
        raise InputError(source, f"'{prefix.rstrip('.') or 'recipe'}' must be a mapping; got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(source, f"unknown recipe key '{prefix}{unknown[0]}' (allowed here: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            kwargs[key] = from_dict(typ, value or {}, source, f"{prefix}{key}.")
        else:
            kwargs[key] = _check_type(value, typ, source, prefix + key)
    try:
        return cls(**kwargs)
    except InputError as e:
        raise InputError(source, e.problem) from None
    except (TypeError, ValueError) as e:
        raise InputError(source, f"section '{prefix.rstrip('.') or 'recipe'}': {e}") from None


def _check_type(value, typ, source: str, key: str):
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        if value is None and type(None) in args:
            return None
        typ = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(source, f"recipe key '{key}' must be a list; got {value!r}")
        return [_check_type(v, args[0], source, key) for v in value] if args else value
    if typ is float:  # YAML true/false are ints to Python: a float key takes numbers only
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise InputError(source, f"recipe key '{key}' must be a number; got {value!r}")
    if typ in (int, str, bool) and not (isinstance(value, typ) and not (typ is int and isinstance(value, bool))):
        raise InputError(source, f"recipe key '{key}' must be {typ.__name__}; got {value!r}")
    return value


def to_dict(obj) -> dict:
    """Dataclass -> plain dict (for storing a recipe beside its outputs)."""
    return dataclasses.asdict(obj)
