#!/usr/bin/env bash
# On-chain branches at T = 0.5 (docs/rollout-proof.md, "On-chain branches"): chain the shipped memory model from
# the 12 TRAINING trajectories (the proof's test set is never touched), run 50 LJ of MD from every chain state
# with three chain steps behind it (312 branches), refit with them (recipes/flow-proof-T0.5-branch.yaml), then
# roll out the refit model against the independent MD as scripts/rollout_proof.sh does. Every step resumes.
# Wall time on 2 CPU cores: ~5 min chain, ~25 min branches (one thread; --threads 2 shares it), ~18 min fit,
# ~8 min proof rollout and checks.
#   bash scripts/branch_proof.sh        (needs runs/proof-T0.5-{train,test}: rollout_proof.sh makes them)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=runs                 # recipes/flow-proof-T0.5-branch.yaml reads ../runs/...
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
CHAIN=$RUNS/lagscan-train-lag50.0   # the lag-50 chain of the lag scan (docs/rollout-proof.md)
INITS=()
for f in "$RUNS"/proof-T0.5-train/traj_0*.h5; do INITS+=(--init "$f"); done
mkdir -p "$CHAIN"
RES=$( [ -f "$CHAIN/rollout.log.csv" ] && echo --resume || true )
glassgen rollout checkpoints/flow-proof-T0.5-mem.safetensors "${INITS[@]}" --steps 28 --lag 50 --seed 0 --max-resample 0 \
  --relax quench --relax-when always --relax-temperature 0.5 --relax-time 0.5 --history chain --history-guidance 1.5 \
  -o "$CHAIN/rollout.h5" $RES
glassgen evaluate "$CHAIN" "$RUNS/proof-T0.5-train" --long-time -o "$CHAIN-eval" || true
glassgen branch "$CHAIN" --lag 50 --temperature 0.5 --window 3 --seed 1 --threads "$OMP_NUM_THREADS" -o "$RUNS/branches-T0.5-it1"
T=0.5 GUIDANCE=1.5 bash scripts/rollout_proof.sh "$RUNS" 50.0 28 quench flow-proof-T0.5-branch
