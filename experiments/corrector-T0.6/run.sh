#!/usr/bin/env bash
# Issue #28 item 2: the shipped T = 0.6 chain (flow-proof-T0.6-sig, its validated sampler and history settings)
# with the learned corrector after every draw instead of the LAMMPS quench, 8 chains of 10 steps of lag 5 from the
# starts of the validation MD (seed 611), checked with `glassgen evaluate --long-time` against that MD: the
# protocol of experiments/nfe-scan-T0.6, whose quench and refine rows it is compared with. Resumes.
#   bash experiments/corrector-T0.6/run.sh RUNS CORRECTOR NAME [extra rollout options]
set -euo pipefail
RUNS=${1:?usage: run.sh RUNS CORRECTOR NAME [options]}; CORR=${2:?}; NAME=${3:?}; shift 3
MD=$RUNS/validation-T0.6
INITS=(); for f in "$MD"/traj_0*.h5; do INITS+=(--init "$f"); done
out=$RUNS/corrector-T0.6-chains/$NAME
mkdir -p "$out"
[ -f "$out/rollout_007.h5" ] || glassgen rollout flow-proof-T0.6-sig "${INITS[@]}" --steps 10 --lag 5 --seed 0 \
    --relax learned --corrector "$CORR" "$@" -o "$out/rollout.h5" --resume > "$out/rollout.log" 2>&1 || true
[ -f "$out/eval/longtime.json" ] || glassgen evaluate "$out" "$MD" --long-time -o "$out/eval" --overwrite > "$out/eval.log" 2>&1 || true
tail -n 12 "$out/rollout.log"; grep -m1 -i "rows\|pass" "$out/eval.log" || tail -n 3 "$out/eval.log"
