#!/usr/bin/env bash
# Issue #28: a shipped chain checkpoint with one relaxation setting changed, from the starts of a reference MD, then
# `glassgen evaluate --long-time` (all three tables) against that MD. Resumes; one thread unless THREADS is set.
#   bash experiments/lammps-free-chain/run.sh RUNS CHECKPOINT MD STEPS LAG SEED NAME [rollout options, e.g. --relax refine]
# writes RUNS/lammps-free-chain/NAME/{rollout*.h5, rollout.log, eval/}. GLASSGEN replaces the rollout's command
# (e.g. "python experiments/chain-misses/tail_rollout.py").
set -euo pipefail
RUNS=${1:?usage: run.sh RUNS CHECKPOINT MD STEPS LAG SEED NAME [options]}; CKPT=$2; MD=$RUNS/$3; STEPS=$4; LAG=$5
SEED=$6; NAME=$7; shift 7
export OMP_NUM_THREADS=${THREADS:-1}
INITS=(); for f in "$MD"/traj_0*.h5; do INITS+=(--init "$f"); done
out=$RUNS/lammps-free-chain/$NAME
mkdir -p "$out"
[ -f "$out/rollout.log" ] && grep -q "^monitor report" "$out/rollout.log" || ${GLASSGEN:-glassgen} rollout "$CKPT" "${INITS[@]}" \
    --steps "$STEPS" --lag "$LAG" --seed "$SEED" "$@" -o "$out/rollout.h5" --resume > "$out/rollout.log" 2>&1 || true
[ -f "$out/eval/longtime.json" ] || glassgen evaluate "$out" "$MD" --long-time -o "$out/eval" --overwrite \
    > "$out/eval.log" 2>&1 || true
python "$(dirname "$0")/rows.py" "$out"
