#!/usr/bin/env bash
# Where a board's instructions go: runs scripts/qemu.sh with QEMU stepping one instruction at a
# time and logging each, then counts them per function of the firmware ELF.
#
#   scripts/qemu-profile.sh [--board B] (--blob F | --image F) [generation flags of qemu.sh]
#                           [--top N] [--annotate TEXT]
#
# Prints the N (default 25) functions that executed the most instructions, with their count
# and that count per LSTM step (prime characters + generated characters: meaningful for the
# core's functions only; boot and console code run once per request). --annotate TEXT also
# prints the disassembly of the functions whose name contains TEXT, each instruction with the
# times it ran. The log holds one line per guest instruction, so keep runs short (the default
# here is --chars 4 and an empty prime: 5 steps, about 3 million instructions on the M4).
# Needs python3 and llvm-nm/llvm-objdump (Debian's `llvm`), or binutils-arm-none-eabi for Arm.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() {
    sed -n '5,6p' "$ROOT/scripts/qemu-profile.sh" | sed 's/^# //' >&2
    [ -n "${1:-}" ] && echo "qemu-profile.sh: $1" >&2
    exit 2
}

BOARD=mps2-an386 TOP=25 ANNOTATE="" CHARS=4 PRIME=""
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) usage ;;
    --top | --annotate | --board | --chars | --prime) [ $# -ge 2 ] || usage "$1 needs a value" ;;
    esac
    case "$1" in
    --top) TOP=$2; shift 2 ;;
    --annotate) ANNOTATE=$2; shift 2 ;;
    --board) BOARD=$2; PASS+=("$1" "$2"); shift 2 ;;
    --chars) CHARS=$2; shift 2 ;;
    --prime) PRIME=$2; shift 2 ;;
    *) PASS+=("$1"); shift ;;
    esac
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ELF=$(bash "$ROOT/scripts/qemu.sh" --board "$BOARD" --build-only | sed -n 's/^firmware: //p')
[ -n "$ELF" ] || usage "no firmware for board '$BOARD'"
CHARLSTM_QEMU_ARGS="-singlestep -d exec,nochain -D $TMP/exec.log" \
    bash "$ROOT/scripts/qemu.sh" "${PASS[@]}" --prime "$PRIME" --chars "$CHARS" >/dev/null 2>"$TMP/figures" ||
    { cat "$TMP/figures" >&2; exit 1; }
STEPS=$(awk -F': ' '$1 == "chars" || $1 == "prime_chars" { n += $2 } END { print n + 0 }' "$TMP/figures")
python3 "$ROOT/scripts/qemu-profile.py" "$TMP/exec.log" "$ELF" "$STEPS" "$TOP" "$ANNOTATE"
