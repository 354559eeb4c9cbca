"""Is a snapshot, at a lag, inside what a model was trained on? One check for ``sample``, ``rollout`` and the API.

The domain is the checkpoint's (:mod:`glassgen.core.checkpoint`, ``domain``). A snapshot is refused, in one
line naming every difference, when its species set differs from the model's, a species' number fraction by
more than :data:`FRACTION_TOL`, its number density by more than :data:`DENSITY_TOL` (relative), its
temperature from every trained one by more than :data:`TEMPERATURE_TOL`, or when the lag lies outside the
trained [smallest, largest] lag. A field the checkpoint gives as ``"unknown"`` is not checked; the particle
number is not checked (the model is local; ``n_particles`` is there to read). The snapshot's temperature is
its metadata's ``T`` or ``temperature`` (what ``glassgen simulate`` and rollouts write); a snapshot without
one needs ``temperature=`` (``--temperature``). ``force=True`` proceeds and returns what was out of domain,
for the output's metadata.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from glassgen.core.card import meta_temperature
from glassgen.core.checkpoint import UNKNOWN
from glassgen.core.errors import InputError

FRACTION_TOL = 0.02  # absolute, per species
DENSITY_TOL = 0.01  # relative
TEMPERATURE_TOL = 0.02  # absolute, to the nearest trained temperature
LAG_RTOL = 1e-6  # the trained lags are bounds up to rounding of their printed values


def differences(domain: dict, snapshot, lags, temperature=None) -> list[str]:
    """What of ``snapshot`` (species, box, meta) at ``lags`` lies outside ``domain``; [] when nothing does."""
    species = np.asarray(snapshot.species)
    out = []
    ids = sorted(int(s) for s in np.unique(species))
    if domain["species"] != UNKNOWN and ids != sorted(domain["species"]):
        out.append(f"species {ids} (trained {sorted(domain['species'])})")
    elif domain["fractions"] != UNKNOWN and domain["species"] != UNKNOWN:
        got = [float(np.mean(species == s)) for s in domain["species"]]
        if any(abs(g - f) > FRACTION_TOL for g, f in zip(got, domain["fractions"])):
            out.append(f"species fractions {join_values(got)} (trained {join_values(domain['fractions'])} ± {FRACTION_TOL})")
    if domain["density"] != UNKNOWN:
        rho = len(species) / float(np.prod(snapshot.box))
        if abs(rho / domain["density"] - 1) > DENSITY_TOL:
            out.append(f"number density {rho:.4g} (trained {domain['density']:g} ± {DENSITY_TOL:.0%})")
    if domain["temperature"] != UNKNOWN:
        out += _temperature(domain["temperature"], snapshot.meta, temperature)
    if domain["lag"] != UNKNOWN:
        lo, hi = domain["lag"]
        for lag in np.atleast_1d(np.asarray(lags, dtype=float)):
            if not lo * (1 - LAG_RTOL) <= lag <= hi * (1 + LAG_RTOL):
                out.append(f"lag {lag:g} outside the trained [{lo:g}, {hi:g}]")
    return out


def _temperature(trained, meta: dict, given) -> list[str]:
    own = meta_temperature(meta)
    if own is not None and given is not None and abs(own - given) > TEMPERATURE_TOL:
        return [f"--temperature {given:g} but the file's metadata says T = {own:g}"]
    t = own if own is not None else given
    if t is None:
        return [f"no temperature in its metadata (T or temperature): give --temperature (trained {join_values(trained)})"]
    if min(abs(t - x) for x in trained) > TEMPERATURE_TOL:
        return [f"temperature {t:g} (trained {join_values(trained)} ± {TEMPERATURE_TOL})"]
    return []


def join_values(values) -> str:
    """Values of a domain field as the one-line errors print them, e.g. ``0.6/0.65``."""
    return "/".join(f"{v:.3g}" for v in values)


def check_domain(model, snapshots, lags, temperature=None, force: bool = False) -> dict:
    """Refuse snapshots outside the domain of ``model`` (module docstring) unless ``force``.

    Args:
        model: a model loaded from a checkpoint (its ``checkpoint`` metadata) or that metadata dict; a model
            without one (built in memory) has no domain and passes.
        snapshots: one :class:`glassgen.Snapshot` or several (a rollout's starts).
        lags: the lag(s) the model will be asked for, LJ time.
        temperature: the snapshots' temperature where their metadata has none.
        force: proceed outside the domain.

    Returns:
        ``{}`` inside the domain (or without one), else (``force``) ``{"forced": True, "out_of_domain": "..."}``.
    """
    meta = model if isinstance(model, dict) else getattr(model, "checkpoint", None)
    if not meta or "domain" not in meta:
        return {}
    snaps = [snapshots] if hasattr(snapshots, "species") else list(snapshots)
    found = {}
    for snap in snaps:
        diffs = differences(meta["domain"], snap, lags, temperature)
        if diffs:
            found[str(snap.meta.get("source", "snapshot"))] = diffs
    if not found:
        return {}
    text = "; ".join(dict.fromkeys(d for diffs in found.values() for d in diffs))
    if not force:
        src = next(iter(found)) + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
        name = Path(meta["path"]).stem if "path" in meta else "the model"
        raise InputError(src, f"outside the domain of {name}: {text} (--force proceeds)")
    return {"forced": True, "out_of_domain": text}
