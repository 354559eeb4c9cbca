"""The settings of ``glassgen sample`` and ``glassgen rollout``: command line > checkpoint > glassgen.

Every such option defaults to None on the command line; :func:`resolve` fills it from the checkpoint's
validated settings (its ``defaults`` metadata, section ``sample`` or ``rollout``), else from glassgen's own
default (:data:`BUILTIN`, which takes each value from the class that owns it); :func:`config_from_options`
turns the resolved relaxation options into a :class:`~glassgen.md.relax.RelaxConfig`.
"""
from __future__ import annotations

from glassgen.chain.rollout import RolloutConfig
from glassgen.core.errors import InputError
from glassgen.core.card import meta_temperature
from glassgen.md.relax import TEMPERATURE, WHEN, RelaxConfig
from glassgen.sampling.defaults import METHOD, ODE_STEPS

_RELAX = {"relax": "none", "relax_time": RelaxConfig.time, "relax_iterations": RelaxConfig.max_iterations,
          "relax_temperature": None, "corrector": RelaxConfig.corrector, "corrector_passes": RelaxConfig.passes}
BUILTIN = {
    "sample": {"lag": None, "method": METHOD, "ode_steps": ODE_STEPS, "time_grid": None, "noise_scale": None,
               **_RELAX},
    "rollout": {"lag": None, "method": METHOD, "ode_steps": ODE_STEPS, "max_resample": RolloutConfig.max_resample,
                "overlap_energy": RolloutConfig.overlap_energy, **_RELAX, "relax_when": RelaxConfig.when,
                "history": RolloutConfig.history, "history_guidance": 1.0, "noise_scale": None},
}
LISTS = ("time_grid", "noise_scale")  # comma-separated on the command line, lists (or numbers) in a checkpoint


def resolve(command: str, given: dict, checkpoint: dict) -> tuple[dict, list]:
    """``(settings, taken)``: every setting of ``command``, and the names taken from the checkpoint.

    ``given``: the command-line values (None = not given); ``checkpoint``: the model's metadata. A grid given
    on the command line (``--ode-steps`` or ``--time-grid``) is not mixed with the other from the checkpoint.
    """
    builtin = BUILTIN[command]
    stored = checkpoint.get("defaults", {}).get(command, {})
    unknown = sorted(set(stored) - set(builtin))
    if unknown:
        raise InputError(checkpoint.get("path", "checkpoint"), f"validated setting defaults.{command}.{unknown[0]} "
                                                               f"is not a {command} option of this glassgen")
    grid_given = given.get("ode_steps") is not None or given.get("time_grid") is not None
    out, taken = {}, []
    for key, default in builtin.items():
        if given.get(key) is not None:
            out[key] = given[key]
        elif key in stored and not (grid_given and key in ("ode_steps", "time_grid")):
            out[key] = _as_option(key, stored[key])
            taken.append(key)
        else:
            out[key] = default
    if out.get("time_grid") is not None and given.get("ode_steps") is None:
        out["ode_steps"] = None  # a grid replaces the default number of steps
    if given.get("corrector") is not None and out["relax"] != "learned":
        raise InputError(f"glassgen {command}", f"--corrector is read by --relax learned only (relax here: {out['relax']})")
    if out["lag"] is None:
        raise InputError(f"glassgen {command}", "give --lag (the checkpoint has no validated lag)")
    return out, taken


def _as_option(key: str, value):
    """A stored value in the form its command-line option takes (lists as comma-separated text)."""
    if key in LISTS and value is not None:
        return ",".join(f"{v:g}" for v in (value if isinstance(value, list) else [value]))
    return value


def start_meta(snap, temperature) -> dict:
    """The start file's metadata, with ``--temperature`` as its T where it has none (relaxation default)."""
    meta = dict(snap.meta)
    if temperature is not None and "T" not in meta and "temperature" not in meta:
        meta["T"] = float(temperature)
    return meta


def model_meta(model) -> dict:
    """``{"T": t}`` when the model was trained at one temperature t (relaxation default), else {}."""
    temps = model.checkpoint["domain"]["temperature"]
    return {"T": temps[0]} if isinstance(temps, list) and len(temps) == 1 else {}


def config_from_options(kind: str, when: str, time: float, temperature: float | None, init_meta: dict,
                        model_meta: dict | None = None, max_iterations: int = RelaxConfig.max_iterations,
                        corrector: str | None = None, passes: int = RelaxConfig.passes) -> RelaxConfig | None:
    """The :class:`RelaxConfig` of the ``rollout`` command line (None for ``--relax none``).

    An ``nvt`` relaxation without ``--relax-temperature`` takes the temperature of the initial
    configuration's metadata (``T`` or ``temperature``), else of the model's metadata ``model_meta``.
    ``corrector`` and ``passes`` are kept for ``learned`` only (a checkpoint's default corrector does not
    bar another ``--relax``).
    """
    if when not in WHEN:
        raise InputError("relax", f"--relax-when must be one of {', '.join(WHEN)}; got {when!r}")
    if kind == "none":
        return None
    if kind in TEMPERATURE and temperature is None:
        temperature = meta_temperature(init_meta)
        if temperature is None and model_meta:
            temperature = meta_temperature(model_meta)
    learned = {"corrector": corrector, "passes": passes} if kind == "learned" else {}
    return RelaxConfig(kind=kind, when=when, time=time, temperature=temperature, max_iterations=max_iterations,
                       **learned)
