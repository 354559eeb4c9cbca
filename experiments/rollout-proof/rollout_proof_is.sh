#!/usr/bin/env bash
# Needs glassgen at commit 12bc0ac, the last with `glassgen inherent` (it left with the ruled-out inherent-structure chain).
# Inherent-structure chain at T = 0.6, N = 1000 (experiments/rollout-proof/record.md, "Inherent-structure chain"): the proof's MD ->
# inherent structures of every 5-LJ frame -> flow fit on IS-to-IS steps -> 16 rollouts of minimised draws from the
# independent MD's first inherent structures -> long-time check against the independent MD's inherent structures.
# Every step resumes: re-run the script after an interruption.
#   bash experiments/rollout-proof/rollout_proof_is.sh [RUNS_DIR] [STEPS] [MODEL]
# SEED (environment, default 0): rollout seed.
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root
RUNS=${1:-runs}
STEPS=${2:-30}            # 30 x 5 = 150 LJ time = 12.7 tau_alpha
MODEL=${3:-flow-proof-T0.6-is}
SEED=${SEED:-0}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RECIPE=recipes/$MODEL.yaml   # a shipped model's recipe, else an experiment variant
[ -f "$RECIPE" ] || RECIPE=experiments/recipes/$MODEL.yaml

for part in train test; do
  if [ ! -f "$RUNS/proof-T0.6-$part/traj_000.h5" ] || ls "$RUNS/proof-T0.6-$part"/*.partial >/dev/null 2>&1; then
    glassgen simulate "recipes/proof-T0.6-$part.yaml" -o "$RUNS/proof-T0.6-$part" \
      $( [ -f "$RUNS/proof-T0.6-$part/recipe.yaml" ] && echo --resume )
  fi
  glassgen inherent "$RUNS/proof-T0.6-$part"/traj_*.h5 -o "$RUNS/proof-T0.6-$part-is" --every 5
done

CKPT="$RUNS/$MODEL/best.safetensors"
glassgen fit "$RECIPE" -o "$RUNS/$MODEL" $( [ -f "$RUNS/$MODEL/train_state.pt" ] && echo --resume )

OUT="$RUNS/proof-T0.6-rollout-${MODEL#flow-proof-T0.6-}"
[ "$SEED" = "0" ] || OUT="$OUT-seed$SEED"
mkdir -p "$OUT"
INITS=()
for f in "$RUNS"/proof-T0.6-test-is/traj_0*.h5; do INITS+=(--init "$f"); done
RES=$( [ -f "$OUT/rollout.log.csv" ] && echo --resume || true )
# Every draw is taken to its inherent structure (converged CG); the model reads the chain's last IS-to-IS step.
glassgen rollout "$CKPT" "${INITS[@]}" --steps "$STEPS" --lag 5.0 --seed "$SEED" --max-resample 0 \
  --relax minimize --relax-when always --relax-iterations 1000 --history chain -o "$OUT/rollout.h5" $RES \
  || [ $? -eq 1 ]  # 1: blown up (marked in the files); the check below still reports it

glassgen evaluate "$OUT" "$RUNS/proof-T0.6-test-is" --long-time -o "$OUT-eval" --overwrite || true
