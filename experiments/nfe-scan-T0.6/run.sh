#!/usr/bin/env bash
# Issue #28 item 5: the shipped T = 0.6 chain at 2, 4, 8 and 16 network evaluations per draw (heun x 1, 2, 4, 8;
# every other setting the checkpoint's validated defaults), 8 chains of 10 steps of lag 5 from the starts of the
# validation MD, each checked with `glassgen evaluate --long-time` against that MD. Resumes.
#   bash experiments/nfe-scan-T0.6/run.sh RUNS      (RUNS: a folder outside the repository, e.g. ../runs)
set -euo pipefail
RUNS=${1:?usage: run.sh RUNS}
MD=$RUNS/validation-T0.6
[ -f "$MD/traj_007.h5" ] || glassgen simulate experiments/recipes/validation-T0.6.yaml -o "$MD" --resume
INITS=(); for f in "$MD"/traj_0*.h5; do INITS+=(--init "$f"); done
scan() {
  local k=$1 out=$RUNS/nfe-scan-T0.6/heun$1
  mkdir -p "$out"
  [ -f "$out/rollout_007.h5" ] || OMP_NUM_THREADS=1 glassgen rollout flow-proof-T0.6-sig "${INITS[@]}" --steps 10 --lag 5 \
      --seed 0 --ode-steps "$k" -o "$out/rollout.h5" --resume > "$out/rollout.log" 2>&1
  [ -f "$out/eval/longtime.json" ] || glassgen evaluate "$out" "$MD" --long-time -o "$out/eval" --overwrite > "$out/eval.log" 2>&1 || true
}
scan 1 & scan 2 & wait
scan 4 & scan 8 & wait
