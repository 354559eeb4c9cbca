"""Refinement of generated configurations with the true Kob–Andersen potential, in torch (no LAMMPS).

B configurations of one system (same species and box: the trajectories of a rollout, the samples of a
draw) are refined together as one disjoint periodic graph (each configuration's pairs from
:func:`glassgen.system.pbc.half_pairs`, node indices offset):

1. at most ``min_steps`` iterations of L-BFGS on the potential energy (:func:`glassgen.md.minimise.lbfgs`),
   each configuration with its own history and frozen once its largest per-particle force is below ``fmax``;
2. then ``brownian_steps`` steps of overdamped Langevin (Brownian) dynamics at temperature T (Leimkuhler–
   Matthews: ``dx = h F + sqrt(2 T h) (ξ_k + ξ_{k+1}) / 2``, h = mobility × dt), the noise's mean over the
   configuration removed so that the centre of mass stays put (as ``fix langevin ... zero yes`` does for the
   LAMMPS ``nvt`` kind).

Every move is capped: an L-BFGS step is scaled down as a whole until no particle moves more than
``min_max_step``, a Brownian step per particle (``max_step``), so an overlapping pair with a force of 1e12 ε/σ
cannot throw its particles across the box. Forces are the analytic derivative of the
pair potential (on the CPU 1.6–5.9× faster than autograd of the energy: ``benchmarks/refine_timing.py``).
The pair list is a Verlet list of cutoff 2.5 σ_AA + skin, one block per configuration, rebuilt when one of
that configuration's particles has moved more than half the skin since its last build. Positions are unwrapped
in and out (the graph's lattice shifts carry the periodicity), float64 throughout; each configuration's noise
comes from its own ``torch.Generator``, so a batched refinement equals the configurations refined one by one,
bit for bit, and a call is a pure function of its input and seeds. See ``docs/rollout.md`` ("Relaxation", kind
``refine``).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch

from glassgen.core.errors import InputError
from glassgen.md.minimise import lbfgs
from glassgen.system import ka
from glassgen.system.pbc import half_pairs

# Pairs per pass on the CPU, so that a pass's temporaries (128 kB each) stay in cache: at B = 16, N = 1000 one
# pass over all 1.3 million pairs was about 1.5× slower per force evaluation on a 2-core machine.
CHUNK = 1 << 14


class PairList:
    """Verlet pair list of B configurations (B, N, 3) of one system, each pair once (src < dst).

    Holds per pair the KA parameters (ε, σ², r_c², the shift of the energy) and the lattice shift vector,
    so a force evaluation is gathers, arithmetic and two scatters. Each configuration has its own block of
    pairs, rebuilt only when one of its own particles has moved more than half the skin: a configuration's
    list, and so its forces to the last bit, do not depend on the others in the batch.
    """

    def __init__(self, species, box, skin: float, device="cpu"):
        self.species = np.asarray(species, dtype=np.int64)
        self.box = np.asarray(box, dtype=np.float64)
        self.rc = float(ka.CUTOFF.max())
        room = 0.5 * float(self.box.min()) - self.rc
        if room <= 0:
            raise InputError("refine", f"the box {self.box.tolist()} is too small for the KA cutoff {self.rc} "
                                       "(its half-edge must exceed it)")
        self.skin = min(float(skin), 0.999 * room)  # minimum images must stay unique (pbc.check_cutoff)
        self.device = device
        self.builds = 0
        self.reference = None
        self.blocks: list = []

    def _block(self, xj: np.ndarray, j: int) -> SimpleNamespace:
        """Configuration j's pairs with their parameters, node indices offset by j N."""
        n, dev = len(self.species), self.device
        i, k, shifts = half_pairs(xj, self.box, self.rc + self.skin, source=f"configuration {j}")
        kind = torch.from_numpy(2 * np.take(self.species, i) + np.take(self.species, k)).to(dev)  # 0..3: AA AB BA BB
        yc = (ka.SIGMA / ka.CUTOFF) ** 6
        table = lambda t: torch.as_tensor(np.ravel(t), dtype=torch.float64, device=dev).take(kind)
        # shift as (3,E): component rows make the pair arithmetic contiguous
        return SimpleNamespace(src=torch.from_numpy(i + j * n).to(dev), dst=torch.from_numpy(k + j * n).to(dev),
                               config=torch.full((len(i),), j, dtype=torch.int64, device=dev),
                               eps4=table(4.0 * ka.EPSILON), eps24=table(24.0 * ka.EPSILON), sig2=table(ka.SIGMA ** 2),
                               rc2=table(ka.CUTOFF ** 2), v_cut=table(4.0 * ka.EPSILON * (yc * yc - yc)),
                               shift=torch.from_numpy(np.ascontiguousarray((shifts * self.box).T)).to(dev))

    def build(self, x: torch.Tensor, which=None) -> None:
        """(Re)build the blocks of configurations ``which`` (all when None) at positions ``x`` (B,N,3)."""
        x_np = x.detach().cpu().numpy()
        if which is None or self.reference is None:
            which, self.blocks, self.reference = range(len(x_np)), [None] * len(x_np), x.detach().clone()
        for j in which:
            self.blocks[j] = self._block(x_np[j], j)
            self.reference[j] = x[j].detach()
        self.builds += 1

    def refresh(self, x: torch.Tensor) -> None:
        """Rebuild the blocks of the configurations with a particle moved more than half the skin since theirs."""
        if self.reference is None:
            return self.build(x)
        moved = ((x - self.reference).norm(dim=-1).amax(dim=1) > 0.5 * self.skin).nonzero()[:, 0].tolist()
        if moved:
            self.build(x, moved)

    def joined(self) -> SimpleNamespace:
        """All blocks as one list (the same fields, concatenated in configuration order)."""
        cat = {k: torch.cat([getattr(b, k) for b in self.blocks]) for k in vars(self.blocks[0]) if k != "shift"}
        return SimpleNamespace(shift=torch.cat([b.shift for b in self.blocks], dim=1), **cat)


def energy_forces(x: torch.Tensor, pairs: PairList, energy: bool = True, active=None):
    """Potential energy of each configuration (B,) and forces (B,N,3) of the shifted KA potential.

    Args:
        x: (B,N,3) float64 unwrapped positions, on the pair list's device.
        pairs: a :class:`PairList` built no longer than half its skin ago.
        energy: False skips the energy (None is returned for it): the dynamics needs forces only.
        active: optional (B,) bool: only these configurations are summed (a minimisation stops them one by
            one); the others get energy and forces 0.
    """
    b, n, _ = x.shape
    xt = x.reshape(b * n, 3).T.contiguous()  # (3, BN)
    f = torch.zeros_like(xt)
    e = torch.zeros(b, dtype=x.dtype, device=x.device) if energy else None
    use = range(b) if active is None else active.nonzero()[:, 0].tolist()
    for j in use:
        blk = pairs.blocks[j]
        chunk = CHUNK if x.device.type == "cpu" else len(blk.src)
        for lo in range(0, len(blk.src), chunk):
            _pair_terms(xt, blk, slice(lo, lo + chunk), f, e)
    return e, f.T.reshape(b, n, 3)


def _pair_terms(xt, pairs, sl, f, e) -> None:
    """Add the forces (and energies, if ``e`` is given) of pairs ``sl`` to ``f`` (3, BN) and ``e`` (B,)."""
    src, dst, sig2 = pairs.src[sl], pairs.dst[sl], pairs.sig2[sl]
    # in-place arithmetic: these E-long passes are memory-bound, every temporary costs
    vec = xt.index_select(1, dst).sub_(xt.index_select(1, src)).add_(pairs.shift[:, sl])  # r_dst − r_src
    r2 = vec[0] * vec[0]
    r2.addcmul_(vec[1], vec[1]).addcmul_(vec[2], vec[2])
    outside = r2 >= pairs.rc2[sl]
    s6 = torch.div(sig2, r2)
    s6.mul_(s6).mul_(torch.div(sig2, r2))  # (σ/r)^6
    if e is not None:  # 4ε (s12 − s6) − V(r_c)
        v = torch.mul(s6, s6).sub_(s6).mul_(pairs.eps4[sl]).sub_(pairs.v_cut[sl]).masked_fill_(outside, 0.0)
        e.index_add_(0, pairs.config[sl], v)
    w = torch.mul(s6, 2.0).sub_(1.0).mul_(s6).mul_(pairs.eps24[sl]).div_(r2).masked_fill_(outside, 0.0)  # −V'(r)/r
    fp = vec.mul_(w)  # force on dst
    f.index_add_(1, dst, fp).index_add_(1, src, fp.neg_())


def ka_energy_forces(positions, species, box):
    """Energy (B,) and forces (B,N,3) of configurations (B,N,3) or (N,3) (then (1,) and (1,N,3)), numpy in and out."""
    x = torch.as_tensor(np.asarray(positions, dtype=np.float64))
    x = x[None] if x.ndim == 2 else x
    pairs = PairList(species, box, skin=0.0)
    pairs.build(x)
    e, f = energy_forces(x, pairs)
    return e.numpy(), f.numpy()


def _evaluate(x, pairs, phase: str, step: int, energy: bool = False, active=None):
    """Energies and forces after a pair-list refresh; with ``active`` (B,) those of the other configurations are 0."""
    pairs.refresh(x)
    e, f = energy_forces(x, pairs, energy, active)
    ok = torch.isfinite(f).all(dim=2).all(dim=1)
    if energy:
        ok &= torch.isfinite(e)
    if not ok.all():
        raise InputError("refine", f"non-finite energy or forces at {phase} step {step} "
                                   f"(configuration {int((~ok).nonzero()[0, 0])}): coincident particles?")
    return e, f


def _cap(dx: torch.Tensor, max_step: float):
    """Scale every particle's move down to at most ``max_step``; returns (dx, capped mask (B,N))."""
    d = dx.norm(dim=-1, keepdim=True)
    over = d > max_step
    return torch.where(over, dx * (max_step / d.clamp_min(1e-300)), dx), over[..., 0]


def brownian(x, f, pairs, steps: int, temperature: float, h: float, max_step: float, generators):
    """``steps`` steps of overdamped Langevin dynamics, one generator per configuration.

    Leimkuhler–Matthews scheme, ``x += h F + sqrt(2 T h) (ξ_k + ξ_{k+1}) / 2``: one force evaluation per step
    like Euler–Maruyama, but its error in the sampled distribution is O(h²), not O(h) (Leimkuhler, Matthews
    & Stoltz, IMA J. Numer. Anal. 36, 13 (2016)). At T = 0.6, N = 1000, h = 5e-4, Euler–Maruyama settled 0.13
    above the E_pot/N of the MD configuration it started from, this scheme within 0.02.
    Returns (x, forces).
    """
    amp = math.sqrt(2.0 * temperature * h)
    n = x.shape[1]

    def draw():
        noise = torch.stack([torch.randn((n, 3), generator=g, dtype=x.dtype) for g in generators]).to(x.device)
        return noise - noise.mean(dim=1, keepdim=True)

    old = draw()
    for i in range(1, steps + 1):
        new = draw()
        dx, _ = _cap(h * f + (0.5 * amp) * (old + new), max_step)
        x, old = x + dx, new
        _, f = _evaluate(x, pairs, "Brownian", i)
    return x, f


def refine(positions, species, box, seeds, *, min_steps: int = 200, fmax: float = 1.0, min_max_step: float = 0.1,
           brownian_steps: int = 0, temperature: float | None = None, h: float = 5e-4, max_step: float = 0.1,
           skin: float = 0.7, device="cpu"):
    """Refine configurations of one system: L-BFGS, then Brownian dynamics at T.

    Args:
        positions: (B,N,3) unwrapped coordinates.
        species: (N,) ids, 0 = A, 1 = B; box: (3,) edges.
        seeds: B integer seeds, one ``torch.Generator`` each (the Brownian noise).
        min_steps: L-BFGS iteration budget per configuration (0: none); fmax: a configuration stops, converged,
            once no particle feels a force above it (ε/σ); min_max_step: cap on a particle's move in one
            L-BFGS step (σ).
        brownian_steps: Brownian steps (0: none); temperature: their T; h: mobility × time step (σ²/ε);
            max_step: cap on a particle's move per Brownian step (σ).
        skin: Verlet skin (σ), shrunk if the box is too small for it.

    Shapes:
        returns (positions (B,N,3) float64 numpy, reports): one dict per configuration with ``min_steps``
        (L-BFGS iterations taken), ``max_force`` after them, ``converged`` (max_force < fmax, or True without
        a minimisation), ``e_start``, ``e_end`` (per particle) and the pair-list ``builds`` of the whole call.
    """
    x = torch.as_tensor(np.asarray(positions, dtype=np.float64), device=device)
    if x.ndim != 3 or x.shape[2] != 3 or x.shape[1] != len(species) or not torch.isfinite(x).all():
        raise InputError("refine", f"positions must be finite, shape (B, {len(species)}, 3); got {tuple(x.shape)}")
    if len(seeds) != x.shape[0]:
        raise InputError("refine", f"{len(seeds)} seeds for {x.shape[0]} configurations")
    if brownian_steps > 0 and (temperature is None or not temperature > 0):
        raise InputError("refine", f"Brownian steps need a positive temperature; got {temperature}")
    n = x.shape[1]
    pairs = PairList(species, box, skin, device)
    e0, f = _evaluate(x, pairs, "L-BFGS", 0, energy=True)
    taken = torch.zeros(x.shape[0], dtype=torch.int64)
    if min_steps > 0:
        evaluate = lambda y, i, active: _evaluate(y, pairs, "L-BFGS", i, energy=True, active=active)
        x, f, taken, _ = lbfgs(x, e0, f, evaluate, min_steps, fmax, min_max_step)
    f_after = f.norm(dim=-1).amax(dim=1)
    if brownian_steps > 0:
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        x, f = brownian(x, f, pairs, brownian_steps, float(temperature), h, max_step, gens)
    e, _ = _evaluate(x, pairs, "final", brownian_steps, energy=True)
    reports = [{"min_steps": int(taken[j]), "max_force": float(f_after[j]),
                "converged": bool(min_steps == 0 or f_after[j] < fmax),
                "e_start": float(e0[j]) / n, "e_end": float(e[j]) / n, "builds": pairs.builds}
               for j in range(x.shape[0])]
    return x.cpu().numpy(), reports


def refine_with(cfg, positions, species, box, seeds):
    """:func:`refine` with the settings of a :class:`glassgen.md.relax.RelaxConfig` of kind ``refine``:
    L-BFGS budget ``max_iterations``, cap ``dmax``, ``fmax``; ``steps()`` Brownian steps of
    h = ``damp`` × ``dt`` at ``temperature``, cap ``max_displacement``; ``skin``."""
    return refine(positions, species, box, seeds, min_steps=cfg.max_iterations, fmax=cfg.fmax, min_max_step=cfg.dmax,
                  brownian_steps=cfg.steps(), temperature=cfg.temperature, h=cfg.damp * cfg.dt, max_step=cfg.max_displacement, skin=cfg.skin)
