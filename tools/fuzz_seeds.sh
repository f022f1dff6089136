#!/usr/bin/env bash
# Fills a seed corpus directory for one libFuzzer target from the shared test data.
#   tools/fuzz_seeds.sh FUZZER_NAME CORPUS_DIR
set -euo pipefail
name=$1
corpus=$2
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${LFM2_SHARED_DIR:-$here/../shared}
mkdir -p "$corpus"
case "$name" in
  fuzz_checkpoint)
    i=0
    for f in "$shared"/golden/*/model/*.json "$shared"/lfm2-tokenizer/config.json; do
      cp "$f" "$corpus/json_$((i++))"
    done
    for f in "$shared"/golden/*/model/*.safetensors; do
      # The header plus a little data keeps seeds small.
      n=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
      head -c $((8 + n + 64)) "$f" > "$corpus/st_$((i++))"
    done
    ;;
  fuzz_tokenizer|fuzz_chat_template)
    [ -x "$here/tools/fuzz_seeds_$name.sh" ] && "$here/tools/fuzz_seeds_$name.sh" "$corpus"
    ;;
esac
# Unknown fuzzers run from an empty corpus.
exit 0
