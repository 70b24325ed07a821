//! What the RISC-V boards share (RV32, machine mode, one hart): riscv-rt's entry and
//! exception handler, the stack pointer, the semihosting exit, the restart and the halt.

#[cfg(feature = "qemu")]
use charlstm_device::console::ExitStatus;

pub use riscv_rt::entry;

/// The current stack pointer.
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copies the stack pointer register; no memory access, no side effect.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Every exception (riscv-rt's default for all of them; no interrupt is enabled): the fixed
/// fault line, then a failed exit.
#[unsafe(export_name = "ExceptionHandler")]
extern "C" fn exception_handler(_frame: &riscv_rt::TrapFrame) -> ! {
    super::fatal(b"error fault: exception\n")
}

/// `reset`: the FE310 has no system reset a program can request (short of the always-on
/// watchdog), so the firmware starts over from riscv-rt's entry `_start`: .data and .bss
/// are set up again, the stack starts empty, and `main` sets up the peripherals again.
pub fn reset() -> ! {
    // SAFETY: `_start` is riscv-rt's reset entry, which takes no arguments, needs no
    // register state and never returns; interrupts are off.
    unsafe { core::arch::asm!("j _start", options(noreturn)) }
}

/// QEMU exits with `status` (RISC-V semihosting `SYS_EXIT_EXTENDED`, which passes the
/// status through).
#[cfg(feature = "qemu")]
pub fn semihosting_exit(status: ExitStatus) {
    /// `SYS_EXIT_EXTENDED` and its reason `ADP_Stopped_ApplicationExit` (Arm semihosting
    /// specification, which RISC-V semihosting adopts).
    const SYS_EXIT_EXTENDED: usize = 0x20;
    const ADP_STOPPED_APPLICATION_EXIT: usize = 0x2_0026;
    let code = match status {
        ExitStatus::Success => 0,
        ExitStatus::Failure => 1,
    };
    let block = [ADP_STOPPED_APPLICATION_EXIT, code];
    // SAFETY: the RISC-V semihosting call: the three uncompressed instructions (`.option
    // norvc`) a debugger or QEMU recognises, with a0 = operation and a1 = the address of the
    // argument block, which lives across the call. Without a semihosting host the `ebreak`
    // traps to the exception handler, which ends in a halt.
    unsafe {
        core::arch::asm!(
            ".option push",
            ".option norvc",
            "slli x0, x0, 0x1f",
            "ebreak",
            "srai x0, x0, 7",
            ".option pop",
            inout("a0") SYS_EXIT_EXTENDED => _,
            in("a1") block.as_ptr(),
            options(nostack, readonly),
        );
    }
}

/// Stops here for good (until a reset).
pub fn halt() -> ! {
    loop {
        riscv::asm::wfi();
    }
}
