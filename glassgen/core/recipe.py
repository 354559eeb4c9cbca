"""YAML recipes mapped onto dataclasses; an unknown key is an error naming the key.

Every recipe kind (``glassgen simulate``, and each ``glassgen fit`` task) defines its
recipe as a dataclass (nested dataclasses for sections), reads the file with
:func:`load_yaml` and maps it with :func:`from_dict`.

A recipe may start from another one: ``extends: BASE.yaml`` (relative to the file) loads
the base the same way, then merges this file's keys over it, section by section
(mappings merge key by key; lists and values replace). So a variant states only what
it changes. Unknown keys, from either file, are still errors once merged.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from glassgen.core.errors import InputError


def load_yaml(path, path_keys=()) -> dict:
    """Read a YAML mapping, following ``extends:``. Bad YAML, a non-mapping top level, a missing
    base or a cycle of ``extends`` -> InputError naming the file.

    Args:
        path: the recipe file.
        path_keys: dotted keys whose values are paths relative to the recipe's folder (a string
            or a list of strings), e.g. ``("out", "data.train")``. Those that come from a base
            file are made absolute against the base's folder, so a variant in another folder
            inherits the same files; the loader resolves the top file's own paths as before.
    """
    return _load(Path(path), tuple(path_keys), ())


def _read(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise InputError(str(path), "recipe file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError(str(path), f"not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "a recipe must be a YAML mapping (key: value lines)")
    return data


def _load(path: Path, path_keys: tuple, chain: tuple) -> dict:
    data = _read(path)
    if "extends" not in data:
        return data
    base_name = data.pop("extends")
    if not isinstance(base_name, str) or not base_name:
        raise InputError(str(path), f"'extends' must name a recipe file; got {base_name!r}")
    base = path.resolve().parent / base_name
    here = path.resolve()
    if base.resolve() in chain + (here,):
        names = " -> ".join(str(p) for p in chain + (here, base.resolve()))
        raise InputError(str(path), f"'extends' makes a cycle: {names}")
    if not base.is_file():
        raise InputError(str(path), f"'extends: {base_name}': no such file {base}")
    merged = _load(base, path_keys, chain + (here,))
    _absolute_paths(merged, path_keys, base.resolve().parent)
    return _merge(merged, data)


def _absolute_paths(data: dict, path_keys: tuple, folder: Path) -> None:
    """Make the relative paths at ``path_keys`` absolute against ``folder`` (in place)."""
    import os

    def fix(v):
        return os.path.normpath(folder / v) if isinstance(v, str) else v

    for dotted in path_keys:
        *sections, key = dotted.split(".")
        node = data
        for s in sections:
            node = node.get(s) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(key) is not None:
            v = node[key]
            node[key] = [fix(x) for x in v] if isinstance(v, list) else fix(v)


def _merge(base: dict, over: dict) -> dict:
    """``over`` deep-merged onto ``base``: mappings key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


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
