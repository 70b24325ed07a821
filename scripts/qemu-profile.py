"""Counts a QEMU `-singlestep -d exec,nochain` log per function of an ELF (scripts/qemu-profile.sh).

Usage: qemu-profile.py LOG ELF STEPS TOP [ANNOTATE]
"""

import bisect
import collections
import re
import shutil
import subprocess
import sys

# `Trace 0: 0x7f.. [00800408/08000400/00000110/ff020201] Reset`: the guest PC is the second
# field on Arm and RISC-V alike.
TRACE = re.compile(rb"^Trace \d+: \S+ \[[0-9a-f]+/([0-9a-f]+)/")


def tool(llvm, gnu):
    found = shutil.which(llvm) or shutil.which(gnu)
    if not found:
        sys.exit(f"qemu-profile: needs {llvm} (Debian's llvm) or {gnu}")
    return found


def functions(elf):
    """(start address, name) of the ELF's functions, sorted; Thumb bit cleared."""
    out = subprocess.run(
        [tool("llvm-nm", "arm-none-eabi-nm"), "-n", "-C", elf],
        capture_output=True, text=True, check=True,
    ).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        # Functions only: not local labels (.L0 on RISC-V) nor Arm's mapping symbols ($t, $d).
        if len(parts) == 3 and parts[1] in "tTwW" and not parts[2].startswith((".L", "$")):
            syms.append((int(parts[0], 16) & ~1, parts[2]))
    return syms


def main():
    log, elf, steps, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    annotate = sys.argv[5] if len(sys.argv) > 5 else ""
    counts = collections.Counter()
    with open(log, "rb") as f:
        for line in f:
            m = TRACE.match(line)
            if m:
                counts[int(m.group(1), 16)] += 1
    syms = functions(elf)
    starts = [a for a, _ in syms]
    per_function = collections.Counter()
    for pc, n in counts.items():
        i = bisect.bisect_right(starts, pc) - 1
        per_function[syms[i][1] if i >= 0 else "?"] += n
    total = sum(counts.values())
    print(f"{total:,} instructions in all; {steps} LSTM steps (prime + generated characters)")
    print(f"{'instructions':>12} {'share':>6} {'per step':>10}  function")
    for name, n in per_function.most_common(top):
        per = f"{n / steps:,.0f}" if steps else "-"
        print(f"{n:>12,} {100 * n / total:5.1f}% {per:>10}  {name}")
    if annotate:
        dump = subprocess.run(
            [tool("llvm-objdump", "arm-none-eabi-objdump"), "-d", "-C", "--no-show-raw-insn", elf],
            capture_output=True, text=True, check=True,
        ).stdout
        inside = False
        for line in dump.splitlines():
            if re.match(r"^[0-9a-f]+ <", line):
                inside = annotate in line
                if inside:
                    print("\n" + line)
                continue
            m = re.match(r"^\s*([0-9a-f]+):", line)
            if inside and m:
                print(f"{counts.get(int(m.group(1), 16), 0):>10}  {line.strip()}")


if __name__ == "__main__":
    main()
