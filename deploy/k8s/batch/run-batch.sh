#!/bin/sh
# Runs `tensorpod run` once per item of a batch. `tensorpod run` takes one set
# of input files per call, so this loops:
#
#   $BATCH_INPUT_DIR/<item>/<input name>.npy   one file per model input
#   $BATCH_OUTPUT_DIR/<item>/<output name>.npy written by tensorpod run
#   $BATCH_OUTPUT_DIR/FAILED                   the items that failed, one a line
#
# Each call loads the model again (CUDA init, weights to the GPU), which costs
# seconds: stack many rows into each item's arrays (any batch size the model
# accepts) rather than writing one row per item.
#
# Exits 0 when at least one item ran (failures are listed in FAILED, and the
# upload step fails the Job after uploading), 1 when none did. POSIX sh: the
# serving images (Ubuntu-based CUDA, Debian-based CPU) have dash as /bin/sh.
set -eu

model=${BATCH_MODEL:?BATCH_MODEL: the model file}
in_dir=${BATCH_INPUT_DIR:?BATCH_INPUT_DIR: the folder of items}
out_dir=${BATCH_OUTPUT_DIR:?BATCH_OUTPUT_DIR: where outputs go}
device=${BATCH_DEVICE:-cuda}

mkdir -p "$out_dir"
ok=0
failed=0
for item_dir in "$in_dir"/*/; do
  [ -d "$item_dir" ] || continue
  item=$(basename "$item_dir")
  set --
  for f in "$item_dir"*.npy; do
    [ -e "$f" ] || continue
    set -- "$@" --input "$(basename "$f" .npy)=$f"
  done
  if [ "$#" -gt 0 ] && mkdir -p "$out_dir/$item" &&
    tensorpod run "$model" "$@" --output-dir "$out_dir/$item" --device "$device"; then
    ok=$((ok + 1))
  else
    echo "run-batch: item $item failed" >&2
    echo "$item" >>"$out_dir/FAILED"
    failed=$((failed + 1))
  fi
done
echo "run-batch: $ok items done, $failed failed"
[ "$ok" -gt 0 ]
