#!/usr/bin/env bash
# Runs the charlstm firmware of a board under QEMU and asks it for text over its serial console.
#
#   scripts/qemu.sh [--board B] (--blob F | --image F) [--prime TEXT] [--temperature T]
#                   [--seed S] [--chars N] [--top-k K] [--top-p P] [--timeout SECS]
#   scripts/qemu.sh [--board B] (--blob F | --image F) --pty
#   scripts/qemu.sh [--board B] --build-only          (prints `firmware: ELF`)
#
# Builds the board's firmware and charlstm-sim if needed, flashes a blob for the board as an
# Intel HEX with `charlstm-sim flash` (or takes --image: a HEX, or a bin image, loaded from its
# header page on), boots QEMU with that file and the firmware ELF, and runs
# `charlstm-sim serial` on the UART's pseudo-terminal: exactly the generated characters go to
# stdout (the bytes of `charlstm-sim run --raw` with the same image and flags), the device's
# figures to stderr (instructions_per_char: N, ram_bytes: N, code_bytes: N, ...), then `quit`
# ends QEMU. With --pty it boots, prints `console: /dev/pts/N` on stderr and runs until
# interrupted, for picocom or `charlstm-sim serial`. Exit status: 0 on success, 1 when the
# device reports an error or the run times out, 2 on a usage error. Honours CARGO_TARGET_DIR,
# and CHARLSTM_QEMU_ARGS: more QEMU arguments, split on spaces (scripts/qemu-profile.sh).
# Addresses come from the image file and the board table (charlstm-device), never from here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FW="$ROOT/firmware-sim/firmware"
NAME=$(basename "${BASH_SOURCE[0]}")

usage() {
    sed -n '4,7p' "$ROOT/scripts/qemu.sh" | sed 's/^# //' >&2
    [ -n "${1:-}" ] && echo "$NAME: $1" >&2
    exit 2
}
die() {
    echo "$NAME: $1" >&2
    exit 1
}

# ---------------------------------------------------------------------------
# Arguments; the generation flags go to `charlstm-sim serial` as given (it checks them)

BOARD=mps2-an386 BLOB="" IMAGE="" TIMEOUT=300 PTY=0 BUILD_ONLY=0
GEN=()
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage ;;
    --build-only) BUILD_ONLY=1; shift; continue ;;
    --pty) PTY=1; shift; continue ;;
    --board | --blob | --image | --timeout | --prime | --temperature | --seed | --chars | --top-k | --top-p)
        [ $# -ge 2 ] || usage "$1 needs a value" ;;
    *) usage "unknown argument '$1'" ;;
    esac
    case "$1" in
    --board) BOARD=$2 ;;
    --blob) BLOB=$2 ;;
    --image) IMAGE=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    *) GEN+=("$1" "$2") ;;
    esac
    shift 2
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt 0 ] || usage "--timeout '$TIMEOUT' is not a whole number of seconds"

# The boards with a firmware here: QEMU binary, CPU and Rust target of each.
case "$BOARD" in
mps2-an386) QEMU=qemu-system-arm CPU=cortex-m4 TARGET=thumbv7em-none-eabihf ;;
netduinoplus2) QEMU=qemu-system-arm CPU=cortex-m4 TARGET=thumbv7em-none-eabihf ;;
microbit) QEMU=qemu-system-arm CPU=cortex-m0 TARGET=thumbv6m-none-eabi ;;
sifive_e) QEMU=qemu-system-riscv32 CPU=sifive-e31 TARGET=riscv32imac-unknown-none-elf ;;
*) usage "board '$BOARD' has no firmware in this repository (boards with one: mps2-an386, netduinoplus2, microbit, sifive_e)" ;;
esac

if [ "$BUILD_ONLY" = 0 ]; then
    [ -n "$BLOB" ] || [ -n "$IMAGE" ] || usage "pass --blob F (a model blob, e.g. models/nietzsche.blob) or --image F"
    [ -z "$BLOB" ] || [ -z "$IMAGE" ] || usage "pass --blob or --image, not both"
    for f in "$BLOB" "$IMAGE"; do
        [ -z "$f" ] || [ -r "$f" ] || die "$f: no such readable file"
    done
fi

# Cargo's target folders: CARGO_TARGET_DIR if set (relative to where we were called), else
# each crate's own.
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;; esac
    export CARGO_TARGET_DIR
    ELF="$CARGO_TARGET_DIR/$TARGET/release/charlstm-firmware"
    SIM="$CARGO_TARGET_DIR/release/charlstm-sim"
else
    ELF="$FW/target/$TARGET/release/charlstm-firmware"
    SIM="$ROOT/target/release/charlstm-sim"
fi

# ---------------------------------------------------------------------------
# Toolchain (Debian's rustc/cargo 1.96 with library source, lld, QEMU), then the builds

have_tools() {
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && command -v ld.lld >/dev/null &&
        command -v "$QEMU" >/dev/null && command -v arm-none-eabi-objcopy >/dev/null &&
        [ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ]
}
if ! have_tools; then
    # qemu-system-riscv32 is in qemu-system-misc; without --no-install-recommends apt may
    # remove packages the machine came with.
    PACKAGES="rustc-web cargo-web rust-web-src lld binutils-arm-none-eabi qemu-system-arm"
    [ "$QEMU" = qemu-system-riscv32 ] && PACKAGES="$PACKAGES qemu-system-misc"
    echo "$NAME: installing $PACKAGES" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update >&2
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES >&2
    have_tools || die "toolchain still incomplete after apt-get install (see docs/qemu-m4.md)"
fi
(cd "$FW" && /usr/bin/cargo build --release --locked -q --target "$TARGET" --no-default-features --features "$BOARD,qemu") ||
    die "firmware build failed"
(cd "$ROOT" && cargo build --release -q -p charlstm-sim) || die "charlstm-sim build failed"
if [ "$BUILD_ONLY" = 1 ]; then
    echo "firmware: $ELF"
    exit 0
fi

# ---------------------------------------------------------------------------
# The file QEMU loads: a HEX holds its own addresses; a bin image is loaded from its header
# page on, at the address its header's board gives (so it never overlaps the firmware)

TMP=$(mktemp -d)
QEMU_PID=""
cleanup() {
    [ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$BLOB" ]; then
    "$SIM" flash "$BLOB" --board "$BOARD" --image "$TMP/model.hex" >/dev/null || exit 1
    LOAD=(-device "loader,file=$TMP/model.hex")
elif [ "$(head -c 1 "$IMAGE")" = ":" ]; then
    LOAD=(-device "loader,file=$IMAGE")
else
    # A bin image is this board's whole flash: its bytes from the board's header offset on go
    # to the header's address (charlstm-sim boards reads both from the board table).
    FACTS=$("$SIM" boards --board "$BOARD")
    HEADER=$(sed -n 's/^header: \(0x[0-9a-f]*\) (flash offset \(0x[0-9a-f]*\))$/\1 \2/p' <<<"$FACTS")
    FLASH_KIB=$(sed -n 's/^flash: 0x[0-9a-f]*, \([0-9]*\) KiB$/\1/p' <<<"$FACTS")
    [ -n "$HEADER" ] && [ -n "$FLASH_KIB" ] || die "charlstm-sim boards names no header address for $BOARD"
    read -r ADDR OFFSET <<<"$HEADER"
    # At most this board's flash: another board's larger image is cut where this flash ends.
    dd if="$IMAGE" of="$TMP/partition.bin" bs=64K iflag=skip_bytes,count_bytes \
        skip=$((OFFSET)) count=$((FLASH_KIB * 1024 - OFFSET)) status=none
    # As Intel HEX: QEMU's loader takes a raw file only up to the machine's RAM size.
    arm-none-eabi-objcopy -I binary -O ihex --change-addresses="$ADDR" "$TMP/partition.bin" "$TMP/partition.hex"
    LOAD=(-device "loader,file=$TMP/partition.hex")
fi

# ---------------------------------------------------------------------------
# QEMU, paused (-S) until the client holds the pseudo-terminal, so no line is lost; the
# monitor listens on a pair of FIFOs for `cont`. UART -> pty; semihosting exits with status.

mkfifo "$TMP/monitor.in" "$TMP/monitor.out"
: >"$TMP/qemu.out"
exec 4<>"$TMP/monitor.in" 5<>"$TMP/monitor.out"
# shellcheck disable=SC2086 # CHARLSTM_QEMU_ARGS is split on spaces
timeout "$TIMEOUT" "$QEMU" -M "$BOARD" -cpu "$CPU" -display none -monitor "pipe:$TMP/monitor" \
    -serial pty -icount shift=0 -semihosting-config enable=on,target=native -S ${CHARLSTM_QEMU_ARGS:-} \
    "${LOAD[@]}" -kernel "$ELF" >"$TMP/qemu.out" 2>"$TMP/qemu.err" </dev/null &
QEMU_PID=$!
PTS=""
for _ in $(seq 200); do
    PTS=$(sed -n 's/.*char device redirected to \(\/dev\/pts\/[0-9]*\).*/\1/p' "$TMP/qemu.out")
    [ -n "$PTS" ] && break
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.05
done
[ -n "$PTS" ] || die "QEMU did not start: $(cat "$TMP/qemu.err")"

if [ "$PTY" = 1 ]; then
    echo cont >&4
    echo "console: $PTS" >&2
    wait "$QEMU_PID" || true
    exit 0
fi

"$SIM" serial --port "$PTS" --raw --quit --timeout "$TIMEOUT" "${GEN[@]}" 2>"$TMP/client.err" &
CLIENT=$!
for _ in $(seq 500); do
    ls -l "/proc/$CLIENT/fd" 2>/dev/null | grep -q " $PTS\$" && break
    kill -0 "$CLIENT" 2>/dev/null || break
    sleep 0.01
done
echo cont >&4
status=0
wait "$CLIENT" || status=$?
cat "$TMP/client.err" >&2
# The client refuses a bad generation flag as a usage error (2), before it talks to the device.
[ "$status" = 0 ] || exit $((status == 2 ? 2 : 1))
qemu_status=0
wait "$QEMU_PID" || qemu_status=$?
QEMU_PID=""
case $qemu_status in
0) ;;
124) die "QEMU timed out after ${TIMEOUT}s (raise --timeout for long runs)" ;;
*) die "the firmware exited with status $qemu_status: $(cat "$TMP/qemu.err")" ;;
esac
