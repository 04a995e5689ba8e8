//! Values printed as gdb prints them (gdb's `c-valprint.c`, `valprint.c`): integers,
//! characters (`97 'a'`), booleans, enums (enumerator, flag-enum `(A | B)` form), floats
//! (`%g` with 9/17 digits), pointers (`0x…`, `<symbol>` when one covers the address),
//! `char *` strings (quoted, escaped, at most [`PRINT_ELEMENTS`] characters, runs of more than
//! [`REPEAT_THRESHOLD`] equal characters as `'x' <repeats N times>`), structs, unions and
//! arrays (`{a = 1, b = {...}}`), and `<optimized out>`. The frame-line form (gdb's
//! `print frame-arguments scalars`) prints non-scalars as `...`.
//!
//! Pure functions over bytes and a [`Target`] for symbols and memory, so the forms are unit
//! tested without a dump.

use gimli::constants as dw;

use super::types::{Pointee, Ty};

/// gdb's `print elements` default: characters of a string, elements of an array.
pub(crate) const PRINT_ELEMENTS: usize = 200;
/// gdb's `print repeats` default: longer runs of equal elements are collapsed.
pub(crate) const REPEAT_THRESHOLD: usize = 10;
/// gdb's `read_string` chunk: string memory is read this many bytes at a time.
const STRING_CHUNK: u32 = 8;
/// gdb's text for a value whose location is gone.
pub(crate) const OPTIMIZED_OUT: &str = "<optimized out>";

/// Symbols and memory of the target, as far as printing needs them.
pub(crate) trait Target {
    /// `sym` or `sym+off` for an address inside a sized symbol.
    fn symbol(&self, addr: u32) -> Option<String>;
    /// `len` bytes of target memory at `addr` (the dump's, then the ELF's), if readable.
    fn read(&self, addr: u32, len: u32) -> Option<Vec<u8>>;
}

/// The known bytes `[off, off + len)`, or `None` when any is missing.
fn known(bytes: &[Option<u8>], off: u64, len: u64) -> Option<Vec<u8>> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)?.iter().copied().collect()
}

fn le(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn sign_extend(v: u64, size: u64) -> i64 {
    if size == 0 || size >= 8 {
        return v as i64;
    }
    let shift = 64 - 8 * size;
    ((v << shift) as i64) >> shift
}

/// Formats a value of type `ty` held in `bytes` (`None` = optimized-out byte). `summary`:
/// the frame-line form, where structs, unions and arrays print as `...`.
pub(crate) fn value(ty: &Ty, bytes: &[Option<u8>], t: &dyn Target, summary: bool) -> String {
    if summary && !ty.is_scalar() {
        return "...".into();
    }
    if !bytes.is_empty() && bytes.iter().all(Option::is_none) {
        return OPTIMIZED_OUT.into();
    }
    full(ty, bytes, t)
}

/// Formats one member of an aggregate for the one-level structured form: nested aggregates
/// are `{...}`.
pub(crate) fn member(ty: &Ty, bytes: &[Option<u8>], t: &dyn Target) -> String {
    if !ty.is_scalar() {
        return "{...}".into();
    }
    value(ty, bytes, t, false)
}

fn full(ty: &Ty, bytes: &[Option<u8>], t: &dyn Target) -> String {
    match ty {
        Ty::Struct { members, .. } => {
            let Some(members) = members else {
                return "{...}".into();
            };
            let parts: Vec<String> = members
                .iter()
                .map(|f| {
                    let v = field(f.offset, f.bits, &f.ty, bytes, t);
                    if f.name.is_empty() {
                        v
                    } else {
                        format!("{} = {v}", f.name)
                    }
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Ty::Array { elem, count } => array(elem, count.unwrap_or(0), bytes, t),
        _ => scalar(ty, bytes, t),
    }
}

/// A struct member's text: its bytes, or its bits for a bit-field.
fn field(
    offset: u64,
    bits: Option<(u64, u64)>,
    ty: &Ty,
    bytes: &[Option<u8>],
    t: &dyn Target,
) -> String {
    let size = ty.size();
    match bits {
        None => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
            match bytes.get(start..end) {
                Some(b) => value(ty, b, t, false),
                None => OPTIMIZED_OUT.into(),
            }
        }
        Some((bit, width)) => {
            let nbytes = (bit + width).div_ceil(8).min(8);
            let Some(b) = known(bytes, offset, nbytes) else {
                return OPTIMIZED_OUT.into();
            };
            let raw = le(&b) >> bit;
            let mask = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let v = raw & mask;
            let signed = match ty {
                Ty::Base { enc, .. } => *enc == dw::DW_ATE_signed || *enc == dw::DW_ATE_signed_char,
                Ty::Enum { signed, .. } => *signed,
                _ => false,
            };
            let v = if signed && width > 0 && width < 64 && v >> (width - 1) & 1 == 1 {
                v | !mask
            } else {
                v
            };
            let sz = usize::try_from(size.clamp(1, 8)).unwrap_or(8);
            let le_bytes: Vec<Option<u8>> =
                v.to_le_bytes()[..sz].iter().map(|b| Some(*b)).collect();
            value(ty, &le_bytes, t, false)
        }
    }
}

fn array(elem: &Ty, count: u64, bytes: &[Option<u8>], t: &dyn Target) -> String {
    let size = elem.size();
    if elem.is_char() {
        let n = usize::try_from(count).unwrap_or(0).min(bytes.len());
        let Some(chars) = bytes
            .get(..n)
            .and_then(|b| b.iter().copied().collect::<Option<Vec<u8>>>())
        else {
            return OPTIMIZED_OUT.into();
        };
        // gdb (`print null-stop off`): the whole array, minus one trailing NUL.
        let mut chars = chars.as_slice();
        let limited = chars.len() > PRINT_ELEMENTS;
        if !limited && let Some((&0, rest)) = chars.split_last() {
            chars = rest;
        }
        return string(chars, false);
    }
    if size == 0 {
        return "{}".into();
    }
    let elems: Vec<String> = (0..count.min(PRINT_ELEMENTS as u64 * REPEAT_THRESHOLD as u64 + 1))
        .map(|i| {
            let start = usize::try_from(i * size).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
            match bytes.get(start..end) {
                Some(b) => value(elem, b, t, false),
                None => OPTIMIZED_OUT.into(),
            }
        })
        .collect();
    let mut out = String::from("{");
    let mut i = 0usize;
    let mut printed = 0usize;
    let total = usize::try_from(count).unwrap_or(usize::MAX);
    while i < elems.len() && printed < PRINT_ELEMENTS {
        if i != 0 {
            out.push_str(", ");
        }
        let mut reps = 1;
        while i + reps < elems.len() && elems[i + reps] == elems[i] {
            reps += 1;
        }
        out.push_str(&elems[i]);
        if reps > REPEAT_THRESHOLD {
            out.push_str(&format!(" <repeats {reps} times>"));
            i += reps;
            printed += REPEAT_THRESHOLD;
        } else {
            i += 1;
            printed += 1;
        }
    }
    if i < total {
        out.push_str("...");
    }
    out.push('}');
    out
}

fn scalar(ty: &Ty, bytes: &[Option<u8>], t: &dyn Target) -> String {
    let size = ty.size();
    let Some(b) = known(bytes, 0, size.min(8)) else {
        return OPTIMIZED_OUT.into();
    };
    let raw = le(&b);
    match ty {
        Ty::Base { enc, size } => base(*enc, *size, raw),
        Ty::Enum {
            signed,
            values,
            size,
        } => {
            let v = if *signed {
                sign_extend(raw, *size)
            } else {
                raw as i64
            };
            enumeration(v, values)
        }
        Ty::Pointer { pointee, .. } => pointer(raw as u32, *pointee, t),
        Ty::Void | Ty::Func | Ty::Unknown | Ty::Struct { .. } | Ty::Array { .. } => {
            format!("0x{raw:x}")
        }
    }
}

/// A base type's value: gdb's integer, character, boolean and float forms.
pub(crate) fn base(enc: gimli::DwAte, size: u64, raw: u64) -> String {
    match enc {
        dw::DW_ATE_boolean => match raw {
            0 => "false".into(),
            1 => "true".into(),
            v => v.to_string(),
        },
        dw::DW_ATE_signed_char if size == 1 => {
            let v = sign_extend(raw, 1);
            format!("{v} {}", char_literal(raw as u8))
        }
        dw::DW_ATE_unsigned_char if size == 1 => format!("{raw} {}", char_literal(raw as u8)),
        dw::DW_ATE_signed | dw::DW_ATE_signed_char => sign_extend(raw, size).to_string(),
        dw::DW_ATE_float => match size {
            4 => float_g(f64::from(f32::from_bits(raw as u32)), 9),
            8 => float_g(f64::from_bits(raw), 17),
            _ => format!("0x{raw:x}"),
        },
        _ => raw.to_string(),
    }
}

/// gdb's enum form: the enumerator, a flag enum's `(A | B | unknown: 0x8)`, else the number.
pub(crate) fn enumeration(v: i64, values: &[(String, i64)]) -> String {
    if let Some((n, _)) = values.iter().find(|(_, e)| *e == v) {
        return n.clone();
    }
    if !is_flag_enum(values) || v < 0 {
        return v.to_string();
    }
    let mut rest = v as u64;
    let mut parts = Vec::new();
    for (n, e) in values {
        let e = *e as u64;
        if e != 0 && rest & e == e {
            parts.push(n.clone());
            rest &= !e;
        }
    }
    if rest != 0 {
        parts.push(format!("unknown: 0x{rest:x}"));
    }
    if parts.is_empty() {
        return "0".into();
    }
    format!("({})", parts.join(" | "))
}

/// gdb's flag enum: every value non-negative, made of one run of bits, disjoint from the
/// others.
fn is_flag_enum(values: &[(String, i64)]) -> bool {
    let mut mask = 0u64;
    for (_, v) in values {
        if *v < 0 {
            return false;
        }
        let v = *v as u64;
        if v == 0 {
            continue;
        }
        let run = v >> v.trailing_zeros();
        if run & (run + 1) != 0 || mask & v != 0 {
            return false;
        }
        mask |= v;
    }
    !values.is_empty()
}

/// A pointer: `0x…`, ` <sym>` when a symbol covers it, and for `char *` the string.
pub(crate) fn pointer(v: u32, pointee: Pointee, t: &dyn Target) -> String {
    let mut s = format!("0x{v:x}");
    if let Some(sym) = t.symbol(v) {
        s.push_str(&format!(" <{sym}>"));
    }
    if pointee == Pointee::Char && v != 0 {
        s.push(' ');
        s.push_str(&c_string(v, t));
    }
    s
}

/// gdb's `val_print_string` for a `char *`: at most [`PRINT_ELEMENTS`] characters up to the
/// NUL, read [`STRING_CHUNK`] bytes at a time (byte by byte near a hole); a read error before
/// the NUL prints the characters read and then `<error: Cannot access memory at address 0x…>`.
pub(crate) fn c_string(addr: u32, t: &dyn Target) -> String {
    let mut chars = Vec::new();
    let mut err = None;
    let mut found_nul = false;
    let mut at = addr;
    'read: while chars.len() < PRINT_ELEMENTS {
        let want = STRING_CHUNK.min((PRINT_ELEMENTS - chars.len()) as u32);
        // gdb's `partial_memory_read`: the whole chunk, else byte by byte up to the hole.
        let chunk = t.read(at, want).unwrap_or_else(|| {
            (0..want)
                .map_while(|i| at.checked_add(i).and_then(|a| t.read(a, 1)))
                .flatten()
                .collect()
        });
        for &b in &chunk {
            if b == 0 {
                found_nul = true;
                break 'read;
            }
            chars.push(b);
        }
        if (chunk.len() as u32) < want {
            err = at.checked_add(chunk.len() as u32);
            break;
        }
        match at.checked_add(want) {
            Some(next) => at = next,
            None => break,
        }
    }
    let mut ellipsis = false;
    if !found_nul && err.is_none() && chars.len() >= PRINT_ELEMENTS {
        let next = addr.checked_add(chars.len() as u32);
        ellipsis = next
            .and_then(|n| t.read(n, 1))
            .is_some_and(|b| b.first() != Some(&0));
    }
    let mut out = String::new();
    if err.is_none() || !chars.is_empty() {
        out.push_str(&string(&chars, ellipsis));
    }
    if let Some(a) = err {
        out.push_str(&format!("<error: Cannot access memory at address 0x{a:x}>"));
    }
    out
}

/// gdb's `generic_printstr`: quoted runs and `'x' <repeats N times>` blocks joined by `, `,
/// at most [`PRINT_ELEMENTS`] characters (a repeat block counts [`REPEAT_THRESHOLD`]), `...`
/// when cut or when `ellipsis` asks for it.
pub(crate) fn string(chars: &[u8], ellipsis: bool) -> String {
    if chars.is_empty() {
        return if ellipsis {
            "\"\"...".into()
        } else {
            "\"\"".into()
        };
    }
    let mut out = String::new();
    let mut quoted = false;
    let mut printed = 0usize;
    let mut i = 0usize;
    while i < chars.len() && printed < PRINT_ELEMENTS {
        let c = chars[i];
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        if run > REPEAT_THRESHOLD {
            if quoted {
                out.push('"');
                quoted = false;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("{} <repeats {run} times>", char_literal(c)));
            i += run;
            printed += REPEAT_THRESHOLD;
        } else {
            if !quoted {
                if !out.is_empty() {
                    out.push_str(", ");
                }
                out.push('"');
                quoted = true;
            }
            for _ in 0..run {
                if printed >= PRINT_ELEMENTS {
                    break;
                }
                out.push_str(&escape(c, b'"'));
                printed += 1;
                i += 1;
            }
        }
    }
    if quoted {
        out.push('"');
    }
    if ellipsis || i < chars.len() {
        out.push_str("...");
    }
    out
}

/// `'a'`, `'\n'`, `'\''`, `'\377'`.
pub(crate) fn char_literal(c: u8) -> String {
    format!("'{}'", escape(c, b'\''))
}

/// gdb's `print_wchar` for one byte in an ASCII target charset.
fn escape(c: u8, quote: u8) -> String {
    match c {
        7 => "\\a".into(),
        8 => "\\b".into(),
        9 => "\\t".into(),
        10 => "\\n".into(),
        11 => "\\v".into(),
        12 => "\\f".into(),
        13 => "\\r".into(),
        b'\\' => "\\\\".into(),
        c if c == quote => format!("\\{}", c as char),
        0x20..=0x7e => (c as char).to_string(),
        c => format!("\\{c:03o}"),
    }
}

/// C's `%.{prec}g`, which gdb uses for floats (9 digits) and doubles (17).
pub(crate) fn float_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(prec as i32 - 1 - exp).unwrap_or(0);
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::values::types::Field;
    use std::collections::HashMap;

    /// Memory from a map of addresses; one symbol.
    struct Fake {
        mem: HashMap<u32, u8>,
    }

    impl Fake {
        fn with(addr: u32, bytes: &[u8]) -> Fake {
            let mem = bytes
                .iter()
                .enumerate()
                .map(|(i, b)| (addr + i as u32, *b))
                .collect();
            Fake { mem }
        }
    }

    impl Target for Fake {
        fn symbol(&self, addr: u32) -> Option<String> {
            match addr {
                0x403849a6 => Some("prvIdleTask".into()),
                0x3ffb0070 => Some("xKernelLock".into()),
                0x3ffb0074 => Some("xKernelLock+4".into()),
                _ => None,
            }
        }
        fn read(&self, addr: u32, len: u32) -> Option<Vec<u8>> {
            (0..len)
                .map(|i| self.mem.get(&(addr + i)).copied())
                .collect()
        }
    }

    fn bytes(v: u64, n: usize) -> Vec<Option<u8>> {
        v.to_le_bytes()[..n].iter().map(|b| Some(*b)).collect()
    }

    const CHAR_PTR: Ty = Ty::Pointer {
        size: 4,
        pointee: Pointee::Char,
    };

    #[test]
    fn integers_chars_and_booleans_print_as_gdb() {
        let none = Fake::with(0, &[]);
        let int = Ty::Base {
            size: 4,
            enc: dw::DW_ATE_signed,
        };
        let uint = Ty::Base {
            size: 4,
            enc: dw::DW_ATE_unsigned,
        };
        let chr = Ty::Base {
            size: 1,
            enc: dw::DW_ATE_unsigned_char,
        };
        let schr = Ty::Base {
            size: 1,
            enc: dw::DW_ATE_signed_char,
        };
        let boolean = Ty::Base {
            size: 1,
            enc: dw::DW_ATE_boolean,
        };
        assert_eq!(value(&int, &bytes(0xffff_ffff, 4), &none, true), "-1");
        assert_eq!(
            value(&uint, &bytes(0xffff_ffff, 4), &none, true),
            "4294967295"
        );
        assert_eq!(value(&chr, &bytes(97, 1), &none, true), "97 'a'");
        assert_eq!(value(&chr, &bytes(0, 1), &none, true), "0 '\\000'");
        assert_eq!(value(&chr, &bytes(10, 1), &none, true), "10 '\\n'");
        assert_eq!(value(&chr, &bytes(39, 1), &none, true), "39 '\\''");
        assert_eq!(value(&schr, &bytes(0xc8, 1), &none, true), "-56 '\\310'");
        assert_eq!(value(&boolean, &bytes(1, 1), &none, true), "true");
        assert_eq!(value(&boolean, &bytes(0, 1), &none, true), "false");
        assert_eq!(value(&boolean, &bytes(2, 1), &none, true), "2");
        assert_eq!(
            value(&int, &[None, None, None, None], &none, true),
            "<optimized out>"
        );
        assert_eq!(
            value(&int, &[Some(1), None, None, None], &none, true),
            "<optimized out>"
        );
    }

    #[test]
    fn floats_use_c_g_format_with_gdb_precision() {
        assert_eq!(float_g(1.5, 9), "1.5");
        assert_eq!(float_g(f64::from(0.1f32), 9), "0.100000001");
        assert_eq!(float_g(0.1, 17), "0.10000000000000001");
        assert_eq!(float_g(1e20, 17), "1e+20");
        assert_eq!(float_g(1.25e-7, 9), "1.25e-07");
        assert_eq!(float_g(100.0, 9), "100");
        assert_eq!(float_g(-0.0, 9), "-0");
        assert_eq!(float_g(f64::INFINITY, 9), "inf");
    }

    #[test]
    fn enums_print_the_enumerator_or_flag_form_or_number() {
        let plain = vec![
            ("A".to_string(), 0),
            ("B".to_string(), 5),
            ("C".to_string(), 7),
        ];
        assert_eq!(enumeration(5, &plain), "B");
        assert_eq!(enumeration(6, &plain), "6");
        let flags = vec![
            ("F1".to_string(), 1),
            ("F2".to_string(), 2),
            ("F8".to_string(), 8),
        ];
        assert_eq!(enumeration(3, &flags), "(F1 | F2)");
        assert_eq!(enumeration(0x13, &flags), "(F1 | F2 | unknown: 0x10)");
        assert_eq!(enumeration(0x10, &flags), "(unknown: 0x10)");
        assert_eq!(enumeration(0, &flags), "0");
        assert_eq!(enumeration(-1, &flags), "-1");
    }

    #[test]
    fn pointers_print_symbols_and_strings() {
        let text = b"abort() was called at PC 0x42009351 on core 0\0";
        let t = Fake::with(0x3fc8ea9c, text);
        assert_eq!(
            value(&CHAR_PTR, &bytes(0x3fc8ea9c, 4), &t, true),
            "0x3fc8ea9c \"abort() was called at PC 0x42009351 on core 0\""
        );
        let func = Ty::Pointer {
            size: 4,
            pointee: Pointee::Func,
        };
        assert_eq!(
            value(&func, &bytes(0x403849a6, 4), &t, true),
            "0x403849a6 <prvIdleTask>"
        );
        let other = Ty::Pointer {
            size: 4,
            pointee: Pointee::Other,
        };
        assert_eq!(
            value(&other, &bytes(0x3ffb0074, 4), &t, true),
            "0x3ffb0074 <xKernelLock+4>"
        );
        assert_eq!(value(&other, &bytes(0, 4), &t, true), "0x0");
        assert_eq!(value(&CHAR_PTR, &bytes(0, 4), &t, true), "0x0");
        assert_eq!(
            value(&CHAR_PTR, &bytes(0x1000, 4), &t, true),
            "0x1000 <error: Cannot access memory at address 0x1000>"
        );
    }

    #[test]
    fn strings_are_escaped_bounded_and_collapse_repeats() {
        assert_eq!(
            string(b"a\"b\\c\n\x01\xff", false),
            "\"a\\\"b\\\\c\\n\\001\\377\""
        );
        assert_eq!(string(b"", false), "\"\"");
        assert_eq!(
            string(b"ab----------------cd", false),
            "\"ab\", '-' <repeats 16 times>, \"cd\""
        );
        assert_eq!(string(b"----------", false), "\"----------\"");
        // 300 characters without a NUL: 200 are printed, then `...`.
        let mut mem = vec![b'x'; 150];
        mem.extend(vec![b'y'; 1]);
        mem.extend((0..149).map(|i| b'a' + (i % 26) as u8));
        mem.push(0);
        let t = Fake::with(0x100, &mem);
        let s = c_string(0x100, &t);
        assert!(s.starts_with("'x' <repeats 150 times>, \"yabc"), "{s}");
        assert!(s.ends_with("\"..."), "{s}");
        // Readable up to a hole: the characters read, then the error at the failing chunk.
        let t = Fake::with(0x200, b"0123456789");
        assert_eq!(
            c_string(0x200, &t),
            "\"0123456789\"<error: Cannot access memory at address 0x20a>"
        );
        // Exactly 200 characters then NUL: no ellipsis.
        let mut exact: Vec<u8> = (0..200).map(|i| b'a' + (i % 26) as u8).collect();
        exact.push(0);
        let t = Fake::with(0x400, &exact);
        assert!(!c_string(0x400, &t).ends_with("..."));
    }

    #[test]
    fn aggregates_print_one_level_and_as_dots_on_frame_lines() {
        let t = Fake::with(0, &[]);
        let int = Ty::Base {
            size: 4,
            enc: dw::DW_ATE_signed,
        };
        let inner = Ty::Struct {
            size: 4,
            union: false,
            members: None,
        };
        let s = Ty::Struct {
            size: 8,
            union: false,
            members: Some(vec![
                Field {
                    name: "a".into(),
                    offset: 0,
                    bits: None,
                    ty: int.clone(),
                },
                Field {
                    name: "in".into(),
                    offset: 4,
                    bits: None,
                    ty: inner,
                },
            ]),
        };
        let mut b = bytes(7, 4);
        b.extend(bytes(0, 4));
        assert_eq!(value(&s, &b, &t, false), "{a = 7, in = {...}}");
        assert_eq!(value(&s, &b, &t, true), "...");
        assert_eq!(value(&s, &[None; 8], &t, true), "...");
        let arr = Ty::Array {
            elem: Box::new(int.clone()),
            count: Some(12),
        };
        let zeros: Vec<Option<u8>> = vec![Some(0); 48];
        assert_eq!(value(&arr, &zeros, &t, false), "{0 <repeats 12 times>}");
        let small = Ty::Array {
            elem: Box::new(int),
            count: Some(3),
        };
        let mut b = bytes(1, 4);
        b.extend(bytes(2, 4));
        b.extend(bytes(3, 4));
        assert_eq!(value(&small, &b, &t, false), "{1, 2, 3}");
        let chars = Ty::Array {
            elem: Box::new(Ty::Base {
                size: 1,
                enc: dw::DW_ATE_unsigned_char,
            }),
            count: Some(6),
        };
        let b: Vec<Option<u8>> = b"hi\0\0\0\0".iter().map(|c| Some(*c)).collect();
        assert_eq!(value(&chars, &b, &t, false), "\"hi\\000\\000\\000\"");
        let bits = Ty::Struct {
            size: 4,
            union: false,
            members: Some(vec![
                Field {
                    name: "lo".into(),
                    offset: 0,
                    bits: Some((0, 3)),
                    ty: Ty::Base {
                        size: 4,
                        enc: dw::DW_ATE_unsigned,
                    },
                },
                Field {
                    name: "hi".into(),
                    offset: 0,
                    bits: Some((3, 5)),
                    ty: Ty::Base {
                        size: 4,
                        enc: dw::DW_ATE_signed,
                    },
                },
            ]),
        };
        assert_eq!(
            value(&bits, &bytes(0b1111_1101, 4), &t, false),
            "{lo = 5, hi = -1}"
        );
    }
}
