"""Seconds per step of `--relax refine` (torch) against the LAMMPS `quench` of the same configurations.

For each N a Kob–Andersen liquid at density 1.2 is made with LAMMPS itself (random start, CG minimisation,
``--prep-time`` of Langevin at T), then given Gaussian noise of ``--noise`` σ per coordinate: a stand-in for a
raw draw of the flow models, with many pairs above 5 ε. For each N and batch B (B noisy copies, own noise each):

- ``set-up``: a ``refine`` call that takes no step (pair list, energies and forces of the input);
- ``L-BFGS s/step``, ``BD s/step``: wall time of ``--steps`` L-BFGS iterations (fmax = 0, so none stops early) and of
  ``--steps`` Brownian steps of the whole batch, less the set-up, per step (pair-list rebuilds included);
  ``per cfg-step`` divides the mean of both by B;
- ``force`` and ``autograd``: one energy + force evaluation on the batch's pair list, analytic
  (:func:`glassgen.md.refine.energy_forces`) and by autograd of the same energy written in plain torch ops
  (medians of ``--repeats``);
- ``refine s/cfg``: one default ``refine`` call on one configuration (B = 1 rows only: L-BFGS to fmax = 1 within
  200 iterations, then 40 Brownian steps at T = ``--temperature``), its wall time, the iterations it took and the
  energy per particle it ends at;
- ``quench s/cfg``: the default LAMMPS quench (200 CG iterations, then 40 steps of Langevin MD) of the first
  configuration of the batch (its cost does not depend on B: LAMMPS relaxes one configuration per call), with
  the steps it ran (CG iterations + MD steps; a CG iteration includes a line search), the energy per particle
  it ends at, and its wall time per step.

Both sides run on ``--threads`` threads (torch intra-op threads; LAMMPS OpenMP threads).

    python benchmarks/refine_timing.py                        # N = 1000, 4096; B = 1, 16
    python benchmarks/refine_timing.py --sizes 1000 --batches 1 4 16 --steps 20
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from glassgen.md.refine import PairList, energy_forces, refine
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.system import ka
from glassgen.system.pbc import neighbour_graph


def liquid(n: int, temperature: float, prep_time: float, threads: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    box = np.full(3, ka.box_edge(n))
    species = (rng.permutation(n) >= ka.n_species_a(n)).astype(np.int64)
    with Relaxer(RelaxConfig(kind="minimize", max_iterations=1000), species, box, threads) as r:
        x = r.relax(rng.random((n, 3)) * box)
    with Relaxer(RelaxConfig(kind="nvt", temperature=temperature, time=prep_time), species, box, threads) as r:
        x = r.relax(x, seed)
    return species, box, x


def timed(fn, repeats: int = 1) -> float:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def autograd_energy_forces(x: torch.Tensor, pairs: PairList):
    """The shifted KA energy of the pair list in plain torch ops, and its forces by autograd."""
    x, pairs = x.detach().requires_grad_(True), pairs.joined()
    flat = x.reshape(-1, 3)
    vec = flat.index_select(0, pairs.dst) - flat.index_select(0, pairs.src) + pairs.shift.T
    r2 = (vec * vec).sum(dim=-1)
    s6 = (pairs.sig2 / r2) ** 3
    e = torch.where(r2 < pairs.rc2, pairs.eps4 * (s6 * s6 - s6) - pairs.v_cut, torch.zeros_like(r2)).sum()
    (g,) = torch.autograd.grad(e, x)
    return e, -g


def force_times(xs: np.ndarray, species, box, repeats: int):
    x = torch.as_tensor(xs)
    pairs = PairList(species, box, skin=0.7)
    pairs.build(x)
    e, f = energy_forces(x, pairs)
    e_ag, f_ag = autograd_energy_forces(x, pairs)
    assert torch.allclose(f, f_ag, rtol=1e-9, atol=1e-9 * float(f.abs().max())), "autograd and analytic forces differ"
    assert torch.allclose(e.sum(), e_ag, rtol=1e-12)
    return timed(lambda: energy_forces(x, pairs), repeats), timed(lambda: autograd_energy_forces(x, pairs), repeats)


def lammps_quench(x, species, box, temperature: float, threads: int):
    with Relaxer(RelaxConfig(kind="quench", temperature=temperature), species, box, threads) as r:
        out = []
        wall = timed(lambda: out.append(r.relax(x, 0)))
        steps = int(r.engine.lmp.get_thermo("step"))  # reset to 0 per call: CG iterations + MD steps
    return wall, steps, ka.mean_energy(out[0], species, box)


def row(n: int, b: int, species, box, x, a) -> str:
    rng = np.random.default_rng(n + b)
    xs = x[None] + a.noise * rng.standard_normal((b,) + x.shape)
    seeds = list(range(b))
    setup = timed(lambda: refine(xs, species, box, seeds, min_steps=0))  # pair list and energies, no step
    min_s = (timed(lambda: refine(xs, species, box, seeds, min_steps=a.steps, fmax=0.0)) - setup) / a.steps
    bd_s = (timed(lambda: refine(xs, species, box, seeds, min_steps=0, brownian_steps=a.steps,
                                 temperature=a.temperature)) - setup) / a.steps
    f_an, f_ag = force_times(xs, species, box, a.repeats)
    call = "–"
    if b == 1:  # at B = 16 a whole call would take minutes here; the per-step columns give its cost
        reports = []
        wall = timed(lambda: reports.extend(refine(xs, species, box, seeds, brownian_steps=40, temperature=a.temperature)[1]))
        call = f"{wall:.3f} ({reports[0]['min_steps']} + 40; {reports[0]['e_end']:.3f})"
    q_wall, q_steps, q_e = lammps_quench(xs[0], species, box, a.temperature, a.threads)
    return (f"| {n} | {b} | {setup:.3f} | {min_s:.4f} | {bd_s:.4f} | {0.5 * (min_s + bd_s) / b:.5f} | {f_an:.4f} | {f_ag:.4f} "
            f"| {call} | {q_wall:.3f} ({q_steps}; {q_e:.3f}) | {q_wall / q_steps:.5f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4096])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--steps", type=int, default=10, help="L-BFGS iterations and Brownian steps timed per row")
    ap.add_argument("--repeats", type=int, default=3, help="force evaluations timed per row (median)")
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--noise", type=float, default=0.1, help="σ of the Gaussian noise per coordinate")
    ap.add_argument("--prep-time", type=float, default=2.0, help="LJ time of Langevin MD making each liquid")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t_start = time.perf_counter()
    print(f"torch {torch.__version__}, {a.threads} thread(s) for torch and LAMMPS; T = {a.temperature}, "
          f"noise {a.noise} σ, {a.steps} steps timed per phase")
    print("| N | B | set-up (s) | L-BFGS s/step | BD s/step | per cfg-step (s) | force (s) | autograd (s) "
          "| refine s/cfg (L-BFGS + BD steps; E_pot/N after) | quench s/cfg (steps; E_pot/N after) | quench s/step |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    for n in a.sizes:
        t0 = time.perf_counter()
        species, box, x = liquid(n, a.temperature, a.prep_time, a.threads)
        prep = time.perf_counter() - t0
        for b in a.batches:
            print(row(n, b, species, box, x, a), flush=True)
        noisy = x + a.noise * np.random.default_rng(0).standard_normal(x.shape)
        notes.append(f"N = {n}: liquid made in {prep:.1f} s, E_pot/N {ka.mean_energy(x, species, box):.3f}; with the "
                     f"noise E_pot/N {ka.mean_energy(noisy, species, box):.4g} and {hot_pairs(noisy, species, box)} "
                     "pairs above 5 ε")
    print("\n".join(notes))
    print(f"total {time.perf_counter() - t_start:.1f} s")


def hot_pairs(x, species, box, energy: float = 5.0) -> int:
    g = neighbour_graph(x, box, 1.0)
    src, dst = g["edge_index"]
    return int(np.sum(ka.pair_energy(g["edge_len"], species[src], species[dst]) > energy) // 2)

if __name__ == "__main__":
    main()
