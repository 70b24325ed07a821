#!/usr/bin/env bash
# The Cortex-M4F firmware under QEMU (mps2-an386): scripts/qemu.sh for that board.
#
#   scripts/qemu-m4.sh (--blob F | --image F) [--prime TEXT] [--temperature T] [--seed S]
#                      [--chars N] [--top-k K] [--top-p P] [--timeout SECS] [--pty]
#   scripts/qemu-m4.sh --build-only
#
# stdout: exactly the generated characters; stderr: instructions_per_char, ram_bytes,
# code_bytes and the device's other figures. docs/qemu-m4.md has the details.
exec "$(dirname "${BASH_SOURCE[0]}")/qemu.sh" --board mps2-an386 "$@"
