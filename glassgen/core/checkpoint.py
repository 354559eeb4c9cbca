"""The one model checkpoint format of glassgen: safetensors weights plus string metadata.

Every model kind (supervised BOTAN ``botan``, flow/diffusion ``flow``; a learned corrector will be a third)
is stored the same way; each layer keeps a small ``build(config)`` for its own kind and
:func:`glassgen.sampling.models.load_model` dispatches on ``kind``. Metadata (all values strings; the
dict-valued ones JSON):

=====================  ==========================================================================
key                    value
=====================  ==========================================================================
``format``             ``"glassgen-checkpoint"``
``format_version``     ``"2"`` (:data:`FORMAT_VERSION`)
``glassgen_version``   the glassgen that wrote the file
``kind``               ``"botan"`` | ``"flow"`` (the builder that rebuilds the model)
``config``             JSON: enough to rebuild the model without its training recipe
``domain``             JSON: what it was trained on (:data:`DOMAIN_FIELDS`; any field may be ``"unknown"``)
``defaults``           JSON: ``{"sample": {...}, "rollout": {...}}``, the settings it was validated with
                       (command-line option names with ``_``); ``{}`` when none
``card``               JSON model card (free form; keys in docs/checkpoints.md)
``info``               JSON: what training recorded (step, val_loss, data_monitors, scores, ...)
=====================  ==========================================================================

Files of format version 1 (``glassgen-flow`` or ``glassgen-checkpoint`` version 1) are refused with the
command that converts them (:func:`upgrade_v1`, ``glassgen upgrade-checkpoint``): the weights are copied
unchanged, the metadata is mapped, and the domain says ``"unknown"`` where the old file could not tell.

Shipped names (``flow-proof-T0.6-sig``) resolve to ``NAME.safetensors`` in :func:`checkpoint_dirs`.
"""
from __future__ import annotations

import json
import os
import site
import sysconfig
from pathlib import Path

from glassgen.core.atomic import atomic_path
from glassgen.core.errors import InputError
from glassgen.core.version import __version__

FORMAT = "glassgen-checkpoint"
FORMAT_VERSION = 2
UNKNOWN = "unknown"
# species ids, their number fractions (same order), number density, trained temperature(s),
# [min, max] particle number and [min, max] lag (LJ time)
DOMAIN_FIELDS = ("species", "fractions", "density", "temperature", "n_particles", "lag")
JSON_KEYS = ("config", "domain", "defaults", "card", "info")
ENV = "GLASSGEN_CHECKPOINTS"  # folders searched first for shipped names (os.pathsep-separated)
UPGRADE_HINT = "convert it once with `glassgen upgrade-checkpoint OLD NEW` (docs/checkpoints.md)"


def unknown_domain() -> dict:
    return {k: UNKNOWN for k in DOMAIN_FIELDS}


def check_domain_fields(domain, source: str) -> dict:
    """A complete, well-typed domain (missing fields become ``"unknown"``). Bad field -> InputError."""
    if not isinstance(domain, dict):
        raise InputError(source, f"checkpoint domain must be a mapping; got {type(domain).__name__}")
    extra = sorted(set(domain) - set(DOMAIN_FIELDS))
    if extra:
        raise InputError(source, f"unknown domain field {extra[0]!r} (fields: {', '.join(DOMAIN_FIELDS)})")
    out = dict(unknown_domain(), **domain)
    for key in DOMAIN_FIELDS:
        v = out[key]
        if v == UNKNOWN:
            continue
        if key == "density":
            ok = _number(v) and v > 0
        elif key in ("n_particles", "lag"):
            ok = isinstance(v, list) and len(v) == 2 and all(_number(x) and x > 0 for x in v) and v[0] <= v[1]
        else:
            ok = isinstance(v, list) and len(v) > 0 and all(_number(x) for x in v)
        if key == "fractions" and ok and isinstance(out["species"], list):
            ok = len(v) == len(out["species"])
        if not ok:
            raise InputError(source, f"domain field {key!r} is {v!r}; see docs/checkpoints.md for its form")
    return out


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


def write_checkpoint(path, state: dict, kind: str, config: dict, *, domain: dict | None = None,
                     defaults: dict | None = None, card: dict | None = None, info: dict | None = None) -> None:
    """Write weights ``state`` (name -> tensor) and the metadata of the module docstring, atomically."""
    from safetensors.torch import save_file

    if not isinstance(kind, str) or not kind:
        raise InputError(str(path), f"checkpoint kind must be a name; got {kind!r}")
    defaults = _check_defaults(defaults or {}, str(path))
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "glassgen_version": __version__, "kind": kind}
    values = {"config": config, "domain": check_domain_fields(domain or {}, str(path)), "defaults": defaults,
              "card": card or {}, "info": info or {}}
    meta.update({k: json.dumps(v, sort_keys=True, default=_plain) for k, v in values.items()})
    weights = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(weights, str(tmp), metadata=meta)


def _plain(v):
    """numpy scalars and arrays -> JSON numbers and lists."""
    return v.tolist() if hasattr(v, "tolist") else float(v)


def _check_defaults(defaults, source: str) -> dict:
    if not isinstance(defaults, dict) or not all(isinstance(v, dict) for v in defaults.values()):
        raise InputError(source, "checkpoint defaults must map a command (sample, rollout) to its settings")
    return defaults


def _raw_metadata(path: Path) -> dict:
    from safetensors import safe_open

    if not path.is_file():
        raise InputError(str(path), "checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for non-safetensors files
        raise InputError(str(path), f"not a safetensors checkpoint ({type(e).__name__})") from None


def read_metadata(path) -> dict:
    """The checked, decoded metadata of a checkpoint (no weights read). Anything wrong -> one-line InputError.

    Returns the module docstring's keys; ``format_version`` as int, the JSON ones decoded, ``domain`` complete.
    """
    path = Path(path)
    raw = _raw_metadata(path)
    fmt, version = raw.get("format"), raw.get("format_version", "1")
    if fmt == "glassgen-flow" or (fmt == FORMAT and version == "1"):
        raise InputError(str(path), f"checkpoint format version 1 (glassgen {raw.get('glassgen_version', '?')}); "
                                    f"this glassgen reads version {FORMAT_VERSION}: {UPGRADE_HINT}")
    if fmt != FORMAT:
        raise InputError(str(path), f"not a glassgen checkpoint (metadata format {fmt!r})")
    if version != str(FORMAT_VERSION):
        raise InputError(str(path), f"checkpoint format version {version} (written by glassgen "
                                    f"{raw.get('glassgen_version', '?')}); this glassgen {__version__} reads version "
                                    f"{FORMAT_VERSION}")
    meta = {"format": fmt, "format_version": FORMAT_VERSION, "glassgen_version": raw.get("glassgen_version", "?"),
            "kind": raw.get("kind")}
    if not isinstance(meta["kind"], str) or not meta["kind"]:
        raise InputError(str(path), "checkpoint metadata names no model kind")
    for key in JSON_KEYS:
        try:
            meta[key] = json.loads(raw[key])
        except KeyError:
            raise InputError(str(path), f"checkpoint metadata has no {key!r}") from None
        except ValueError:
            raise InputError(str(path), f"checkpoint metadata {key!r} is not valid JSON") from None
        if not isinstance(meta[key], dict):
            raise InputError(str(path), f"checkpoint metadata {key!r} must be a JSON object")
    meta["domain"] = check_domain_fields(meta["domain"], str(path))
    _check_defaults(meta["defaults"], str(path))
    return meta


def read_checkpoint(path) -> tuple[dict, dict]:
    """``(state_dict, metadata)`` of a checkpoint, both checked (:func:`read_metadata`)."""
    from safetensors import safe_open

    meta = read_metadata(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # a truncated or corrupted body
        raise InputError(str(path), f"unreadable weights ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    return state, meta


def load_weights(model, state: dict, meta: dict, path) -> None:
    """``model.load_state_dict(state)`` with missing, unexpected or mis-shaped tensors as one-line errors."""
    written_by = f"written by glassgen {meta.get('glassgen_version', '?')}"
    want, got = set(model.state_dict()), set(state)
    if want != got:
        raise InputError(str(path), f"weights do not fit the config ({written_by}): missing {sorted(want - got)[:3]}, "
                                    f"unexpected {sorted(got - want)[:3]}")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:  # shape mismatch: torch lists every tensor; the last line is enough
        raise InputError(str(path), f"weights do not fit the config ({written_by}): "
                                    f"{str(e).strip().splitlines()[-1].strip()}") from None


# --- shipped names --------------------------------------------------------------------------------
def checkpoint_dirs() -> list[Path]:
    """Folders searched for a shipped name, in order: ``$GLASSGEN_CHECKPOINTS`` (os.pathsep-separated), the
    source tree's ``checkpoints/`` (a git checkout or editable install), then ``share/glassgen/checkpoints``
    under the install prefix and the user base (where ``pip install`` puts the shipped files)."""
    dirs = [Path(p) for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    tree = Path(__file__).resolve().parents[2]
    if (tree / "pyproject.toml").is_file():
        dirs.append(tree / "checkpoints")
    for prefix in (sysconfig.get_paths()["data"], site.getuserbase()):
        dirs.append(Path(prefix) / "share" / "glassgen" / "checkpoints")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def shipped_names() -> list[str]:
    return sorted({p.stem for d in checkpoint_dirs() for p in d.glob("*.safetensors")})


def resolve(ref) -> Path:
    """A checkpoint path from a path or a shipped name (``flow-proof-T0.6-sig``). Neither -> InputError."""
    path = Path(ref)
    if path.is_file():
        return path
    text = str(ref)
    if path.suffix == ".safetensors" or "/" in text or os.sep in text:
        raise InputError(text, "checkpoint not found")
    for d in checkpoint_dirs():
        if (d / f"{text}.safetensors").is_file():
            return d / f"{text}.safetensors"
    names = ", ".join(shipped_names()) or "none found"
    raise InputError(text, f"no such checkpoint file or shipped model name (shipped: {names}; "
                           f"names are looked up in ${ENV}, the source tree's checkpoints/ and share/glassgen/checkpoints)")


# --- format version 1 -----------------------------------------------------------------------------
def upgrade_v1(src, dst, *, domain: dict | None = None, defaults: dict | None = None, card: dict | None = None) -> dict:
    """Rewrite a format-version-1 checkpoint (flow ``glassgen-flow`` or BOTAN ``glassgen-checkpoint`` 1) as
    version 2: the same tensors, the config kept, the old extra keys in ``info``. Returns the new metadata.

    ``dst`` may be ``src`` (in place, atomic); another existing file is refused.
    """
    from safetensors import safe_open

    src, dst = Path(src), Path(dst)
    raw = _raw_metadata(src)
    fmt, version = raw.get("format"), raw.get("format_version", "1")
    if fmt == FORMAT and version == str(FORMAT_VERSION):
        raise InputError(str(src), f"is already format version {FORMAT_VERSION}")
    if fmt == "glassgen-flow" and version == "1":
        kind, info = "flow", {k: _json(v) for k, v in raw.items()
                              if k not in ("format", "format_version", "glassgen_version", "config")}
    elif fmt == FORMAT and version == "1":
        kind, info = raw.get("model"), _json(raw.get("info", "{}"))
    else:
        raise InputError(str(src), f"not a glassgen checkpoint of format version 1 (format {fmt!r}, version {version})")
    if dst.exists() and dst.resolve() != src.resolve():
        raise InputError(str(dst), "exists; choose a new name (or the old file's own, to convert it in place)")
    with safe_open(str(src), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}
    info = dict(info, converted_from={"format": fmt, "format_version": 1,
                                      "glassgen_version": raw.get("glassgen_version", "?")})
    write_checkpoint(dst, state, kind, _json(raw["config"]), domain=domain, defaults=defaults, card=card, info=info)
    return read_metadata(dst)


def _json(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
