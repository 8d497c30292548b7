#!/usr/bin/env bash
# Mutation-test one module with mutmut 3 against the tests that cover it (a developer's tool,
# not part of CI). See docs/testing.md.
#
#   scripts/mutate.sh ganzoo/noise.py                 # mutate, run, print the score
#   scripts/mutate.sh plugins/ganzoo_torch/steps.py tests/test_golden_steps.py   # own tests
#   scripts/mutate.sh --list                          # the configured modules and their tests
#
# The packages are staged in their import layout under mutants/<module>/ (the working tree is
# only read; mutants never touch it). Afterwards, inside that folder:
#   ../../.venv/bin/mutmut results            # the surviving mutants
#   ../../.venv/bin/mutmut show NAME          # the diff of one mutant
# Environment: MUTATE_JOBS (parallel workers, default 2), MUTATE_TIMEOUT (seconds, default 3600),
# MUTATE_RERUN=1 (run only the mutants a previous run left alive, e.g. after adding a test).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
MUTMUT="$(dirname "$PY")/mutmut"

# The torch/Keras parity test of every loss trains both backends (slow) and checks what the
# golden tests check per backend; it also failed intermittently on 2026-12-03 (see docs/testing.md).
NO_PARITY="--deselect=tests/test_losses.py::test_torch_and_keras_take_the_same_steps"
# module (repository path) -> the test files (and pytest options) that cover it
tests_for() {
  case "$1" in
    ganzoo/noise.py) echo "tests/test_noise.py tests/test_mutation_kills_noise.py" ;;
    plugins/ganzoo_torch/losses.py) echo "tests/test_mutation_kills_losses.py tests/test_losses.py tests/test_golden_steps.py $NO_PARITY" ;;
    plugins/ganzoo_torch/steps.py) echo "tests/test_mutation_kills_steps.py tests/test_golden_steps.py tests/test_torch_trainer.py" ;;
    plugins/ganzoo_torch/optimizers.py) echo "tests/test_optimizers_from_card.py tests/test_mutation_kills_optimizers.py" ;;
    plugins/ganzoo_keras/losses.py) echo "tests/test_mutation_kills_losses.py tests/test_losses.py tests/test_golden_steps.py $NO_PARITY" ;;
    plugins/ganzoo_keras/steps.py) echo "tests/test_golden_steps.py tests/test_losses.py tests/test_keras_training.py $NO_PARITY" ;;
    plugins/ganzoo_keras/optimizers.py) echo "tests/test_optimizers_from_card.py tests/test_mutation_kills_optimizers.py" ;;
    ganzoo/metrics/fid.py) echo "tests/test_metrics.py tests/test_mutation_kills_metrics.py" ;;
    ganzoo/metrics/kid.py) echo "tests/test_metrics.py tests/test_mutation_kills_metrics.py" ;;
    ganzoo/metrics/manifold.py) echo "tests/test_metrics.py tests/test_metrics_density_coverage.py tests/test_mutation_kills_metrics.py" ;;
    ganzoo/weights/format.py) echo "tests/test_mutation_kills_weights.py tests/test_export_errors.py tests/test_export_roundtrip.py" ;;
    ganzoo/exchange.py) echo "tests/test_export_errors.py tests/test_export_roundtrip.py tests/test_records.py" ;;
    ganzoo/store/runstore.py) echo "tests/test_store.py tests/test_store_hardening.py tests/test_records.py tests/test_mutation_kills_runstore.py" ;;
    *) return 1 ;;
  esac
}
MODULES="ganzoo/noise.py plugins/ganzoo_torch/losses.py plugins/ganzoo_torch/steps.py
plugins/ganzoo_torch/optimizers.py plugins/ganzoo_keras/losses.py plugins/ganzoo_keras/steps.py
plugins/ganzoo_keras/optimizers.py ganzoo/metrics/fid.py ganzoo/metrics/kid.py
ganzoo/metrics/manifold.py ganzoo/weights/format.py ganzoo/exchange.py ganzoo/store/runstore.py"

if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [[ "$1" == "--list" ]]; then
  for m in $MODULES; do printf '%-36s %s\n' "$m" "$(tests_for "$m")"; done
  exit 0
fi

MODULE="$1"; shift
if [[ $# -gt 0 ]]; then
  TESTS="$*"
elif ! TESTS="$(tests_for "$MODULE")"; then
  echo "no tests configured for $MODULE; name them: scripts/mutate.sh $MODULE tests/test_x.py" >&2
  exit 2
fi
cd "$ROOT"
EXISTING=""
for t in $TESTS; do [[ "$t" == -* || -e "${t%%::*}" ]] && EXISTING="$EXISTING $t"; done

STAGED="$("$PY" scripts/mutate_stage.py --import-path "$MODULE")"
STAGE="$ROOT/mutants/$(echo "${STAGED%.py}" | tr '/' '_')"
# shellcheck disable=SC2086
"$PY" scripts/mutate_stage.py "$STAGE" "$STAGED" $EXISTING
echo "staged $MODULE as $STAGED in $STAGE; tests:$EXISTING"

cd "$STAGE"
# one thread per worker: the machine is shared, and workers run in parallel
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1
# mutmut keeps each mutant's result; MUTATE_RERUN=1 runs the ones left alive again (after a
# test was added for them), every other result stands.
NAMES=""
META="$STAGE/mutants/$STAGED.meta"
if [[ "${MUTATE_RERUN:-0}" == 1 && -f "$META" ]]; then
  NAMES="$("$PY" "$ROOT/scripts/mutate_score.py" "$STAGE" "$STAGED" --names)"
  echo "rerunning $(wc -w <<<"$NAMES") mutants left alive"
fi
# shellcheck disable=SC2086
timeout "${MUTATE_TIMEOUT:-3600}" "$MUTMUT" run --max-children "${MUTATE_JOBS:-2}" $NAMES >"$STAGE/run.log" 2>&1 \
  || echo "mutmut run exited $? (see $STAGE/run.log)" >&2
tail -c 2000 "$STAGE/run.log" | tr '\r' '\n' | grep -v '^\s*$' | tail -5

"$PY" "$ROOT/scripts/mutate_score.py" "$STAGE" "$STAGED"
