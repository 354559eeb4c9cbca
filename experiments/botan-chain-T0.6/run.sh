#!/usr/bin/env bash
# Issue #28 item 1: a candidate T = 0.6 chain checkpoint, with the shipped flow-proof-T0.6-sig's validated sampler,
# history and relaxation settings (with_defaults.py), 8 chains of 10 steps of lag 5 from the starts of the
# validation MD (seed 611), checked with `glassgen evaluate --long-time` against that MD: the protocol of
# experiments/nfe-scan-T0.6, whose quench and refine rows it is compared with. Resumes.
# MD=NAME STEPS=K SEED=S change the reference (default validation-T0.6), the chain length (10) and rollout seed (0).
#   bash experiments/botan-chain-T0.6/run.sh RUNS CHECKPOINT NAME [extra rollout options, e.g. --relax refine]
set -euo pipefail
RUNS=${1:?usage: run.sh RUNS CHECKPOINT NAME [options]}; CKPT=${2:?}; NAME=${3:?}; shift 3
HERE=$(dirname "$0")
MD=$RUNS/${MD:-validation-T0.6}
INITS=(); for f in "$MD"/traj_0*.h5; do INITS+=(--init "$f"); done
out=$RUNS/botan-chain-T0.6/$NAME
mkdir -p "$out"
model=$out/model.safetensors
[ -f "$model" ] || python "$HERE/with_defaults.py" "$CKPT" flow-proof-T0.6-sig -o "$model"
[ -f "$out/rollout.log" ] && grep -q "^monitor report" "$out/rollout.log" || glassgen rollout "$model" "${INITS[@]}" --steps "${STEPS:-10}" --lag 5 --seed "${SEED:-0}" \
    "$@" -o "$out/rollout.h5" --resume > "$out/rollout.log" 2>&1 || true
[ -f "$out/eval/longtime.json" ] || glassgen evaluate "$out" "$MD" --long-time -o "$out/eval" --overwrite > "$out/eval.log" 2>&1 || true
tail -n 5 "$out/rollout.log"; grep -m1 -i "rows\|pass" "$out/eval.log" || tail -n 3 "$out/eval.log"
