#!/usr/bin/env bash
# Needs glassgen at commit 12bc0ac, the last with `glassgen branch` (it left with the ruled-out on-chain branches).
# On-chain branches at T = 0.5 (experiments/rollout-proof/record.md, "On-chain branches"): chain the shipped memory model from
# the 12 TRAINING trajectories (the proof's test set is never touched), run 50 LJ of MD from every chain state
# with three chain steps behind it (312 branches), refit with them (experiments/recipes/flow-proof-T0.5-branch.yaml), and
# chain the refit from the same training starts, checked against the training MD (model selection: only a model
# that passes there goes on to `T=0.5 GUIDANCE=1.5 bash experiments/rollout-proof/rollout_proof.sh runs 50.0 28 quench
# flow-proof-T0.5-branch`, the proof against the independent MD). Every step resumes.
# Wall time on 2 CPU cores: ~5 min per chain, ~25 min branches (one thread; --threads 2 shares it), ~12 min fit.
#   bash experiments/rollout-proof/branch_proof.sh        (needs runs/proof-T0.5-{train,test}: rollout_proof.sh makes them)
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root
RUNS=runs                 # experiments/recipes/flow-proof-T0.5-branch.yaml reads ../runs/...
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CHAIN=$RUNS/lagscan-train-lag50.0   # the lag-50 chain of the lag scan (experiments/rollout-proof/record.md)
INITS=()
for f in "$RUNS"/proof-T0.5-train/traj_0*.h5; do INITS+=(--init "$f"); done
chain() {  # CHECKPOINT OUT: the lag-50 chain from the training starts and its check against the training MD
  mkdir -p "$2"
  local res; res=$( [ -f "$2/rollout.log.csv" ] && echo --resume || true )
  glassgen rollout "$1" "${INITS[@]}" --steps 28 --lag 50 --seed 0 --max-resample 0 --relax quench --relax-when always \
    --relax-temperature 0.5 --relax-time 0.5 --history chain --history-guidance 1.5 -o "$2/rollout.h5" $res \
    || [ $? -eq 1 ]  # 1: blown up (marked in the files); the check below still reports it
  glassgen evaluate "$2" "$RUNS/proof-T0.5-train" --long-time -o "$2-eval" --overwrite || true
}
chain checkpoints/flow-proof-T0.5-mem.safetensors "$CHAIN"
glassgen branch "$CHAIN" --lag 50 --temperature 0.5 --window 3 --seed 1 --threads "$OMP_NUM_THREADS" -o "$RUNS/branches-T0.5-it1"
python experiments/rollout-proof/scripts/branch_stats.py "$RUNS/branches-T0.5-it1" --md "$RUNS/proof-T0.5-train" --lag 50 --control 2
FIT=$( [ -f "$RUNS/flow-proof-T0.5-branch/train_state.pt" ] && echo --resume || true )
OMP_NUM_THREADS=2 glassgen fit experiments/recipes/flow-proof-T0.5-branch.yaml -o "$RUNS/flow-proof-T0.5-branch" $FIT
python experiments/rollout-proof/scripts/branch_stats.py "$RUNS/branches-T0.5-it1" --md "$RUNS/proof-T0.5-train" --lag 50 \
  --models checkpoints/flow-proof-T0.5-mem.safetensors "$RUNS/flow-proof-T0.5-branch/best.safetensors"
chain "$RUNS/flow-proof-T0.5-branch/best.safetensors" "$RUNS/branch-train-chain"
