#!/usr/bin/env bash
# Training variants on a GPU box that has no Java: the candidate lists and teacher scores are computed
# beforehand on the CPU (lsr train caches them under $LSR_OUT_DIR/teachers) and carried along with the
# dataset and the backbone; each variant trains with `lsr train`, then `lsr evaluate-model` scores it on
# SciFact test by exact search (the same quantised dot products that the Lucene path gives).
#   usage: bench/gpu_train_sweep.sh BACKBONE_DIR OUTPUT_DIR "NAME:KEY=VALUE,KEY=VALUE" ...
set -euo pipefail
backbone=$1; output=$2; shift 2
for variant in "$@"; do
  name=${variant%%:*}; settings=${variant#*:}
  sets=(--set "backbone=$backbone")
  IFS=',' read -ra pairs <<< "$settings"
  for pair in "${pairs[@]}"; do [ -n "$pair" ] && sets+=(--set "$pair"); done
  echo "=== $name: ${settings}"
  start=$(date +%s)
  python3 -m lsr.cli train training/inference-free-ensemble.yaml "${sets[@]}" --set "name=$name" --output "$output/$name" --quiet
  echo "train_seconds=$(( $(date +%s) - start ))"
  python3 -m lsr.cli evaluate-model "$output/$name" --dataset scifact --split test --quiet
done
