"""The flow model: encoder + velocity network + prior, and its checkpoint (kind ``flow`` of the one format).

A checkpoint (:mod:`glassgen.core.checkpoint`) holds every weight and buffer of the model (``encoder.*``,
``velocity.*``, ``prior.log_lags``/``prior.log_scales``, with an energy prior ``energy_size.*``) and ``config``
= JSON ``{"kind", "velocity", "encoder", "encoder_frozen", "n_lags", "n_species", "mobility", "mobility_power",
"energy_prior"}``: enough to rebuild the model without the training recipe (:func:`build`). A config this glassgen cannot build, or weights that do not fit the config,
get an :class:`InputError` naming the file.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from glassgen.core.checkpoint import load_weights, read_checkpoint, resolve, write_checkpoint
from glassgen.core.errors import InputError
from glassgen.flow import paths
from glassgen.flow.context import LocalEncoder, build_graph, encoder_cutoff, rotate_graph, velocity_subgraph
from glassgen.flow.mobility import EnergySize, relative_mobility, snapshot_size
from glassgen.flow.recipe import REMOVED_AT
from glassgen.flow.velocity import VelocityConfig, VelocityNet

KIND = "flow"  # checkpoint kind (glassgen.core.checkpoint): flow and diffusion models alike


def build_encoder(spec: dict) -> nn.Module:
    """An encoder from its spec: ``{"kind": "local", ...}`` or ``{"kind": "botan", "config": {...}}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind == "local":
        return LocalEncoder(**spec)
    if kind == "botan":
        from glassgen.encoder.botan import BOTAN, BOTANConfig  # lands with the BOTAN module

        return BOTAN(BOTANConfig(**spec["config"]))
    raise InputError("encoder", f"unknown encoder kind {kind!r}; choose 'local' or 'botan'")


def encoder_spec(encoder) -> dict:
    if isinstance(encoder, LocalEncoder):
        return encoder.config()
    cfg = encoder.config
    return {"kind": "botan", "config": cfg.to_dict() if hasattr(cfg, "to_dict") else dict(vars(cfg))}


class FlowModel(nn.Module):
    """p(Δr(τ) | snapshot): a Gaussian-path flow in prior units conditioned on encoder embeddings.

    Args:
        encoder: any module with ``cutoff`` and ``encode(graph)`` (see glassgen.flow.context).
        velocity: VelocityConfig.
        prior: PriorScale (per species and lag).
        kind: ``"flow"`` (linear path) or ``"diffusion"`` (VP path, v-prediction).
        encoder_frozen: the encoder gets no gradient (its embeddings may then be cached).
        mobility: multiply the prior scale of every particle by its relative predicted
            propensity from the encoder's supervised node head (:func:`relative_mobility`),
            so the noise already carries the structure-dynamics correlation the encoder
            learned. Needs an encoder with ``decode_nodes`` (BOTAN).
        mobility_power: exponent γ on the predicted propensities (:func:`relative_mobility`).
        energy_size: optional :class:`EnergySize`: the prior's size per configuration from the snapshot's
            Kob–Andersen potential energy per particle (its buffers are part of the checkpoint).
    """

    def __init__(self, encoder, velocity: VelocityConfig, prior: paths.PriorScale, kind: str = "flow",
                 encoder_frozen: bool = False, mobility: bool = False, mobility_power: float = 1.0,
                 energy_size: EnergySize | None = None):
        super().__init__()
        if kind not in paths.KINDS:
            raise InputError("model", f"unknown kind {kind!r}; choose one of {paths.KINDS}")
        if velocity.cutoff > encoder_cutoff(encoder) + 1e-9:
            raise InputError("model", f"velocity cutoff {velocity.cutoff} exceeds the encoder's {encoder_cutoff(encoder)}")
        self.encoder, self.velocity, self.prior = encoder, VelocityNet(velocity), prior
        if mobility and not hasattr(encoder, "decode_nodes"):
            raise InputError("model", "mobility needs an encoder with a propensity head (encoder kind botan)")
        if not (float(mobility_power) > 0 and np.isfinite(mobility_power)):
            raise InputError("model", f"mobility_power must be a positive number; got {mobility_power!r}")
        self.kind, self.encoder_frozen, self.mobility = kind, bool(encoder_frozen), bool(mobility)
        self.mobility_power = float(mobility_power)
        self.energy_size = energy_size
        if self.encoder_frozen:
            self.encoder.requires_grad_(False)

    # -- snapshot side -------------------------------------------------------------
    def graph(self, species, positions, box, source=None) -> dict:
        """The encoder's graph of a snapshot (built once per configuration; CPU tensors)."""
        return build_graph(species, positions, box, encoder_cutoff(self.encoder), source)

    def graph_batch(self, species, positions, box) -> dict:
        """The encoder's graph of M configurations of one system as one disjoint graph (:func:`build_graph_batch`)."""
        from glassgen.flow.context import build_graph_batch

        return build_graph_batch(species, positions, box, encoder_cutoff(self.encoder))

    def embed(self, graph: dict, rot: torch.Tensor | None = None) -> dict:
        """Encoder embeddings restricted to the velocity graph, optionally after a box symmetry.

        Returns ``{"h" (N,F), "e" (E_v,F), "edge_index" (2,E_v), "vec" (E_v,D), "species" (N,)}``
        on the model's device (``vec``: snapshot edge vectors r_j − r_i, after the symmetry),
        plus ``"mobility"`` (N,1) when the model has it on and ``"energy"`` (M,), ``"size"`` (N,1) with an
        energy prior (:func:`glassgen.flow.mobility.snapshot_size`). For the disjoint graph of M configurations
        (:meth:`graph_batch`) N counts all M N nodes and ``"configs"`` = M: :meth:`velocity_fn` then
        integrates one sample per configuration.
        """
        p = next(self.parameters())
        m = int(graph["batch"][-1]) + 1 if "batch" in graph else 1  # read before the graph is on the device
        g = rotate_graph(graph, rot) if rot is not None else graph
        g = {k: v.to(p.device, p.dtype) if v.is_floating_point() else v.to(p.device) for k, v in g.items()}
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            h, e = self.encoder.encode(g)
            mob = None
            if self.mobility:  # normalised over each configuration's own particles
                pred, sp = self.encoder.decode_nodes(h).reshape(m, -1), g["species"].reshape(m, -1)
                mob = torch.cat([relative_mobility(a, b, power=self.mobility_power) for a, b in zip(pred, sp)])
        mask = velocity_subgraph(g, self.velocity.cfg.cutoff)
        out = {"h": h, "e": e[mask], "edge_index": g["edge_index"][:, mask], "vec": g["edge_vec"][mask],
               "species": g["species"]}
        if mob is not None:
            out["mobility"] = mob
        if self.energy_size is not None:
            out["energy"], out["size"] = (v.to(p.device) for v in snapshot_size(self.energy_size, graph, m))
        if "batch" in g:
            out["configs"] = m
        return out

    # -- flow side -----------------------------------------------------------------
    def prior_scale(self, emb: dict, lag) -> torch.Tensor:
        """Prior standard deviation of every particle: s(species, τ), times its mobility and its
        configuration's energy factor when on.

        Shapes: lag (B,) -> (B,N,1) on the embeddings' device.
        """
        scale = self.prior(emb["species"], torch.as_tensor(lag, dtype=torch.float64).reshape(-1)).to(emb["h"].device)
        for key in ("mobility", "size"):
            if key in emb:
                scale = scale * emb[key].to(scale.dtype)
        return scale

    @property
    def history(self) -> bool:
        """Second-order model: each draw also reads the displacement of the previous step."""
        return bool(self.velocity.cfg.history)

    @property
    def memory(self) -> int:
        """Memory window W in lags (0 = none): each draw also reads x(t0) − x(t0 − W τ)."""
        return int(self.velocity.cfg.memory)

    def history_input(self, scale, previous=None, known=None, window=None, window_known=None):
        """Velocity-net history p (see velocity.NodeInput), or None without history.

        p = [Δ_prev / s, f], and with a memory window W also [Δ_W / (s √W), f_W].
        ``previous`` (B,N,D) physical displacement over the previous lag (None: no history, flag 0);
        ``known`` (B,) bool marks the samples whose history is real (default: all, when given).
        ``window`` (B,N,D) the displacement over the last W lags, ``window_known`` (B,) likewise
        (memory models only; None: not known yet, the first W steps of a chain).
        """
        if not self.history:
            if previous is not None:
                raise InputError("model", "this model was trained without history; it takes no previous displacement")
            return None
        if window is not None and not self.memory:
            raise InputError("model", "this model was trained without a memory window; it takes no window displacement")
        out = [self._history_term(scale, previous, known, "previous displacement")]
        if self.memory:
            out.append(self._history_term(scale * self.memory ** 0.5, window, window_known, "window displacement"))
        b = max(t.shape[0] for t in out)  # a term of one row (unknown, or one for all) serves every sample
        return torch.cat([t.expand(b, -1, -1) if t.shape[0] == 1 else t for t in out], dim=-1)

    def _history_term(self, scale, disp, known, what):
        """[disp / scale · f, f] (B,N,D+1); zeros when ``disp`` is None."""
        n, d = scale.shape[-2], self.velocity.cfg.dim
        if disp is None:
            return torch.zeros(scale.shape[0], n, d + 1, dtype=scale.dtype, device=scale.device)
        disp = torch.as_tensor(disp, dtype=scale.dtype, device=scale.device)
        if disp.ndim != 3 or disp.shape[1:] != (n, d) or not torch.isfinite(disp).all():
            raise InputError("model", f"{what} must be finite (B,{n},{d}); got {tuple(disp.shape)}")
        flag = torch.ones(disp.shape[0], dtype=scale.dtype, device=scale.device) if known is None else \
            torch.as_tensor(known, device=scale.device).reshape(-1).to(scale.dtype)
        flag = flag[:, None, None].expand(-1, n, 1)
        return torch.cat([disp / scale * flag, flag], dim=-1)

    def velocity_fn(self, emb: dict, lag: torch.Tensor, previous=None, known=None, window=None, window_known=None):
        """Closure ``(t, x) -> v`` for B samples: t 0-d or (B,), x (B,N,D) physical displacement.

        Embeddings of M packed configurations (``emb["configs"]``, :meth:`embed`) take B = M samples, row j
        a displacement of configuration j, at one flow time and one lag; the history tensors are then (M,N,D).

        The network sees x in prior units; its output is scaled back and the centre of
        mass removed, so v has zero mass-weighted mean per sample. ``previous``/``known``/``window``/
        ``window_known``: the history of a second-order model (:meth:`history_input`; B rows or one for all).
        """
        prep = self.velocity.prepare(emb["h"], emb["e"], emb["edge_index"], emb.get("vec"), emb["species"])
        lag = torch.as_tensor(lag, dtype=torch.float64).reshape(-1)
        scale = self.prior_scale(emb, lag)
        m = emb.get("configs")
        if m is not None:  # packed: row j of every (M,N,·) tensor is configuration j (all share the species)
            if lag.numel() != 1:
                raise InputError("model", f"M configurations in one graph take one lag; got {lag.numel()}")
            scale = scale.reshape(m, -1, 1)
        log_lag = lag.log().to(emb["h"].device)
        hist = self.history_input(scale, previous, known, window, window_known)

        def v(t, x):
            b = x.shape[0]
            sc = scale.expand(b, -1, -1) if scale.shape[0] == 1 else scale
            p = None if hist is None else (hist.expand(b, -1, -1) if hist.shape[0] == 1 else hist)
            z = x / sc.to(x.dtype)
            if m is None:
                t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1).expand(b)
                ll = log_lag.expand(b) if log_lag.numel() == 1 else log_lag
                out = self.velocity(prep, z, t, ll, x, p)
            else:  # the network sees the M samples as one sample of the disjoint graph (same t and lag for all)
                if b != m:
                    raise InputError("model", f"{m} configurations in one graph take one sample each; got {b}")
                t = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1)
                if t.numel() != 1:
                    raise InputError("model", f"{m} configurations in one graph take one flow time; got {t.numel()}")
                flat = (lambda a: None if a is None else a.reshape(1, -1, a.shape[-1]))
                out = self.velocity(prep, flat(z), t, log_lag, flat(x), flat(p)).reshape(x.shape)
            return paths.remove_com(out.to(x.dtype) * sc.to(x.dtype))

        return v, scale

    def config(self) -> dict:
        return {"kind": self.kind, "velocity": self.velocity.cfg.to_dict(), "encoder": encoder_spec(self.encoder),
                "encoder_frozen": self.encoder_frozen, "n_lags": int(self.prior.log_lags.numel()),
                "n_species": int(self.prior.log_scales.shape[1]), "mobility": self.mobility,
                "mobility_power": self.mobility_power, "energy_prior": self.energy_size is not None}


# Velocity settings of earlier checkpoints that glassgen no longer has, with the value that means "off" (their
# experiments were ruled out: experiments/recipes/README.md). Off, they are dropped; on, the model needs that commit.
REMOVED_VELOCITY = {"memory_prior": None, "pair_channels": False}


def build(config: dict, source: str = "config") -> FlowModel:
    """A FlowModel (untrained prior and weights) from its stored config; one that does not build -> InputError."""
    velocity = config.get("velocity") if isinstance(config, dict) else None
    for key, off in REMOVED_VELOCITY.items():
        if isinstance(velocity, dict) and velocity.get(key, off) != off:
            raise InputError(source, f"uses velocity.{key}, which glassgen no longer has; load it with glassgen at "
                                     f"commit {REMOVED_AT}")
    try:
        cfg = dict(config)
        prior = paths.PriorScale(np.ones(cfg["n_lags"]).cumsum(), np.ones((cfg["n_lags"], cfg["n_species"])))
        vcfg = VelocityConfig(**{k: v for k, v in cfg["velocity"].items() if k not in REMOVED_VELOCITY})
        size = EnergySize.placeholder(cfg["n_species"]) if cfg.get("energy_prior", False) else None
        return FlowModel(build_encoder(cfg["encoder"]), vcfg, prior, cfg["kind"], cfg["encoder_frozen"],
                         cfg.get("mobility", False), cfg.get("mobility_power", 1.0), size)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise InputError(str(source), f"config does not build here ({type(e).__name__}: {e})") from None


def save_model(model: FlowModel, path, info: dict | None = None, *, domain: dict | None = None,
               defaults: dict | None = None, card: dict | None = None) -> None:
    """Weights and config, with the domain, validated defaults, card and training ``info`` (atomic)."""
    write_checkpoint(path, model.state_dict(), KIND, model.config(), domain=domain, defaults=defaults, card=card,
                     info=info)


def load_model(path, device="cpu") -> FlowModel:
    """Rebuild a FlowModel from its checkpoint (eval mode); the file's metadata is ``model.checkpoint``."""
    path = resolve(path)  # a file, or a shipped name
    state, meta = read_checkpoint(path)
    if meta["kind"] != KIND:
        raise InputError(str(path), f"is a {meta['kind']!r} checkpoint; a flow model ({KIND!r}) is needed here")
    model = build(meta["config"], f"{path} (written by glassgen {meta['glassgen_version']})")
    load_weights(model, state, meta, path)
    model.checkpoint = dict(meta, path=str(path))
    return model.to(device).eval()


def init_weights(model: FlowModel, path) -> None:
    """Start from the weights of the flow checkpoint ``path`` (e.g. a frozen-encoder run continued end to end);
    its architecture must be the recipe's, the prior included (same data). The energy prior's fit is the
    recipe's own (fitted on its data), so a checkpoint without one can start a run that has one."""
    src = load_model(path)
    theirs = {k: v for k, v in src.state_dict().items() if not k.startswith("energy_size.")}
    ours = {k: v for k, v in model.state_dict().items() if not k.startswith("energy_size.")}
    differ = sorted(k for k in ours.keys() | theirs.keys() if k not in ours or k not in theirs
                    or ours[k].shape != theirs[k].shape)
    if differ:
        raise InputError(str(path), f"train.init: its architecture differs from the recipe's ({', '.join(differ[:3])}"
                                    f"{', ...' if len(differ) > 3 else ''})")
    model.load_state_dict(theirs, strict=False)
