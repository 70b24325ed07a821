//! Measurement probes for `--stats`: a counting global allocator (heap allocations during
//! generation must be 0) and stack painting (peak stack of generation, as embedded
//! developers measure it: fill the unused stack with a pattern, run, find the deepest
//! overwritten word).
//!
//! The simulator's only `unsafe` lives here: the allocator's forwarding to `System` and the
//! volatile reads and writes of the stack band. The crate denies `unsafe_code` (the
//! workspace lint; the binary and build script forbid it) and each item below allows it
//! for itself, with a `SAFETY` comment saying why it is sound. Elsewhere in the repository
//! `unsafe` is in core's Cortex-M assembly kernel (`SXTB16`/`SMLAD`) and in the firmware
//! (`firmware-sim/firmware`: its board modules' register access, linker symbols, fault
//! handlers and stack painting, and the slice over the flashed image in its `main.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

// ---------------------------------------------------------------------------
// Counting allocator

/// Allocation calls (alloc, alloc_zeroed, realloc) since the process started.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations. The binary installs it with
/// `#[global_allocator]`; without that, [`allocations`] stays 0 and `--stats` says so.
#[derive(Debug)]
pub struct CountingAlloc;

/// Whether [`CountingAlloc`] is the global allocator (set by the binary at start).
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the counter is an atomic, safe from any thread.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as `alloc`; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Records that the binary installed [`CountingAlloc`].
pub fn mark_allocator_installed() {
    INSTALLED.store(true, Ordering::Relaxed);
}

/// Allocations so far, or `None` if the counting allocator is not installed.
pub fn allocations() -> Option<u64> {
    INSTALLED
        .load(Ordering::Relaxed)
        .then(|| ALLOCATIONS.load(Ordering::Relaxed))
}

// ---------------------------------------------------------------------------
// Stack painting

/// The paint: unlikely to be a pointer, a small integer or a float the LSTM writes.
const PAINT: usize = 0xC5C5_5EED_C5C5_5EEDu64 as usize;
/// Bytes below the measuring frame left unpainted: room for the painting loop's own frame.
const GAP: usize = 512;

/// Peak stack of a measured call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StackUse {
    /// Bytes from the measuring frame to the deepest overwritten word.
    pub bytes: usize,
    /// The painted depth: a result of `painted` or more means the measure overflowed it.
    pub painted: usize,
}

impl StackUse {
    /// The figure for humans: exact, or a bound when it falls outside the painted band.
    pub fn describe(&self) -> String {
        if self.bytes <= GAP {
            format!("<= {GAP} bytes")
        } else if self.bytes >= self.painted {
            format!(">= {} bytes (deeper than the painted band)", self.painted)
        } else {
            format!("{} bytes", self.bytes)
        }
    }
}

/// Runs `f` and measures how deep its stack went below this frame.
///
/// The caller must be on a thread whose stack has more than `depth + 16 KiB` free below
/// the current frame (the device thread is spawned with room for it); stacks grow down on
/// every host the simulator builds for (x86_64, aarch64).
#[inline(never)]
pub fn measure_stack<R>(depth: usize, f: impl FnOnce() -> R) -> (R, StackUse) {
    let marker = 0u8;
    let top = std::hint::black_box(&marker as *const u8 as usize) & !(size_of::<usize>() - 1);
    let low = top - depth;
    let high = top - GAP;
    paint(low, high);
    let result = f();
    let deepest = scan(low, high);
    (
        result,
        StackUse {
            bytes: top - deepest,
            painted: depth,
        },
    )
}

#[inline(never)]
#[allow(unsafe_code)]
fn paint(low: usize, high: usize) {
    let mut p = low;
    while p < high {
        // SAFETY: [low, high) lies within this thread's mapped stack below the live frames
        // (measure_stack's contract), word aligned, and holds no live data: nothing of
        // ours lives below the stack pointer, and this function's frame is above `high`.
        unsafe { std::ptr::write_volatile(p as *mut usize, PAINT) };
        p += size_of::<usize>();
    }
}

/// The lowest address in [low, high) whose word is no longer the paint; `high` if none.
#[inline(never)]
#[allow(unsafe_code)]
fn scan(low: usize, high: usize) -> usize {
    let mut p = low;
    while p < high {
        // SAFETY: same region as `paint`, still mapped and aligned; reading it is what a
        // debugger does, and the values are only compared.
        if unsafe { std::ptr::read_volatile(p as *const usize) } != PAINT {
            return p;
        }
        p += size_of::<usize>();
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn burn(n: usize) -> u64 {
        let buf = std::hint::black_box([1u8; 6000]);
        if n == 0 {
            buf.iter().map(|&b| b as u64).sum()
        } else {
            burn(n - 1) + buf[n] as u64
        }
    }

    #[test]
    fn stack_painting_sees_a_deep_call() {
        let t = std::thread::Builder::new().stack_size(256 * 1024);
        let (sum, used) = t
            .spawn(|| measure_stack(64 * 1024, || burn(2)))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(sum, 6002);
        // Three frames of 6,000 bytes each.
        assert!(used.bytes >= 18_000 && used.bytes < 64 * 1024, "{used:?}");
    }
}
