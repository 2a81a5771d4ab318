#!/usr/bin/env bash
# Outputs of the team's recordings, byte for byte against a reference (refactorings change none).
#
#   bash scripts/check_outputs_identical.sh ref     # write the reference outputs (run on main)
#   bash scripts/check_outputs_identical.sh check   # regenerate and cmp them against the reference
#
# The six recordings: the shipped example (chirunning, 208 Hz, 75 s) and five simulated sessions
# (chirunning 208 Hz, forefoot 50 Hz, walk 100 Hz, treadmill 416 Hz with 2 % packet loss,
# rearfoot 833 Hz), made once into $RUNFORM_CHECK_DIR/recs (default /tmp/runform-check).
# For each: `runform analyze` STRIDES.csv and SUMMARY.json (worker processes and one process),
# and scripts/dump_stream_outputs.py in the replay and live feeding patterns (rows, early
# rows, alerts, cleared alerts and traces of every call).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: check_outputs_identical.sh ref|check}
DIR=${RUNFORM_CHECK_DIR:-/tmp/runform-check}
PY=${PYTHON:-.venv/bin/python}
RF=${RUNFORM:-.venv/bin/runform}
mkdir -p "$DIR/recs"
sim() {  # name scenario rate duration [extra...]
    local name=$1 sc=$2 rate=$3 dur=$4; shift 4
    [ -f "$DIR/recs/$name.h5" ] || "$RF" simulate --scenario "$sc" --rate "$rate" \
        --duration "$dur" --seed 7 "$@" --out "$DIR/recs/$name.h5" >/dev/null
}
cp -n recordings/examples/chirunning_example.h5 "$DIR/recs/example.h5" 2>/dev/null || true
sim chi208 chirunning 208 240
sim fore50 forefoot 50 240
sim walk100 walk 100 240
sim tread416 treadmill 416 240 --packet-loss 0.02
sim rear833 rearfoot 833 120
case $MODE in
    ref) OUT="$DIR/ref" ;;
    check) OUT="$DIR/new" ;;
    *) echo "usage: check_outputs_identical.sh ref|check" >&2; exit 2 ;;
esac
rm -rf "$OUT"; mkdir -p "$OUT"
for f in "$DIR"/recs/*.h5; do
    n=$(basename "$f" .h5)
    "$RF" analyze "$f" --strides "$OUT/$n.STRIDES.csv" --json "$OUT/$n.SUMMARY.json" >/dev/null
    RUNFORM_WORKERS=1 "$RF" analyze "$f" --strides "$OUT/$n.1.STRIDES.csv" \
        --json "$OUT/$n.1.SUMMARY.json" >/dev/null
    "$PY" scripts/dump_stream_outputs.py "$f" replay > "$OUT/$n.replay.txt"
    "$PY" scripts/dump_stream_outputs.py "$f" live > "$OUT/$n.live.txt"
done
# SUMMARY.json holds the recording path and the run time: compare without them
for j in "$OUT"/*.SUMMARY.json; do
    "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); [d.pop(k, None) for k in ('recording','analysed_at','runform_version','generated_at')]; json.dump(d, open(sys.argv[1],'w'), sort_keys=True, indent=1)" "$j"
done
if [ "$MODE" = check ]; then
    bad=0
    for f in "$DIR"/ref/*; do
        cmp -s "$f" "$OUT/$(basename "$f")" || { echo "DIFFERS: $(basename "$f")"; bad=1; }
    done
    n=$(ls "$DIR"/ref | wc -l)
    [ $bad = 0 ] && echo "all $n output files byte-identical to the reference"
    exit $bad
fi
echo "reference written to $OUT ($(ls "$OUT" | wc -l) files)"
