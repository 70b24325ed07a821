#!/usr/bin/env bash
# The whole pipeline on a corpus with a small time budget, ending in text printed by the
# simulated device (and by the emulated Cortex-M4 when QEMU is installed):
#   train -> eval -> export -> flash -> boot + generate.
# Usage: scripts/demo.sh [CORPUS] [SECONDS]   (defaults: ../shared/data/nietzsche.txt, 60)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus=${1:-../shared/data/nietzsche.txt}
seconds=${2:-60}
out=runs/demo
[ -f "$corpus" ] || { echo "demo: corpus $corpus not found (pass a UTF-8 text file)" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
cargo build -q --release -p charlstm-trainer -p charlstm-sim
train=target/release/charlstm-train
sim=target/release/charlstm-sim

say "1. train for ${seconds}s on $corpus (H=128, L=1, lowercased, truncated BPTT)"
rm -rf "$out"
"$train" train --corpus "$corpus" --lowercase --time-limit "$seconds" --out "$out"

say "2. evaluate the float checkpoint and the int8 blob on the held-out 10%"
"$train" eval --corpus "$corpus" --checkpoint "$out/checkpoint.bin"
"$train" eval --corpus "$corpus" --blob "$out/model.blob"

say "3. export: quantize to int8 (float vs int8 bpc, weight error per tensor)"
"$train" export --checkpoint "$out/checkpoint.bin" --out "$out/model.blob"

say "4. flash the blob into an stm32f411 flash image"
"$sim" flash "$out/model.blob" --image "$out/flash.img" --board stm32f411

say "5. boot the simulated device and generate over its UART"
"$sim" run --image "$out/flash.img" --board stm32f411 --prime "the meaning of " --temperature 0.5 --chars 300 --stats

if command -v qemu-system-arm >/dev/null && [ -x /usr/bin/cargo ]; then
    say "6. the same blob on an emulated Cortex-M4 (QEMU mps2-an386)"
    bash scripts/qemu-m4.sh --blob "$out/model.blob" --prime "the meaning of " --temperature 0.5 --chars 300
    echo >&2
else
    say "6. (skipped: install qemu-system-arm and rustc-web to run it on an emulated Cortex-M4; see README)"
fi
