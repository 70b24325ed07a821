#!/usr/bin/env bash
# CI check of the Cortex-M4F firmware (issue 5): installs the toolchain and QEMU if missing,
# builds the firmware, runs it under QEMU on several blobs and (prime, temperature, seed, top-k,
# top-p) combinations, and checks that its output is byte-identical to the host's
# `charlstm-sim run --raw` with the same arguments. Also checks that a truncated blob and an
# unknown prime character make the run fail with the loader's or the core's message. Exits
# non-zero on any mismatch or failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
QEMU="$ROOT/scripts/qemu-m4.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "ci-qemu: FAIL: $1" >&2
    exit 1
}

echo "ci-qemu: toolchain + firmware build" >&2
"$QEMU" --build-only

# ---------------------------------------------------------------------------
# Host reference: the simulator

echo "ci-qemu: building charlstm-sim (the host reference)" >&2
cargo build -q --release -p charlstm-sim || fail "charlstm-sim does not build"
SIM="$ROOT/target/release/charlstm-sim"
reference() { "$SIM" run --raw "$@"; }

# ---------------------------------------------------------------------------
# Blobs: random int8 H=128 V=57 L=1 (the bundled model's shape), a float one, the bundled one

cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/int8.blob" 128 1 int8 1
cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/f32.blob" 96 1 f32 2
BLOBS=("$TMP/int8.blob" "$TMP/f32.blob")
[ -f models/nietzsche.blob ] && BLOBS+=(models/nietzsche.blob)

# Each case: the arguments shared by both runs. T=0 (argmax), plain temperature sampling
# (no top-k/top-p), top-k, top-p, both, an empty prime and a large seed; "" = all defaults.
CASES=(
    ""
    "--prime|the meaning of |--temperature|0.8|--seed|42|--chars|300"
    "--prime|the |--temperature|0|--seed|1|--chars|200"
    "--prime||--temperature|1.0|--seed|0|--chars|200"
    "--prime|what is |--temperature|0.5|--seed|7|--chars|200|--top-k|5"
    "--prime|a|--temperature|1.3|--seed|18446744073709551615|--chars|200|--top-p|0.9"
    "--prime|he said|--temperature|0.7|--seed|123|--chars|150|--top-k|10|--top-p|0.8"
)

# Other shapes, two layers, fewer cases: H=104 (a multiple of 8: the M4's SMLAD loop on every
# row pair, and the layer above reading the quantized h of the layer below) and H=100 (not a
# multiple of 8: the plain path, activations in the same lane order).
cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/h104l2.blob" 104 2 int8 4
cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/h100l2.blob" 100 2 int8 5
SHAPES=("$TMP/h104l2.blob" "$TMP/h100l2.blob")
SHAPE_CASES=("${CASES[1]}" "${CASES[4]}")

n=0
check() {
    local blob=$1 case=$2
    IFS='|' read -r -a args <<<"$case"
    n=$((n + 1))
    reference --blob "$blob" "${args[@]}" >"$TMP/host.txt" 2>"$TMP/host.err" ||
        fail "charlstm-sim failed on $(basename "$blob") ${args[*]}: $(cat "$TMP/host.err")"
    "$QEMU" --blob "$blob" "${args[@]}" >"$TMP/qemu.txt" 2>"$TMP/qemu.err" ||
        fail "qemu-m4.sh failed on $(basename "$blob") ${args[*]}: $(cat "$TMP/qemu.err")"
    cmp -s "$TMP/host.txt" "$TMP/qemu.txt" ||
        fail "output differs on $(basename "$blob") ${args[*]} ($(wc -c <"$TMP/host.txt") host bytes vs $(wc -c <"$TMP/qemu.txt") QEMU bytes): $(cmp "$TMP/host.txt" "$TMP/qemu.txt" || true)"
    [ -s "$TMP/qemu.txt" ] || fail "no output on $(basename "$blob") ${args[*]}"
    ipc=$(sed -n 's/^instructions_per_char: //p' "$TMP/qemu.err")
    [ -n "$ipc" ] || fail "no instructions_per_char on $(basename "$blob") ${args[*]}"
    printf 'ci-qemu: ok %-14s %-60s %s bytes, %s instructions/char\n' "$(basename "$blob")" \
        "${args[*]}" "$(wc -c <"$TMP/qemu.txt")" "$ipc" >&2
}
for blob in "${BLOBS[@]}"; do
    for case in "${CASES[@]}"; do
        check "$blob" "$case"
    done
done
for blob in "${SHAPES[@]}"; do
    for case in "${SHAPE_CASES[@]}"; do
        check "$blob" "$case"
    done
done

# ---------------------------------------------------------------------------
# Errors must fail the run and say why

head -c 2000 "$TMP/int8.blob" >"$TMP/truncated.blob"
if "$QEMU" --blob "$TMP/truncated.blob" --chars 5 >/dev/null 2>"$TMP/err"; then
    fail "a truncated blob was accepted"
fi
grep -q "rejected by the loader" "$TMP/err" || fail "no loader error for a truncated blob: $(cat "$TMP/err")"
cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/h256.blob" 256 1 int8 3
if "$QEMU" --blob "$TMP/h256.blob" --chars 5 >/dev/null 2>"$TMP/err"; then
    fail "a blob above the firmware's capacity (H=256 > 128) was accepted"
fi
grep -q "rejected by the loader" "$TMP/err" || fail "no capacity error for H=256: $(cat "$TMP/err")"
if "$QEMU" --blob "$TMP/int8.blob" --prime "ABC" --chars 5 >/dev/null 2>"$TMP/err"; then
    fail "a prime outside the vocabulary was accepted"
fi
grep -q "not in the model's vocabulary" "$TMP/err" || fail "no prime error: $(cat "$TMP/err")"

grep -E '^(flash|ram|instructions_per)' "$TMP/qemu.err" >&2 || true
echo "ci-qemu: all $n runs byte-identical to charlstm-sim; error cases fail as they should" >&2
