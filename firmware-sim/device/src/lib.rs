//! charlstm-device: what a charlstm device and the host tools that talk to it must agree on,
//! defined once.
//!
//! `#![no_std]`, no allocator, no panics on any input, no `unsafe`. Both the simulator
//! (`charlstm-sim`) and every firmware (`firmware-sim/firmware`) use it:
//!
//! - [`board`]: the board table, the source of every address (flash base, firmware
//!   reservation, model region, RAM, the firmware's RAM budget). Firmware linker maps are
//!   generated from it.
//! - [`image`]: the partition header that sits between firmware and model in flash
//!   (docs/flash-layout.md), written by `charlstm-sim flash`, read by the firmware at boot.
//! - [`number`]: decimal numbers as the console and the command line spell them, parsed to
//!   the same bits everywhere.
//! - [`protocol`]: the serial console's request lines and replies (docs/serial-protocol.md).
//! - [`console`]: the console itself, generic over a UART and a clock, so every board's
//!   firmware runs the same loop.
#![no_std]
#![forbid(unsafe_code)]
// Firmware builds mark the once-per-request code `optimize(size)`: it is most of the code
// and none of the time (the per-character path stays optimized for speed).
#![cfg_attr(charlstm_optimize, feature(optimize_attribute))]

pub mod board;
pub mod console;
pub mod image;
pub mod number;
pub mod protocol;
