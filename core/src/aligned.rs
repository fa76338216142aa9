//! [`Aligned`]: a value placed on a 64-byte cache line boundary.
#![forbid(unsafe_code)]

use core::ops::{Deref, DerefMut};

use bytemuck::Zeroable;

/// `T`, starting on a 64-byte boundary (a cache line on x86-64 and most Arm cores), so that the
/// kernels' vector loads of its rows do not straddle two lines. Dereferences to `T`.
///
/// ```
/// use flashnet::aligned::Aligned;
/// let rows: Aligned<[[f32; 128]; 4]> = Aligned([[0.0; 128]; 4]);
/// assert_eq!(core::ptr::addr_of!(rows) as usize % 64, 0);
/// assert_eq!(rows[3].len(), 128);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Zeroable)]
#[repr(C, align(64))]
pub struct Aligned<T>(pub T);

impl<T> Deref for Aligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
