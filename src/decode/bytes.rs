//! Bounds-checked little-endian reads from byte slices.
//!
//! Every read of dump or ELF bytes in the decoder goes through these helpers, so no input
//! can cause an out-of-bounds index or an overflowing offset.

/// Reads a little-endian `u32` at `off`, or `None` if the slice is too short.
pub(crate) fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    let end = off.checked_add(4)?;
    let b: [u8; 4] = data.get(off..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Reads a little-endian `u16` at `off`, or `None` if the slice is too short.
pub(crate) fn u16_at(data: &[u8], off: usize) -> Option<u16> {
    let end = off.checked_add(2)?;
    let b: [u8; 2] = data.get(off..end)?.try_into().ok()?;
    Some(u16::from_le_bytes(b))
}

/// Returns `len` bytes at `off`, or `None` if they are not all present.
pub(crate) fn slice_at(data: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    let end = off.checked_add(len)?;
    data.get(off..end)
}

/// Rounds `n` up to a multiple of 4, or `None` on overflow.
pub(crate) fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

/// A C string: the bytes up to the first NUL, lossily decoded.
pub(crate) fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}
