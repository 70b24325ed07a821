#!/usr/bin/env bash
# Runs charlstm-core as Cortex-M4F firmware under QEMU (mps2-an386) on any blob.
#
#   scripts/qemu-m4.sh --blob F [--prime TEXT] [--temperature T] [--seed S] [--chars N]
#                      [--top-k K] [--top-p P] [--timeout SECS]
#   scripts/qemu-m4.sh --build-only
#
# Installs the Debian toolchain and QEMU if they are missing (as root), builds the firmware if
# needed, flashes the blob at the model address and a params block at the params address
# (-device loader), runs QEMU under `timeout`, and prints exactly the generated characters on
# stdout (the bytes of `charlstm-sim run --raw` with the same arguments). The firmware's
# report (instructions_per_char, RAM, flash) goes to stderr. Exit status: 0 on success, 1 if
# the firmware reports an error (e.g. the loader rejects the blob) or QEMU times out, 2 on a
# usage error. docs/qemu-m4.md has the details (memory map, params block format).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FW="$ROOT/firmware-sim/qemu-m4"
ELF="$FW/target/thumbv7em-none-eabihf/release/charlstm-qemu-m4"
# Flash layout, as in firmware-sim/qemu-m4/src/main.rs and memory.x.
PARAMS_ADDR=0x00200000
PARAMS_MAX=$((0x100000))
MODEL_ADDR=0x00300000
MODEL_MAX=$((0x100000))

usage() {
    sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2
    [ -n "${1:-}" ] && echo "qemu-m4.sh: $1" >&2
    exit 2
}
die() {
    echo "qemu-m4.sh: $1" >&2
    exit 1
}

# ---------------------------------------------------------------------------
# Arguments (defaults as charlstm-sim's)

BLOB="" PRIME="" TEMPERATURE="0.5" SEED="42" CHARS="400" TOP_K="0" TOP_P="1.0" TIMEOUT="300"
BUILD_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage ;;
    --build-only) BUILD_ONLY=1; shift; continue ;;
    --blob | --prime | --temperature | --seed | --chars | --top-k | --top-p | --timeout)
        [ $# -ge 2 ] || usage "$1 needs a value" ;;
    *) usage "unknown argument '$1'" ;;
    esac
    case "$1" in
    --blob) BLOB=$2 ;;
    --prime) PRIME=$2 ;;
    --temperature) TEMPERATURE=$2 ;;
    --seed) SEED=$2 ;;
    --chars) CHARS=$2 ;;
    --top-k) TOP_K=$2 ;;
    --top-p) TOP_P=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    esac
    shift 2
done

if [ "$BUILD_ONLY" = 0 ]; then
    [ -n "$BLOB" ] || usage "--blob is required (a model blob, e.g. models/nietzsche.blob)"
    [ -f "$BLOB" ] && [ -r "$BLOB" ] || die "$BLOB: no such readable file (pass a model blob)"
    BLOB_LEN=$(stat -c %s "$BLOB")
    [ "$BLOB_LEN" -le "$MODEL_MAX" ] ||
        die "$BLOB: $BLOB_LEN bytes, larger than the 1 MiB model region by $((BLOB_LEN - MODEL_MAX)) bytes"
    is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
    is_uint "$CHARS" && [ "${#CHARS}" -le 10 ] && [ "$CHARS" -le 4294967295 ] ||
        usage "--chars '$CHARS' is not a whole number up to 4294967295"
    is_uint "$TOP_K" && [ "${#TOP_K}" -le 10 ] && [ "$TOP_K" -le 4294967295 ] ||
        usage "--top-k '$TOP_K' is not a whole number up to 4294967295"
    is_uint "$SEED" && [ "${#SEED}" -le 20 ] || usage "--seed '$SEED' is not a whole number"
    is_uint "$TIMEOUT" || usage "--timeout '$TIMEOUT' is not a whole number of seconds"
    # What Rust's f32 parser accepts (the firmware parses the text itself, see the params block).
    is_float() { shopt -s nocasematch; [[ $1 =~ ^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|inf|infinity|nan)$ ]]; }
    is_float "$TEMPERATURE" || usage "--temperature '$TEMPERATURE' is not a number"
    is_float "$TOP_P" || usage "--top-p '$TOP_P' is not a number"
fi

# ---------------------------------------------------------------------------
# Toolchain: Debian's rustc/cargo 1.96 with library source, lld, QEMU

have_tools() {
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && command -v ld.lld >/dev/null &&
        command -v qemu-system-arm >/dev/null && command -v python3 >/dev/null &&
        [ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]
}
if ! have_tools; then
    echo "qemu-m4.sh: installing rustc-web cargo-web rust-web-src lld qemu-system-arm" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        rustc-web cargo-web rust-web-src lld qemu-system-arm python3 >&2
    have_tools || die "toolchain still incomplete after apt-get install (see docs/qemu-m4.md)"
fi

# Cargo's output goes to stderr; a no-op build takes a fraction of a second.
(cd "$FW" && /usr/bin/cargo build --release --locked -q) || die "firmware build failed"
[ "$BUILD_ONLY" = 1 ] && exit 0

# ---------------------------------------------------------------------------
# Params block (docs/qemu-m4.md §"Params block"), then QEMU

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PRIME="$PRIME" TEMPERATURE="$TEMPERATURE" TOP_P="$TOP_P" python3 - "$TMP/params.bin" \
    "$BLOB_LEN" "$CHARS" "$SEED" "$TOP_K" "$PARAMS_MAX" <<'EOF' || exit 2
import os, struct, sys
out, blob_len, chars, seed, top_k, limit = sys.argv[1], *map(int, sys.argv[2:])
def text(name):
    try:
        return os.environb[name.encode()].decode("utf-8").encode("utf-8")
    except UnicodeDecodeError:
        sys.exit(f"qemu-m4.sh: --{name.lower().replace('_', '-')} is not valid UTF-8")
temperature, top_p, prime = text("TEMPERATURE"), text("TOP_P"), text("PRIME")
if seed >= 2**64:
    sys.exit("qemu-m4.sh: --seed is larger than 2^64 - 1")
if len(temperature) > 64 or len(top_p) > 64:
    sys.exit("qemu-m4.sh: --temperature/--top-p: expected a number such as 0.8")
block = b"CLPR" + struct.pack("<HHIIQIHHI", 1, 0, blob_len, chars, seed, top_k,
                              len(temperature), len(top_p), len(prime))
block += temperature + top_p + prime
if len(block) > limit:
    sys.exit(f"qemu-m4.sh: --prime is too long ({len(prime)} bytes; the params region holds {limit - 36 - len(temperature) - len(top_p)})")
with open(out, "wb") as f:
    f.write(block)
EOF

# UART0 -> our stdout (-serial stdio), semihosting stderr -> our stderr. -icount shift=0 makes
# SysTick count guest instructions (docs/qemu-m4.md §"Counting instructions").
status=0
timeout "$TIMEOUT" qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -monitor none \
    -serial stdio -icount shift=0 -semihosting-config enable=on,target=native \
    -device loader,file="$BLOB",addr=$MODEL_ADDR \
    -device loader,file="$TMP/params.bin",addr=$PARAMS_ADDR \
    -kernel "$ELF" </dev/null || status=$?
case $status in
0) ;;
124) die "QEMU timed out after ${TIMEOUT}s (raise --timeout for long runs)" ;;
*) die "the firmware reported an error (QEMU exit status $status)" ;;
esac
