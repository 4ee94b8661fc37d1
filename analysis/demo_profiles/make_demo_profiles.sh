#!/bin/sh
# Rebuild the demo before/after profiles that `runyard demo` loads: one program before and after an
# optimisation (linked list of scattered records -> contiguous arrays that gcc vectorizes), profiled with
# callgrind (simulated caches and branch predictor, per-instruction costs) and disassembled with objdump.
# Outputs (committed): before.callgrind after.callgrind before.objdump after.objdump.
# Absolute build paths are rewritten to /src/demo/ so the files do not depend on where they were made.
# Usage: make_demo_profiles.sh [output directory]   (default: this directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

cp "$here/before.c" "$here/after.c" "$build/"
cd "$build"
gcc -O2 -g -fno-omit-frame-pointer -o before before.c
gcc -O3 -mavx2 -mfma -g -fno-omit-frame-pointer -o after after.c

for prog in before after; do
    valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes \
        --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 --dump-instr=yes \
        --callgrind-out-file="$prog.callgrind.%p" "./$prog" >/dev/null 2>"$prog.valgrind.log"
    sed -e "s#$build/#/src/demo/#g" "$prog".callgrind.* >"$out/$prog.callgrind"
    objdump -d "$prog" | sed -e "s#$build/#/src/demo/#g" >"$out/$prog.objdump"
done
ls -l "$out"/*.callgrind "$out"/*.objdump
