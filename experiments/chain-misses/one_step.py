"""One chain step of a shipped chain model from different starting states, to find why the chain's per-step
F_s,A differs from MD's: the history the model reads, or the configurations the chain visits?

Each start set is written as one-frame files with the MD's metadata, then one step of ``glassgen rollout`` (the
checkpoint's defaults: its lag, quench, no history on a first step) is drawn from them, and F_s,A / MSD_A /
MSD_B of that step are averaged over the trajectories, beside each start set's mean E_pot/N.

    python experiments/chain-misses/one_step.py CHECKPOINT MD_DIR CHAIN_DIR STEP OUT [rollout options]

start sets: ``md`` (the MD's t = 0 frames: the chain's first step), ``md-relaxed`` (the same after the
checkpoint's relaxation alone, no draw), ``chain`` (the chain's frames after STEP steps, drawn from without history), beside the
chain's own next step (which read its history) and MD's step from the same origins. CHAIN_DIR needs STEP + 1 steps.
"""
import glob
import subprocess
import sys
from pathlib import Path

import numpy as np

from glassgen.core.checkpoint import read_checkpoint, resolve
from glassgen.io.h5md import read_trajectory, write_trajectory
from glassgen.md.relax import RelaxConfig, Relaxer
from glassgen.stats.dynamics import fs_samples, msd_samples
from glassgen.system.data import Trajectory
from glassgen.system.ka import mean_energy


def write_starts(out: Path, tag: str, frames, species, box, metas) -> list[Path]:
    paths = []
    for j, (x, meta) in enumerate(zip(frames, metas)):
        p = out / tag / f"start_{j:03d}.h5"
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = {k: v for k, v in meta.items() if k != "source"}
        write_trajectory(p, Trajectory(species, box, np.array([0.0]), x[None], meta=meta))
        paths.append(p)
    return paths


def one_step(ckpt, starts, out: Path, lag: float, extra) -> dict:
    if not (out / "rollout_000.h5").exists():
        inits = [a for p in starts for a in ("--init", str(p))]
        run = subprocess.run(["glassgen", "rollout", ckpt, *inits, "--steps", "1", "--lag", str(lag), "--seed", "7",
                              *extra, "-o", str(out / "rollout.h5")], capture_output=True, text=True)
        # raw draws (--relax none) overlap, so the monitors call the run blown up and it exits 1; the files stay
        if not (out / "rollout_000.h5").exists():
            sys.exit(f"one_step.py: glassgen rollout wrote nothing to {out}: {run.stderr.strip().splitlines()[-1:]}")
    dr = [read_trajectory(p).positions for p in sorted(out.glob("rollout_0*.h5"))]
    sp = read_trajectory(out / "rollout_000.h5").species
    dr = np.stack([x[1] - x[0] for x in dr])
    return {"F_s,A": fs_samples(dr, mask=sp == 0).mean(), "MSD_A": msd_samples(dr, mask=sp == 0).mean(),
            "MSD_B": msd_samples(dr, mask=sp == 1).mean()}


def relaxed_starts(md, cache: Path, sp, box, temperature, relax_time) -> list:
    """The MD's t = 0 frames after the checkpoint's relaxation alone; read back from an earlier call's starts,
    since the LAMMPS relaxation costs ~20 s and is seeded, so it would give the same frames."""
    done = sorted(cache.glob("start_*.h5"))
    if len(done) == len(md):
        return [read_trajectory(p).positions[0] for p in done]
    relax = Relaxer(RelaxConfig(kind="quench", when="always", temperature=temperature, time=relax_time, max_iterations=200),
                    sp, box)
    with relax:
        return [relax.relax(t.positions[0], seed=j) for j, t in enumerate(md)]


def main():
    ckpt, md_dir, chain_dir, step, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
    extra = sys.argv[6:]
    md = [read_trajectory(p) for p in sorted(glob.glob(str(md_dir / "traj_0*.h5")))]
    chain = [read_trajectory(p) for p in sorted(glob.glob(str(chain_dir / "rollout_0*.h5")))]
    sp, box, metas = md[0].species, md[0].box, [t.meta for t in md]
    t_md = float(chain[0].times[step])
    rollout = read_checkpoint(resolve(ckpt))[1]["defaults"]["rollout"]
    lag = float(rollout["lag"])
    relaxed = relaxed_starts(md, out / "md-relaxed", sp, box, float(metas[0]["T"]), float(rollout["relax_time"]))
    sets = {"md": [t.positions[0] for t in md], "md-relaxed": relaxed,
            "chain": [c.positions[step] for c in chain]}
    print(f"| start | E_pot/N of the start | F_s,A({lag:g}) | MSD_A({lag:g}) | MSD_B({lag:g}) |\n|---|---|---|---|---|")
    for tag, frames in sets.items():
        r = one_step(ckpt, write_starts(out, tag, frames, sp, box, metas), out / f"{tag}-step", lag, extra)
        e = np.mean([mean_energy(x, sp, box) for x in frames])
        print(f"| {tag} | {e:.4f} | {r['F_s,A']:.4f} | {r['MSD_A']:.4f} | {r['MSD_B']:.4f} |", flush=True)
    dr = np.stack([c.positions[step + 1] - c.positions[step] for c in chain])
    print(f"| chain, its own step {step} → {step + 1} (history read) | – | {fs_samples(dr, mask=sp == 0).mean():.4f} | "
          f"{msd_samples(dr, mask=sp == 0).mean():.4f} | {msd_samples(dr, mask=sp == 1).mean():.4f} |")
    for t0 in (0.0, t_md):
        dr = []
        for t in md:
            a, b = t.index_at(t0), t.index_at(t0 + lag)
            dr.append(t.positions[b] - t.positions[a])
        dr = np.stack(dr)
        e = np.mean([mean_energy(t.positions[t.index_at(t0)], sp, box) for t in md])
        print(f"| MD, origin t0 = {t0:g} | {e:.4f} | {fs_samples(dr, mask=sp == 0).mean():.4f} | "
              f"{msd_samples(dr, mask=sp == 0).mean():.4f} | {msd_samples(dr, mask=sp == 1).mean():.4f} |")


if __name__ == "__main__":
    main()
