//! Plain-text output without `core::fmt` (which would cost kilobytes of flash), the exit
//! status, and the measured peak stack.

/// A line of text on the stack.
pub struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    pub const fn new() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }

    pub fn push_str(&mut self, s: &str) {
        for &b in s.as_bytes() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    pub fn push_digit(&mut self, d: u8) {
        let s = [b'0' + d % 10];
        self.push_str(core::str::from_utf8(&s).unwrap_or("?"));
    }

    pub fn push_u32(&mut self, mut v: u32) {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in &tmp[i..] {
            self.push_digit(d - b'0');
        }
    }

    pub fn push_hex(&mut self, v: u32) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for i in (0..8).rev() {
            let s = [HEX[((v >> (4 * i)) & 0xf) as usize]];
            self.push_str(core::str::from_utf8(&s).unwrap_or("?"));
        }
    }

    /// Room for 100 more digits after a prefix is gone.
    pub fn is_full(&self) -> bool {
        self.len >= 113
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Writes text for the person or script running the firmware: semihosting stderr in QEMU
/// (defmt owns stdout), a defmt log line on a board.
pub fn text(bytes: &[u8]) {
    #[cfg(feature = "qemu")]
    {
        use semihosting::io::Write as _;
        if let Ok(mut e) = semihosting::io::stderr() {
            let _ = e.write_all(bytes);
        }
    }
    #[cfg(not(feature = "qemu"))]
    defmt::info!("{=[u8]:a}", bytes);
}

/// Ends the run: in QEMU through semihosting with status 0 or 1; on a board by stopping at a
/// breakpoint (`probe-rs run` then exits) or, on failure, with an undefined instruction.
pub fn exit(ok: bool) -> ! {
    #[cfg(feature = "qemu")]
    semihosting::process::exit(if ok { 0 } else { 1 });
    #[cfg(not(feature = "qemu"))]
    {
        if !ok {
            cortex_m::asm::udf();
        }
        loop {
            cortex_m::asm::bkpt();
        }
    }
}

unsafe extern "C" {
    /// Top of the stack (cortex-m-rt's linker script).
    static _stack_start: u32;
    /// Lowest address the stack may reach (cortex-m-rt's linker script).
    static _stack_end: u32;
}

/// Bytes of stack used so far: cortex-m-rt (feature `paint-stack`) fills the stack area with
/// [`cortex_m_rt::STACK_PAINT_VALUE`] at reset; the lowest word that no longer holds it marks
/// the deepest the stack has been.
pub fn stack_peak() -> usize {
    let top = (&raw const _stack_start) as usize;
    let bottom = (&raw const _stack_end) as usize;
    let mut p = bottom;
    while p < top {
        // SAFETY: `p` is a word-aligned address inside the stack area [_stack_end,
        // _stack_start) of RAM, which is always readable; reading it has no side effect.
        let v = unsafe { core::ptr::read_volatile(p as *const u32) };
        if v != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        p += 4;
    }
    top - p
}
