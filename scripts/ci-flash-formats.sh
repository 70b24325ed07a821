#!/usr/bin/env bash
# CI: the Intel HEX and UF2 files `charlstm-sim flash` writes, read back by readers nobody here
# wrote, must hold byte for byte what the bin flash image holds at the same addresses.
#
#   HEX: srec_cat (Debian srecord), arm-none-eabi-objcopy -I ihex (binutils-arm-none-eabi),
#        PyPI intelhex
#   UF2: PyPI uf2utils (its UF2File block reader; blocks checked against the UF2 spec:
#        family id flag 0x2000, 256-byte payloads at 256-aligned addresses, numbered 0..n-1)
#
# For a model-only file: the header page + blob range, extracted from the bin image with
# dd, against each reader's bytes of that range (and nothing else is in the file). For a
# `--firmware` merge (an ELF linked here with arm-none-eabi-ld, .data loaded at its LMA): the
# whole range from the flash base. Boards: stm32f411 (HEX), rp2040 (HEX and UF2); blobs: a
# random H=128 blob and models/nietzsche.blob. Every `run --raw` from hex/uf2 must print the
# bin image's text.
#
# Python packages go in a venv: ${CHARLSTM_VENV:-target/ci-venv} (created, or reused).
# Exit status: 0 when everything matches, 1 with a message naming the file and reader otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

die() {
    echo "ci-flash-formats: $*" >&2
    exit 1
}

for tool in srec_cat arm-none-eabi-objcopy arm-none-eabi-ld python3 cmp; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (apt-get install srecord binutils-arm-none-eabi python3-venv; .ci/run does it)"
done

# ---------------------------------------------------------------------------
# Readers: a venv with intelhex and uf2utils

VENV=${CHARLSTM_VENV:-target/ci-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || die "cannot create the venv $VENV (apt-get install python3-venv)"
fi
PY="$VENV/bin/python"
if ! "$PY" -c 'import intelhex, uf2utils' 2>/dev/null; then
    "$VENV/bin/pip" install -q intelhex uf2utils || die "pip install intelhex uf2utils failed (PyPI reachable?)"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# read.py ihex FILE START END OUT: intelhex's bytes of [START, END), 0xFF where unwritten;
#   fails if the file holds bytes outside [START, END).
# read.py uf2 FILE FAMILY START OUT: uf2utils' blocks, checked, laid out from START to the
#   last block's end, 0xFF where no block writes.
cat >"$TMP/read.py" <<'EOF'
import sys

def ihex(path, start, end, out):
    from intelhex import IntelHex
    ih = IntelHex(path)
    ih.padding = 0xFF
    lo, hi = ih.minaddr(), ih.maxaddr() + 1
    if lo != start or hi != end:
        sys.exit(f"{path}: intelhex finds bytes at {lo:#x}..{hi:#x}, expected exactly {start:#x}..{end:#x}")
    ih.tobinfile(out, start=start, end=end - 1)

def uf2(path, family, start, out):
    from uf2utils.file import UF2File
    f = UF2File(path)
    blocks = [f[i] for i in range(len(f))]
    if not blocks:
        sys.exit(f"{path}: uf2utils reads no blocks")
    mem = {}
    for i, b in enumerate(blocks):
        h = b.header
        problems = []
        if not h.flags & 0x2000:
            problems.append(f"flags {h.flags:#x} lack the family-id bit 0x2000")
        if h.board_family != family:
            problems.append(f"family {h.board_family:#010x}, expected {family:#010x}")
        if h.payload_size != 256 or len(b.payload) != 256 or h.address % 256:
            problems.append(f"{h.payload_size} bytes at {h.address:#x}, expected 256 at a 256-aligned address")
        if h.block_number != i or h.total_blocks != len(blocks):
            problems.append(f"numbered {h.block_number} of {h.total_blocks}, expected {i} of {len(blocks)}")
        if problems:
            sys.exit(f"{path}: block {i}: " + "; ".join(problems))
        mem[h.address] = bytes(b.payload)
    lo, hi = min(mem), max(mem) + 256
    if lo != start:
        sys.exit(f"{path}: the first block is at {lo:#x}, expected {start:#x}")
    data = bytearray(b"\xff" * (hi - lo))
    for addr, payload in mem.items():
        data[addr - lo:addr - lo + 256] = payload
    with open(out, "wb") as o:
        o.write(data)

kind, path, *rest = sys.argv[1:]
if kind == "ihex":
    ihex(path, int(rest[0], 0), int(rest[1], 0), rest[2])
else:
    uf2(path, int(rest[0], 0), int(rest[1], 0), rest[2])
EOF

# ---------------------------------------------------------------------------
# Build, blobs, firmware

cargo build -q --release -p charlstm-sim || die "charlstm-sim build failed"
SIM="${CARGO_TARGET_DIR:-$ROOT/target}/release/charlstm-sim"
cargo run -q --release -p charlstm-tests --example random-blob -- "$TMP/r128.blob" 128 1 int8 1 2>/dev/null ||
    die "random-blob failed"

# A firmware ELF for a board at flash base BASE: code at BASE, .data run in RAM but loaded
# right after the code (LMA != VMA), as a real link does. Writes fw-BASE.elf and the bytes it
# must put in flash, fw-BASE.expect.
firmware() {
    local base=$1 dir="$TMP/fw-$1"
    mkdir -p "$dir"
    head -c 3000 /dev/urandom >"$dir/code.raw"
    head -c 100 /dev/urandom >"$dir/data.raw"
    (
        cd "$dir"
        arm-none-eabi-objcopy -I binary -O elf32-littlearm -B arm \
            --rename-section .data=.text.fw,alloc,load,readonly,code,contents code.raw code.o
        arm-none-eabi-objcopy -I binary -O elf32-littlearm -B arm \
            --rename-section .data=.data.fw,alloc,load,data,contents data.raw data.o
        cat >fw.ld <<EOF
MEMORY { FLASH (rx) : ORIGIN = $base, LENGTH = 128K
         RAM (rwx) : ORIGIN = 0x20000000, LENGTH = 64K }
SECTIONS {
  .text : { KEEP(*(.text.fw)) } > FLASH
  .data : { KEEP(*(.data.fw)) } > RAM AT > FLASH
}
EOF
        arm-none-eabi-ld -T fw.ld -e 0 -o fw.elf code.o data.o
        cat code.raw data.raw >fw.expect
    ) || die "cannot link the test firmware with arm-none-eabi-ld"
    echo "$dir"
}

# ---------------------------------------------------------------------------
# Checks

# same WHAT EXPECTED GOT
same() {
    cmp -s "$2" "$3" || die "$1: differs from the bin image at the same addresses ($(cmp "$2" "$3" 2>&1 | head -1))"
}

# slice FILE OFFSET LEN OUT: LEN bytes of FILE from OFFSET (GNU dd counts bytes here).
slice() {
    dd if="$1" of="$4" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none ||
        die "$1: cannot read $3 bytes at offset $2"
    [ "$(stat -c %s "$4")" -eq "$3" ] || die "$1: shorter than offset $2 + $3 bytes"
}

# check_hex HEX BIN START END BASE: the HEX holds exactly [START, END) (CPU addresses) of the
# flash whose bin image is BIN, based at BASE.
check_hex() {
    local hex=$1 bin=$2 start=$3 end=$4 base=$5 len=$(($4 - $3)) out="$TMP/out.bin"
    slice "$bin" $((start - base)) "$len" "$TMP/expect.bin"

    srec_cat "$hex" -Intel -fill 0xFF "$start" "$end" -crop "$start" "$end" -offset -"$start" \
        -o "$out" -Binary || die "$hex: srec_cat cannot read it"
    same "$hex (srec_cat)" "$TMP/expect.bin" "$out"

    arm-none-eabi-objcopy -I ihex -O binary --gap-fill 0xFF "$hex" "$out" ||
        die "$hex: arm-none-eabi-objcopy cannot read it"
    # objcopy's binary starts at the lowest address and ends at the highest: its length
    # proves the file holds nothing outside [START, END).
    same "$hex (arm-none-eabi-objcopy)" "$TMP/expect.bin" "$out"

    "$PY" "$TMP/read.py" ihex "$hex" "$start" "$end" "$out" || die "$hex: intelhex check failed"
    same "$hex (intelhex)" "$TMP/expect.bin" "$out"
}

# check_uf2 UF2 BIN START END BASE FAMILY: the UF2 holds [START, END) rounded up to 256-byte
# pages; the padding is the bin image's own erased bytes.
check_uf2() {
    local uf2=$1 bin=$2 start=$3 end=$4 base=$5 family=$6 out="$TMP/out.bin"
    local len=$((($4 - $3 + 255) / 256 * 256))
    slice "$bin" $((start - base)) "$len" "$TMP/expect.bin"
    "$PY" "$TMP/read.py" uf2 "$uf2" "$family" "$start" "$out" || die "$uf2: uf2utils check failed"
    same "$uf2 (uf2utils)" "$TMP/expect.bin" "$out"
}

# same_text FILE...: `run --raw` prints the same characters from each.
same_text() {
    local first=$1 want got
    want=$("$SIM" run --raw --image "$first" --prime "the " --seed 7 --chars 200) || die "$first: run failed"
    for f in "${@:2}"; do
        got=$("$SIM" run --raw --image "$f" --prime "the " --seed 7 --chars 200) || die "$f: run failed"
        [ "$got" = "$want" ] || die "$f: run --raw prints other text than $first"
    done
}

RP2040_FAMILY=0xe48bff56
checked=0
for blob in "$TMP/r128.blob" models/nietzsche.blob; do
    [ -f "$blob" ] || die "$blob is missing"
    blob_len=$(stat -c %s "$blob")
    for board in stm32f411 rp2040; do
        name="$TMP/$board-$(basename "$blob" .blob)"
        "$SIM" flash "$blob" --board "$board" --image "$name.img" >/dev/null || die "$name.img: flash failed"
        "$SIM" flash "$blob" --board "$board" --image "$name.hex" >/dev/null || die "$name.hex: flash failed"
        # The header's CPU address and flash offset, as the simulator reports them.
        read -r addr offset < <("$SIM" info --image "$name.img" |
            sed -n 's/.*header at \(0x[0-9a-f]*\) (flash offset \(0x[0-9a-f]*\)).*/\1 \2/p')
        [ -n "${addr:-}" ] || die "$name.img: info does not name the header's address"
        base=$((addr - offset))
        end=$((addr + 256 + blob_len))
        check_hex "$name.hex" "$name.img" "$addr" "$end" "$base"
        files=("$name.img" "$name.hex")
        if [ "$board" = rp2040 ]; then
            "$SIM" flash "$blob" --board "$board" --image "$name.uf2" >/dev/null || die "$name.uf2: flash failed"
            check_uf2 "$name.uf2" "$name.img" "$addr" "$end" "$base" "$RP2040_FAMILY"
            files+=("$name.uf2")
        fi
        same_text "${files[@]}"

        # --firmware: one file from the flash base through the blob.
        fw=$(firmware "$(printf '0x%08x' "$base")")
        "$SIM" flash "$blob" --board "$board" --image "$name-fw.img" --firmware "$fw/fw.elf" >/dev/null ||
            die "$name-fw.img: flash --firmware failed"
        slice "$name-fw.img" 0 "$(stat -c %s "$fw/fw.expect")" "$TMP/fw.got"
        same "$name-fw.img (firmware at its load addresses)" "$fw/fw.expect" "$TMP/fw.got"
        "$SIM" flash "$blob" --board "$board" --image "$name-fw.hex" --firmware "$fw/fw.elf" >/dev/null ||
            die "$name-fw.hex: flash --firmware failed"
        check_hex "$name-fw.hex" "$name-fw.img" "$base" "$end" "$base"
        files=("$name-fw.img" "$name-fw.hex")
        if [ "$board" = rp2040 ]; then
            "$SIM" flash "$blob" --board "$board" --image "$name-fw.uf2" --firmware "$fw/fw.elf" >/dev/null ||
                die "$name-fw.uf2: flash --firmware failed"
            check_uf2 "$name-fw.uf2" "$name-fw.img" "$base" "$end" "$base" "$RP2040_FAMILY"
            files+=("$name-fw.uf2")
        fi
        same_text "${files[@]}"
        checked=$((checked + 1))
    done
done
echo "ci-flash-formats: $checked board/blob pairs: HEX (srec_cat, objcopy, intelhex) and UF2 (uf2utils) match the bin images byte for byte, with and without --firmware"
