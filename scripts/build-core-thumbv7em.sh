#!/usr/bin/env bash
# Proves charlstm-core is no_std + no alloc: builds it for a Cortex-M4F (thumbv7em-none-eabihf).
# Needs Debian's rustc-web 1.96 with its library source (rust-web-src) for -Zbuild-std; the
# workspace itself stays on stable. RUSTC_BOOTSTRAP=1 lets that stable compiler take -Z flags.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -p charlstm-core --release \
    --target thumbv7em-none-eabihf \
    -Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem \
    --target-dir target/thumbv7em
echo "charlstm-core builds for thumbv7em-none-eabihf: $(ls target/thumbv7em/thumbv7em-none-eabihf/release/libcharlstm_core.rlib)"
