#!/usr/bin/env bash
# Rollout proof at T = 0.6, N = 1000 (experiments/rollout-proof/record.md, "Proof at T = 0.6"): MD -> flow fit -> 16 rollouts from the
# independent MD's starting configurations -> long-time check and Chapman–Kolmogorov check against that MD.
# Every step resumes: re-run the script after an interruption. Wall time on 2 CPU cores: ~1 h.
#   [T=0.5] bash experiments/rollout-proof/rollout_proof.sh [RUNS_DIR] [LAG] [STEPS] [RELAX] [MODEL] [RELAX_TIME] [COUNTED]
# HISTORY (environment, default chain): what a second-order model reads as its last step; SEED (default 0);
# GUIDANCE (default 1.0): history guidance of second-order models; NOISE: --noise-scale of the draws;
# SHIPPED=1: use the trained weights in checkpoints/ (skips the training MD and the fit; the reference MD is still
# simulated for the check).
# T (environment, default 0.6) picks recipes/proof-T$T-{train,test}.yaml and flow-proof-T$T-geom.yaml; at T = 0.5
# give LAG 50 and STEPS 28 (1400 LJ = 10 tau_alpha).
# RELAX: quench (default: inherent structure, then 0.5 LJ of Langevin at T = 0.6), none (the model alone), nvt,
# local, minimize or project (docs/rollout.md, "Relaxation"). MODEL: a recipe name in recipes/ or experiments/recipes/ (default
# flow-proof-T0.6-geom, the displaced-geometry model; flow-proof-T0.6-pairs and flow-proof-T0.6 are its ablations).
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root
RUNS=${1:-runs}
LAG=${2:-5.0}
STEPS=${3:-30}            # 30 x 5 = 150 LJ time = 12.7 tau_alpha (tau_alpha = 11.8 at T = 0.6, N = 1000)
RELAX=${4:-quench}
T=${T:-0.6}
MODEL=${5:-flow-proof-T$T-geom}
RELAX_TIME=${6:-0.5}      # LJ time of Langevin after the quench (nvt, quench)
COUNTED=${7:-no}          # yes: the Langevin run is counted as real time (draws of LAG - RELAX_TIME; --relax-counts)
HISTORY=${HISTORY:-chain} # second-order models: chain or draw (rollout --history; docs/rollout.md)
SEED=${SEED:-0}           # rollout seed (a repeat with another seed checks that a verdict is not luck)
GUIDANCE=${GUIDANCE:-1.0} # second-order models: history guidance w (rollout --history-guidance; 1 = as trained)
NOISE=${NOISE:-}          # rollout --noise-scale (e.g. from `glassgen calibrate` on the training trajectories)
SHIPPED=${SHIPPED:-0}     # 1: roll out checkpoints/MODEL.safetensors instead of fitting MODEL's recipe
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RECIPE=recipes/$MODEL.yaml   # a shipped model's recipe, else an experiment variant
[ -f "$RECIPE" ] || RECIPE=experiments/recipes/$MODEL.yaml

PARTS=(train test)
[ "$SHIPPED" = "1" ] && PARTS=(test)   # shipped weights: the training MD is not needed
for part in "${PARTS[@]}"; do
  if [ ! -f "$RUNS/proof-T$T-$part/traj_000.h5" ] || ls "$RUNS/proof-T$T-$part"/*.partial >/dev/null 2>&1; then
    glassgen simulate "recipes/proof-T$T-$part.yaml" -o "$RUNS/proof-T$T-$part" \
      $( [ -f "$RUNS/proof-T$T-$part/recipe.yaml" ] && echo --resume )
  fi
done

# The recipes read runs/ at the repository root (../runs, ../../runs); a different RUNS needs its own copy of the recipe.
CKPT="$RUNS/$MODEL/best.safetensors"
if [ "$SHIPPED" = "1" ]; then
  CKPT="checkpoints/$MODEL.safetensors"   # the shipped weights (checkpoints/README.md): no fit
  [ -f "$CKPT" ] || { echo "rollout_proof.sh: SHIPPED=1 but $CKPT does not exist (checkpoints/README.md lists them)" >&2; exit 2; }
elif [ ! -f "$RUNS/$MODEL/train_state.pt" ]; then
  glassgen fit "$RECIPE" -o "$RUNS/$MODEL"
else
  glassgen fit "$RECIPE" -o "$RUNS/$MODEL" --resume
fi

OUT="$RUNS/proof-T$T-rollout-${MODEL#flow-proof-T$T}-$RELAX"
OUT=${OUT/rollout--/rollout-}
[ "$SHIPPED" = "1" ] && OUT="$OUT-shipped"
[ "$RELAX_TIME" = "0.5" ] || OUT="$OUT$RELAX_TIME"
STD_LAG=$( [ "$T" = "0.5" ] && echo 50.0 || echo 5.0 )  # the proof's lag at T; another lag gets its own folder
[ "$LAG" = "$STD_LAG" ] || OUT="$OUT-lag$LAG"
COUNTS=()
if [ "$COUNTED" = "yes" ]; then OUT="$OUT-counted"; COUNTS=(--relax-counts); fi
[ "$HISTORY" = "chain" ] || OUT="$OUT-history$HISTORY"
[ "$SEED" = "0" ] || OUT="$OUT-seed$SEED"
[ "$GUIDANCE" = "1.0" ] || OUT="$OUT-guide$GUIDANCE"
NOISES=()
if [ -n "$NOISE" ]; then OUT="$OUT-noise$NOISE"; NOISES=(--noise-scale "$NOISE"); fi
mkdir -p "$OUT"
INITS=()
for f in "$RUNS"/proof-T$T-test/traj_0*.h5; do INITS+=(--init "$f"); done
RES=$( [ -f "$OUT/rollout.log.csv" ] && echo --resume || true )
# --max-resample 0: with this model nearly every draw has overlaps, so redraws only multiply the cost; the
# log still records every overlap kept.
glassgen rollout "$CKPT" "${INITS[@]}" --steps "$STEPS" --lag "$LAG" --seed "$SEED" --max-resample 0 \
  --relax "$RELAX" --relax-when always --relax-temperature "$T" --relax-time "$RELAX_TIME" "${COUNTS[@]}" --history "$HISTORY" --history-guidance "$GUIDANCE" "${NOISES[@]}" -o "$OUT/rollout.h5" $RES \
  || [ $? -eq 1 ]  # 1: blown up (marked in the files); the checks below still report it

# 16 MD trajectories vs 16 rollouts; the MD files are cut to the rollout's time grid by the check itself.
glassgen evaluate "$OUT" "$RUNS/proof-T$T-test" --long-time -o "$OUT-eval" --overwrite || true
# One rollout against its MD trajectory (time-origin statistics), plus the Chapman–Kolmogorov check: two draws
# of LAG vs one of 2 LAG vs MD at 2 LAG, from 8 starts along the independent MD trajectory.
glassgen evaluate "$OUT/rollout_000.h5" "$RUNS/proof-T$T-test/traj_000.h5" \
  -o "$OUT-ck" --ck-model "$CKPT" --ck-lag "$LAG" --overwrite || true
