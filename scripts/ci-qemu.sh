#!/usr/bin/env bash
# CI check of the firmware under QEMU: the same image file goes to both sides,
# `charlstm-sim run --image F --raw` and the firmware booting F (scripts/qemu.sh --image F),
# over several blobs and (prime, temperature, seed, top-k, top-p) settings; the text must be
# byte-identical. Damaged images (a corrupted header page, a blob whose CRC does not match, an
# image for another board, an erased model region) must be refused by both sides with the
# same error kind, and the firmware's RAM must stay within its budget. Exits non-zero on any
# mismatch. Honours CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BOARD=${1:-mps2-an386}
QEMU=("$ROOT/scripts/qemu.sh" --board "$BOARD")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "ci-qemu: FAIL: $1" >&2
    exit 1
}

echo "ci-qemu: toolchain + firmware and charlstm-sim builds" >&2
"${QEMU[@]}" --build-only
SIM="${CARGO_TARGET_DIR:-$ROOT/target}/release/charlstm-sim"
case "$SIM" in /*) ;; *) SIM="$ROOT/$SIM" ;; esac
blob() { cargo run -q --release -p charlstm-tests --example random-blob -- "$@"; }

# ---------------------------------------------------------------------------
# Images: random int8 H=128 V=57 L=1 (the bundled model's shape), a float one, the bundled
# one, each flashed for the board as the HEX a user would flash

blob "$TMP/int8.blob" 128 1 int8 1
blob "$TMP/f32.blob" 96 1 f32 2
BLOBS=("$TMP/int8.blob" "$TMP/f32.blob")
[ -f models/nietzsche.blob ] && BLOBS+=(models/nietzsche.blob)
# Two layers: H=100 (a multiple of 4: the M4's SMLAD loop everywhere, the upper layer reading
# the lower one's quantized h) and H=102 (the plain path).
blob "$TMP/h100l2.blob" 100 2 int8 4
blob "$TMP/h102l2.blob" 102 2 int8 5
SHAPES=("$TMP/h100l2.blob" "$TMP/h102l2.blob")
image() { # BLOB -> the HEX's path; nothing for a blob larger than the board's model region
    local out="$TMP/$(basename "$1" .blob).hex"
    if ! "$SIM" flash "$1" --board "$BOARD" --image "$out" >/dev/null 2>"$TMP/flash.err"; then
        grep -q "model region holds" "$TMP/flash.err" || fail "flash $1: $(cat "$TMP/flash.err")"
        echo "ci-qemu: skip $(basename "$1"): larger than $BOARD's model region" >&2
        return
    fi
    echo "$out"
}

# Each case: the arguments shared by both runs. T=0 (argmax), plain temperature sampling,
# top-k, top-p, both, an empty prime and a large seed; "" = all defaults.
CASES=(
    ""
    "--prime|the meaning of |--temperature|0.8|--seed|42|--chars|300"
    "--prime|the |--temperature|0|--seed|1|--chars|200"
    "--prime||--temperature|1.0|--seed|0|--chars|200"
    "--prime|what is |--temperature|0.5|--seed|7|--chars|200|--top-k|5"
    "--prime|a|--temperature|1.3|--seed|18446744073709551615|--chars|200|--top-p|0.9"
    "--prime|he said|--temperature|0.7|--seed|123|--chars|150|--top-k|10|--top-p|0.8"
)
SHAPE_CASES=("${CASES[1]}" "${CASES[4]}")
# The other boards, a handful of cases each (CI stays short): argmax, temperature, top-k,
# top-p with the largest seed; one two-layer case.
if [ "$BOARD" != mps2-an386 ]; then
    CASES=("${CASES[1]}" "${CASES[2]}" "${CASES[4]}" "${CASES[5]}")
    SHAPES=("$TMP/h100l2.blob")
    SHAPE_CASES=("${CASES[0]}")
fi

n=0
BUDGET=""
check() {
    local file=$1 case=$2 name
    name=$(basename "$file")
    IFS='|' read -r -a args <<<"$case"
    n=$((n + 1))
    "$SIM" run --raw --image "$file" "${args[@]}" >"$TMP/host.txt" 2>"$TMP/host.err" ||
        fail "charlstm-sim failed on $name ${args[*]}: $(cat "$TMP/host.err")"
    "${QEMU[@]}" --image "$file" "${args[@]}" >"$TMP/qemu.txt" 2>"$TMP/qemu.err" ||
        fail "qemu.sh failed on $name ${args[*]}: $(cat "$TMP/qemu.err")"
    cmp -s "$TMP/host.txt" "$TMP/qemu.txt" ||
        fail "output differs on $name ${args[*]} ($(wc -c <"$TMP/host.txt") host bytes vs $(wc -c <"$TMP/qemu.txt") QEMU bytes): $(cmp "$TMP/host.txt" "$TMP/qemu.txt" || true)"
    [ -s "$TMP/qemu.txt" ] || fail "no output on $name ${args[*]}"
    local ipc ram
    ipc=$(sed -n 's/^instructions_per_char: //p' "$TMP/qemu.err")
    ram=$(sed -n 's/^ram_bytes: //p' "$TMP/qemu.err")
    BUDGET=$(sed -n 's/^ram_budget: //p' "$TMP/qemu.err")
    [ -n "$ipc" ] && [ -n "$ram" ] && [ -n "$BUDGET" ] || fail "no figures on $name ${args[*]}: $(cat "$TMP/qemu.err")"
    [ "$ram" -le "$BUDGET" ] || fail "RAM $ram B is over the firmware's budget of $BUDGET B on $name ${args[*]}"
    cp "$TMP/qemu.err" "$TMP/figures.err"
    printf 'ci-qemu: ok %-14s %-60s %s bytes, %s instructions/char, RAM %s B\n' "$name" \
        "${args[*]}" "$(wc -c <"$TMP/qemu.txt")" "$ipc" "$ram" >&2
}
for b in "${BLOBS[@]}"; do
    hex=$(image "$b")
    [ -n "$hex" ] || continue
    for case in "${CASES[@]}"; do
        check "$hex" "$case"
    done
done
for b in "${SHAPES[@]}"; do
    hex=$(image "$b")
    [ -n "$hex" ] || continue
    for case in "${SHAPE_CASES[@]}"; do
        check "$hex" "$case"
    done
done
# A bin image (the simulator's whole flash) boots the same, loaded from its header page on.
"$SIM" flash "$TMP/int8.blob" --board "$BOARD" --image "$TMP/int8.bin" >/dev/null
check "$TMP/int8.bin" "${CASES[1]}"

# ---------------------------------------------------------------------------
# Refusals: each side must fail and name the same kind

refused() { # KIND [FIRMWARE_KIND] FILE [run flags...]: both sides refuse FILE
    local kind=$1 fw_kind=$1
    shift
    if [ ! -f "$1" ]; then
        fw_kind=$1
        shift
    fi
    local file=$1
    shift
    if "$SIM" run --raw --image "$file" --chars 5 "$@" >/dev/null 2>"$TMP/host.err"; then
        fail "charlstm-sim accepted $(basename "$file") (expected $kind)"
    fi
    grep -q "$kind: " "$TMP/host.err" || fail "charlstm-sim: no $kind error for $(basename "$file"): $(cat "$TMP/host.err")"
    if "${QEMU[@]}" --image "$file" --chars 5 --timeout 60 >/dev/null 2>"$TMP/qemu.err"; then
        fail "the firmware accepted $(basename "$file") (expected $fw_kind)"
    fi
    grep -q "reports: $fw_kind: " "$TMP/qemu.err" || fail "firmware: no $fw_kind error for $(basename "$file"): $(cat "$TMP/qemu.err")"
    echo "ci-qemu: ok refused $(basename "$file"): $kind (simulator), $fw_kind (firmware)" >&2
}
# Offsets from the simulator's own description of the image: no address is written here.
OFFSET=$("$SIM" boards --board "$BOARD" | sed -n 's/^header: 0x[0-9a-f]* (flash offset \(0x[0-9a-f]*\))$/\1/p')
[ -n "$OFFSET" ] || fail "charlstm-sim boards names no header offset"
flip() { # IN OUT OFFSET: OUT is IN with the byte at OFFSET inverted
    cp "$1" "$2"
    local byte
    byte=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((255 - byte)))" | dd of="$2" bs=1 seek="$3" conv=notrunc status=none
}
flip "$TMP/int8.bin" "$TMP/bad-header.bin" $((OFFSET + 20))
refused header-crc "$TMP/bad-header.bin"
flip "$TMP/int8.bin" "$TMP/bad-blob.bin" $((OFFSET + 256 + 1000))
refused blob-crc "$TMP/bad-blob.bin"
# An image made for another board. Where another board's header sits where this board's
# firmware looks, both sides see the same bytes and name the board; elsewhere the firmware
# sees only erased flash there (the simulator, told the board, still names it).
header_offset() { "$SIM" boards --board "$1" | sed -n 's/^header: 0x[0-9a-f]* (flash offset \(0x[0-9a-f]*\))$/\1/p'; }
OTHER="" FW_KIND=board
for b in $("$SIM" boards | sed -n 's/^board: //p'); do
    [ "$b" != "$BOARD" ] && [ "$(header_offset "$b")" = "$OFFSET" ] && { OTHER=$b; break; }
done
if [ -z "$OTHER" ]; then
    OTHER=$([ "$BOARD" = nrf52840 ] && echo stm32f411 || echo nrf52840)
    FW_KIND=erased
fi
"$SIM" flash "$TMP/int8.blob" --board "$OTHER" --image "$TMP/other.bin" >/dev/null
refused board "$FW_KIND" "$TMP/other.bin" --board "$BOARD"
# Nothing flashed: an erased model region (the simulator's erased flash reads 0xFF, QEMU's
# unwritten memory 0x00; both are erased).
head -c "$(stat -c %s "$TMP/int8.bin")" /dev/zero | tr '\0' '\377' >"$TMP/erased.bin"
refused erased "$TMP/erased.bin" --board "$BOARD"

# The firmware's own refusals: a blob above its capacities, a prime outside the vocabulary.
# (charlstm-sim flash refuses a blob above the firmware's capacities; --force writes it.)
blob "$TMP/h136.blob" 136 1 int8 3
if "$SIM" flash "$TMP/h136.blob" --board "$BOARD" --image "$TMP/h136.hex" >/dev/null 2>"$TMP/err"; then
    fail "charlstm-sim flash accepted a blob above the firmware's capacities"
fi
grep -q "at most H=" "$TMP/err" || fail "no capacity refusal from charlstm-sim flash: $(cat "$TMP/err")"
"$SIM" flash "$TMP/h136.blob" --board "$BOARD" --image "$TMP/h136.hex" --force >/dev/null 2>&1
if "${QEMU[@]}" --image "$TMP/h136.hex" --chars 5 >/dev/null 2>"$TMP/err"; then
    fail "a blob above the firmware's capacity (H=136 > 128) was accepted"
fi
grep -q "reports: model:.*at most 128" "$TMP/err" || fail "no capacity error for H=136: $(cat "$TMP/err")"
if "${QEMU[@]}" --image "$(image "$TMP/int8.blob")" --prime "ABC" --chars 5 >/dev/null 2>"$TMP/err"; then
    fail "a prime outside the vocabulary was accepted"
fi
grep -q "reports: prime:.*not in the model's vocabulary" "$TMP/err" || fail "no prime error: $(cat "$TMP/err")"

# The board table's figures (charlstm-sim info, the README) must still hold: the bundled
# model with the defaults may not cost more than 0.5 % over its recorded instructions/char,
# nor more than the board's budget (its target).
if [ -f models/nietzsche.blob ]; then
    "${QEMU[@]}" --blob models/nietzsche.blob --prime "the meaning of " >/dev/null 2>"$TMP/figures.err" ||
        fail "the bundled model: $(cat "$TMP/figures.err")"
    measured=$(sed -n 's/^instructions_per_char: //p' "$TMP/figures.err")
    recorded=$("$SIM" boards --board "$BOARD" | sed -n 's/^firmware build: .*, \([0-9]*\) instructions\/char$/\1/p')
    [ -n "$measured" ] && [ -n "$recorded" ] || fail "no instructions/char to compare (measured '$measured', table '$recorded')"
    [ $((measured * 1000)) -le $((recorded * 1005)) ] ||
        fail "the bundled model takes $measured instructions/char, over the board table's $recorded by more than 0.5 % (a slowdown, or update firmware-sim/device/src/board.rs and the README)"
    budget=$("$SIM" boards --board "$BOARD" | sed -n 's/^instructions budget: \([0-9]*\) per char$/\1/p')
    [ -n "$budget" ] || fail "the board table gives $BOARD no instructions budget"
    [ "$measured" -le "$budget" ] ||
        fail "the bundled model takes $measured instructions/char, over $BOARD's budget of $budget"
    echo "ci-qemu: ok bundled model: $measured instructions/char (board table: $recorded, budget $budget)" >&2
fi
grep -E '^(code_bytes|ram_bytes|ram_budget|instructions_per)' "$TMP/figures.err" >&2 || true
echo "ci-qemu: all $n runs byte-identical to charlstm-sim, RAM within the $BUDGET B budget; damaged images refused by both sides" >&2
