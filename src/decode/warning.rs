//! [`Warning`]: the non-fatal problems of one decode, one variant per kind.
//!
//! A warning is stored and shown as its text: `Display` gives it, `Serialize` writes it as a
//! JSON string (the dashboard and the API read `analysis["warnings"]` as strings), and
//! `Deserialize` reads such a string back into its variant.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::chip::{Arch, Chip};

/// A problem that still allowed a (possibly partial) result. Listed in
/// `Analysis::warnings`, loudest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    // --- container (flash image, base64 text, bare ELF) ---
    /// A header-stripped V2_2 upload (the ELF core began 12 bytes into its header); the 12
    /// constant bytes of every ESP ELF core were put back.
    ShiftedElfRestored,
    /// Bytes after the image's `data_len` that were neither zero nor erased flash.
    TrailingBytesIgnored {
        /// How many bytes followed the image.
        count: usize,
        /// The header's `data_len`.
        data_len: usize,
    },
    /// Fewer bytes arrived than the header's `data_len`; what is present was decoded.
    ImageTruncated {
        /// The header's `data_len`.
        data_len: usize,
        /// Bytes that arrived.
        received: usize,
    },
    /// The stored checksum differs from the computed one (hex, both as stored).
    InvalidChecksum {
        /// Checksum stored in the image.
        stored: String,
        /// Checksum of the image's bytes.
        computed: String,
    },
    /// Lines of a text input that did not decode as base64.
    NonBase64LinesSkipped {
        /// How many lines were skipped.
        count: usize,
    },
    /// The text held several `CORE DUMP START` markers; the last dump was decoded.
    SeveralDumpsInText {
        /// How many start markers there were.
        count: usize,
    },

    // --- ELF core body ---
    /// The ELF's `e_type` is not `ET_CORE`.
    NotEtCore {
        /// The ELF's `e_type`.
        e_type: u16,
    },
    /// More program headers than the decoder reads.
    ProgramHeadersCapped {
        /// `e_phnum`.
        count: usize,
        /// How many were read.
        limit: usize,
    },
    /// A program header lies past the end of the body (truncated dump).
    ProgramHeaderPastEnd {
        /// Index of the first missing program header.
        index: usize,
        /// `e_phnum`.
        count: usize,
        /// Body length in bytes.
        body_len: usize,
    },
    /// A segment's bytes are partly missing.
    SegmentTruncated {
        /// Program header index.
        index: usize,
        /// Segment address.
        addr: u32,
        /// Bytes present.
        present: usize,
        /// `p_filesz`.
        declared: usize,
    },
    /// A segment that would wrap the 32-bit address space was ignored.
    SegmentWraps {
        /// Program header index.
        index: usize,
        /// Segment address.
        addr: u32,
    },
    /// No `PT_NOTE` segment: no tasks and no crash facts.
    NoNoteSegment,
    /// One `PT_NOTE` segment held more notes than the decoder reads.
    TooManyNotes,
    /// A note header cut off by the end of its segment.
    NoteHeaderTruncated {
        /// Offset of the note in its segment.
        offset: usize,
    },
    /// A note with sizes no ESP-IDF note has; the rest of the segment was not read.
    ImplausibleNoteSizes {
        /// Offset of the note in its segment.
        offset: usize,
        /// The note's `namesz`.
        namesz: usize,
        /// The note's `descsz`.
        descsz: usize,
    },
    /// A note whose descriptor is cut off by the end of its segment.
    NoteTruncated {
        /// The note's name.
        name: String,
        /// The note's type.
        note_type: u32,
        /// The note's `descsz`.
        descsz: usize,
    },
    /// More `CORE` notes than the decoder reads.
    TaskNotesCapped {
        /// How many were read.
        limit: usize,
    },
    /// A `CORE` note too short for the architecture's registers.
    PrstatusTooShort {
        /// The task's TCB address (`pr_pid`).
        tcb: u32,
        /// Descriptor length in bytes.
        len: usize,
        /// The dump's architecture.
        arch: Arch,
    },

    // --- legacy binary body ---
    /// The binary header's `task_num` exceeds what the decoder reads.
    TaskRecordsCapped {
        /// The header's `task_num`.
        task_num: usize,
        /// How many were read.
        limit: usize,
    },
    /// A task record is missing (truncated dump).
    TaskRecordMissing {
        /// Index of the first missing record.
        index: usize,
        /// The header's `task_num`.
        count: usize,
    },
    /// A task record with an implausibly large stack; no further records were read.
    ImplausibleTaskStack {
        /// Record index.
        index: usize,
        /// The record's TCB address.
        tcb: u32,
        /// The stack length the record claims.
        stack_len: u32,
    },
    /// A task record whose TCB or stack is cut off.
    TaskRecordTruncated {
        /// Record index.
        index: usize,
        /// The record's TCB address.
        tcb: u32,
    },
    /// A memory segment record is missing (truncated dump).
    MemSegmentMissing {
        /// Index of the first missing segment.
        index: usize,
        /// The header's `mem_segs_num`.
        count: usize,
    },
    /// A memory segment with an implausible size; no further segments were read.
    ImplausibleMemSegment {
        /// Segment index.
        index: usize,
        /// Segment address.
        addr: u32,
        /// The size the segment claims.
        size: u32,
    },

    // --- analysis ---
    /// The container header and `ESP_CORE_DUMP_INFO` name different chips.
    ChipRecordsDisagree {
        /// Chip of the container header.
        header: Chip,
        /// Chip of `ESP_CORE_DUMP_INFO`.
        info: Chip,
    },
    /// The container header and `ESP_CORE_DUMP_INFO` hold different version words.
    VersionsDisagree {
        /// Version word of the container header.
        header: u32,
        /// Version word of `ESP_CORE_DUMP_INFO`.
        info: u32,
    },
    /// The caller's chip differs from the one the dump records; the recorded one is used.
    ChipOptionOverridden {
        /// The chip the caller gave.
        given: Chip,
        /// The chip the dump records.
        recorded: Chip,
    },
    /// The chip's architecture differs from the ELF core's `e_machine`.
    ChipArchMismatch {
        /// The chip in use.
        chip: Chip,
        /// The architecture of the dump's `e_machine`.
        dump_arch: Arch,
    },
    /// The firmware ELF is for another architecture than the dump; it was not used.
    ElfArchMismatch {
        /// The ELF's architecture (`None`: neither Xtensa nor RISC-V).
        elf: Option<Arch>,
        /// The dump's architecture.
        dump: Arch,
    },
    /// The firmware ELF's SHA-256 does not start with the prefix the dump records: symbols
    /// and frames are unreliable.
    WrongFirmwareElf {
        /// The prefix recorded in `ESP_CORE_DUMP_INFO`.
        dump_sha: String,
        /// The same length of the ELF's SHA-256 (hex).
        elf_sha: String,
    },
    /// The firmware ELF has no DWARF: no file:line, and RISC-V CFI may be missing.
    ElfWithoutDwarf,
    /// More tasks than `Options::max_tasks`; only the first ones were decoded.
    TasksCapped {
        /// Tasks in the dump.
        count: usize,
        /// Tasks decoded.
        limit: usize,
    },
    /// The decode deadline passed: some backtraces are incomplete.
    DeadlineExceeded,
    /// The dump holds no tasks.
    NoTasks,
    /// The container checksum failed: results are untrusted.
    ChecksumMismatch,

    /// A stored warning text this version does not produce (read back from JSON written by
    /// another version). The decoder itself never makes one.
    Unrecognized(String),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Warning::*;
        match self {
            ShiftedElfRestored => f.write_str(
                "ELF core started 12 bytes into its header (V2_2 dump uploaded with a 24-byte header strip); the 12 constant bytes were restored",
            ),
            TrailingBytesIgnored { count, data_len } => write!(
                f,
                "{count} bytes after the image's data_len ({data_len}) were ignored"
            ),
            ImageTruncated { data_len, received } => write!(
                f,
                "image is truncated: header data_len is {data_len} bytes but only {received} arrived; decoding what is present"
            ),
            InvalidChecksum { stored, computed } => write!(
                f,
                "invalid core dump checksum {stored}, should be {computed}: the dump is damaged, results are untrusted"
            ),
            NonBase64LinesSkipped { count } => {
                write!(f, "{count} text line(s) that are not base64 were skipped")
            }
            SeveralDumpsInText { count } => write!(
                f,
                "{count} CORE DUMP START markers found; the last dump was decoded"
            ),
            NotEtCore { e_type } => write!(f, "ELF e_type is {e_type}, expected 4 (ET_CORE)"),
            ProgramHeadersCapped { count, limit } => write!(
                f,
                "ELF core has {count} program headers; only the first {limit} are read"
            ),
            ProgramHeaderPastEnd {
                index,
                count,
                body_len,
            } => write!(
                f,
                "program header {index} of {count} lies past the end of the dump ({body_len} bytes): dump truncated"
            ),
            SegmentTruncated {
                index,
                addr,
                present,
                declared,
            } => write!(
                f,
                "segment {index} at 0x{addr:08x} is truncated: {present} of {declared} bytes present"
            ),
            SegmentWraps { index, addr } => write!(
                f,
                "segment {index} at 0x{addr:08x} wraps the address space; ignored"
            ),
            NoNoteSegment => f.write_str("ELF core has no PT_NOTE segment: no tasks or crash info"),
            TooManyNotes => {
                f.write_str("too many notes in one PT_NOTE segment; the rest were ignored")
            }
            NoteHeaderTruncated { offset } => {
                write!(f, "truncated note header at offset {offset}")
            }
            ImplausibleNoteSizes {
                offset,
                namesz,
                descsz,
            } => write!(
                f,
                "note at offset {offset} has implausible sizes (namesz {namesz}, descsz {descsz}); stopped reading notes"
            ),
            NoteTruncated {
                name,
                note_type,
                descsz,
            } => write!(
                f,
                "note '{name}' (type {note_type}) is truncated: needs {descsz} bytes"
            ),
            TaskNotesCapped { limit } => {
                write!(f, "more than {limit} tasks; the rest were ignored")
            }
            PrstatusTooShort { tcb, len, arch } => write!(
                f,
                "prstatus of task 0x{tcb:08x} is {len} bytes, too short for {arch:?} registers"
            ),
            TaskRecordsCapped { task_num, limit } => write!(
                f,
                "binary header claims {task_num} tasks; only {limit} are read"
            ),
            TaskRecordMissing { index, count } => write!(
                f,
                "task record {index} of {count} is missing: dump truncated"
            ),
            ImplausibleTaskStack {
                index,
                tcb,
                stack_len,
            } => write!(
                f,
                "task record {index} (TCB 0x{tcb:08x}) has a {stack_len}-byte stack; stopped reading tasks"
            ),
            TaskRecordTruncated { index, tcb } => {
                write!(f, "task record {index} (TCB 0x{tcb:08x}) is truncated")
            }
            MemSegmentMissing { index, count } => write!(
                f,
                "memory segment {index} of {count} is missing: dump truncated"
            ),
            ImplausibleMemSegment { index, addr, size } => write!(
                f,
                "memory segment {index} at 0x{addr:08x} claims {size} bytes; stopped"
            ),
            ChipRecordsDisagree { header, info } => write!(
                f,
                "container header says {header} but ESP_CORE_DUMP_INFO says {info}"
            ),
            VersionsDisagree { header, info } => write!(
                f,
                "ESP_CORE_DUMP_INFO version 0x{info:08x} differs from the header's 0x{header:08x}"
            ),
            ChipOptionOverridden { given, recorded } => write!(
                f,
                "chip given as {given}, but the dump was made on {recorded}; using {recorded}"
            ),
            ChipArchMismatch { chip, dump_arch } => write!(
                f,
                "chip {chip} is {:?} but the dump's ELF machine is {dump_arch:?}",
                chip.arch()
            ),
            ElfArchMismatch { elf, dump } => write!(
                f,
                "firmware ELF is for {elf:?}, but the dump is {dump:?}: the ELF was not used"
            ),
            WrongFirmwareElf { dump_sha, elf_sha } => write!(
                f,
                "WRONG FIRMWARE ELF: core dump SHA256({dump_sha}) != app SHA256({elf_sha}); symbols and frames below are unreliable"
            ),
            ElfWithoutDwarf => {
                f.write_str("firmware ELF has no DWARF: no file:line, and RISC-V CFI may be missing")
            }
            TasksCapped { count, limit } => write!(
                f,
                "{count} tasks in the dump; only the first {limit} are decoded"
            ),
            DeadlineExceeded => {
                f.write_str("decode deadline exceeded: some backtraces are incomplete")
            }
            NoTasks => f.write_str("the dump holds no tasks"),
            ChecksumMismatch => {
                f.write_str("checksum mismatch: the dump is damaged, results are untrusted")
            }
            Unrecognized(text) => f.write_str(text),
        }
    }
}

impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Warning {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Warning::from_text(text))
    }
}

impl Warning {
    /// The warning whose text is `text`; [`Warning::Unrecognized`] when no variant prints
    /// exactly that text.
    pub fn from_text(text: String) -> Warning {
        match parse(&text) {
            Some(w) if w.to_string() == text => w,
            _ => Warning::Unrecognized(text),
        }
    }
}

/// Reads the variant and its data back from a text written by `Display`.
fn parse(t: &str) -> Option<Warning> {
    use Warning::*;
    for w in [
        ShiftedElfRestored,
        NoNoteSegment,
        TooManyNotes,
        ElfWithoutDwarf,
        DeadlineExceeded,
        NoTasks,
        ChecksumMismatch,
    ] {
        if w.to_string() == t {
            return Some(w);
        }
    }
    if let Some([count, data_len]) = holes(
        t,
        "",
        [" bytes after the image's data_len (", ") were ignored"],
    ) {
        return Some(TrailingBytesIgnored {
            count: count.parse().ok()?,
            data_len: data_len.parse().ok()?,
        });
    }
    if let Some([data_len, received]) = holes(
        t,
        "image is truncated: header data_len is ",
        [" bytes but only ", " arrived; decoding what is present"],
    ) {
        return Some(ImageTruncated {
            data_len: data_len.parse().ok()?,
            received: received.parse().ok()?,
        });
    }
    if let Some([stored, computed]) = holes(
        t,
        "invalid core dump checksum ",
        [
            ", should be ",
            ": the dump is damaged, results are untrusted",
        ],
    ) {
        return Some(InvalidChecksum {
            stored: stored.to_string(),
            computed: computed.to_string(),
        });
    }
    if let Some([count]) = holes(t, "", [" text line(s) that are not base64 were skipped"]) {
        return Some(NonBase64LinesSkipped {
            count: count.parse().ok()?,
        });
    }
    if let Some([count]) = holes(
        t,
        "",
        [" CORE DUMP START markers found; the last dump was decoded"],
    ) {
        return Some(SeveralDumpsInText {
            count: count.parse().ok()?,
        });
    }
    if let Some([e_type]) = holes(t, "ELF e_type is ", [", expected 4 (ET_CORE)"]) {
        return Some(NotEtCore {
            e_type: e_type.parse().ok()?,
        });
    }
    if let Some([count, limit]) = holes(
        t,
        "ELF core has ",
        [" program headers; only the first ", " are read"],
    ) {
        return Some(ProgramHeadersCapped {
            count: count.parse().ok()?,
            limit: limit.parse().ok()?,
        });
    }
    if let Some([index, count, body_len]) = holes(
        t,
        "program header ",
        [
            " of ",
            " lies past the end of the dump (",
            " bytes): dump truncated",
        ],
    ) {
        return Some(ProgramHeaderPastEnd {
            index: index.parse().ok()?,
            count: count.parse().ok()?,
            body_len: body_len.parse().ok()?,
        });
    }
    if let Some([index, addr, present, declared]) = holes(
        t,
        "segment ",
        [" at 0x", " is truncated: ", " of ", " bytes present"],
    ) {
        return Some(SegmentTruncated {
            index: index.parse().ok()?,
            addr: hex(addr)?,
            present: present.parse().ok()?,
            declared: declared.parse().ok()?,
        });
    }
    if let Some([index, addr]) = holes(
        t,
        "segment ",
        [" at 0x", " wraps the address space; ignored"],
    ) {
        return Some(SegmentWraps {
            index: index.parse().ok()?,
            addr: hex(addr)?,
        });
    }
    if let Some([offset]) = holes(t, "truncated note header at offset ", [""]) {
        return Some(NoteHeaderTruncated {
            offset: offset.parse().ok()?,
        });
    }
    if let Some([offset, namesz, descsz]) = holes(
        t,
        "note at offset ",
        [
            " has implausible sizes (namesz ",
            ", descsz ",
            "); stopped reading notes",
        ],
    ) {
        return Some(ImplausibleNoteSizes {
            offset: offset.parse().ok()?,
            namesz: namesz.parse().ok()?,
            descsz: descsz.parse().ok()?,
        });
    }
    if let Some([name, note_type, descsz]) = holes(
        t,
        "note '",
        ["' (type ", ") is truncated: needs ", " bytes"],
    ) {
        return Some(NoteTruncated {
            name: name.to_string(),
            note_type: note_type.parse().ok()?,
            descsz: descsz.parse().ok()?,
        });
    }
    if let Some([limit]) = holes(t, "more than ", [" tasks; the rest were ignored"]) {
        return Some(TaskNotesCapped {
            limit: limit.parse().ok()?,
        });
    }
    if let Some([tcb, len, arch]) = holes(
        t,
        "prstatus of task 0x",
        [" is ", " bytes, too short for ", " registers"],
    ) {
        return Some(PrstatusTooShort {
            tcb: hex(tcb)?,
            len: len.parse().ok()?,
            arch: arch_named(arch)?,
        });
    }
    if let Some([task_num, limit]) =
        holes(t, "binary header claims ", [" tasks; only ", " are read"])
    {
        return Some(TaskRecordsCapped {
            task_num: task_num.parse().ok()?,
            limit: limit.parse().ok()?,
        });
    }
    if let Some([index, count]) = holes(t, "task record ", [" of ", " is missing: dump truncated"])
    {
        return Some(TaskRecordMissing {
            index: index.parse().ok()?,
            count: count.parse().ok()?,
        });
    }
    if let Some([index, tcb, stack_len]) = holes(
        t,
        "task record ",
        [" (TCB 0x", ") has a ", "-byte stack; stopped reading tasks"],
    ) {
        return Some(ImplausibleTaskStack {
            index: index.parse().ok()?,
            tcb: hex(tcb)?,
            stack_len: stack_len.parse().ok()?,
        });
    }
    if let Some([index, tcb]) = holes(t, "task record ", [" (TCB 0x", ") is truncated"]) {
        return Some(TaskRecordTruncated {
            index: index.parse().ok()?,
            tcb: hex(tcb)?,
        });
    }
    if let Some([index, count]) = holes(
        t,
        "memory segment ",
        [" of ", " is missing: dump truncated"],
    ) {
        return Some(MemSegmentMissing {
            index: index.parse().ok()?,
            count: count.parse().ok()?,
        });
    }
    if let Some([index, addr, size]) = holes(
        t,
        "memory segment ",
        [" at 0x", " claims ", " bytes; stopped"],
    ) {
        return Some(ImplausibleMemSegment {
            index: index.parse().ok()?,
            addr: hex(addr)?,
            size: size.parse().ok()?,
        });
    }
    if let Some([header, info]) = holes(
        t,
        "container header says ",
        [" but ESP_CORE_DUMP_INFO says ", ""],
    ) {
        return Some(ChipRecordsDisagree {
            header: Chip::from_name(header)?,
            info: Chip::from_name(info)?,
        });
    }
    if let Some([info, header]) = holes(
        t,
        "ESP_CORE_DUMP_INFO version 0x",
        [" differs from the header's 0x", ""],
    ) {
        return Some(VersionsDisagree {
            header: hex(header)?,
            info: hex(info)?,
        });
    }
    if let Some([given, recorded, _]) = holes(
        t,
        "chip given as ",
        [", but the dump was made on ", "; using ", ""],
    ) {
        return Some(ChipOptionOverridden {
            given: Chip::from_name(given)?,
            recorded: Chip::from_name(recorded)?,
        });
    }
    if let Some([chip, _, dump_arch]) =
        holes(t, "chip ", [" is ", " but the dump's ELF machine is ", ""])
    {
        return Some(ChipArchMismatch {
            chip: Chip::from_name(chip)?,
            dump_arch: arch_named(dump_arch)?,
        });
    }
    if let Some([elf, dump]) = holes(
        t,
        "firmware ELF is for ",
        [", but the dump is ", ": the ELF was not used"],
    ) {
        let elf = match elf {
            "None" => None,
            some => Some(arch_named(some.strip_prefix("Some(")?.strip_suffix(')')?)?),
        };
        return Some(ElfArchMismatch {
            elf,
            dump: arch_named(dump)?,
        });
    }
    if let Some([dump_sha, elf_sha]) = holes(
        t,
        "WRONG FIRMWARE ELF: core dump SHA256(",
        [
            ") != app SHA256(",
            "); symbols and frames below are unreliable",
        ],
    ) {
        return Some(WrongFirmwareElf {
            dump_sha: dump_sha.to_string(),
            elf_sha: elf_sha.to_string(),
        });
    }
    if let Some([count, limit]) = holes(
        t,
        "",
        [" tasks in the dump; only the first ", " are decoded"],
    ) {
        return Some(TasksCapped {
            count: count.parse().ok()?,
            limit: limit.parse().ok()?,
        });
    }
    None
}

/// The `N` holes of `text` laid out as `first`, hole 0, `rest[0]`, hole 1, ... hole N-1,
/// `rest[N-1]`. Pieces are matched from the right, so only hole 0 may contain the literal
/// text that follows it (the free-text holes, note names and SHA prefixes, come first).
fn holes<'a, const N: usize>(text: &'a str, first: &str, rest: [&str; N]) -> Option<[&'a str; N]> {
    let mut out = [""; N];
    let mut pieces = rest.iter().rev();
    let mut left = text.strip_prefix(first)?.strip_suffix(*pieces.next()?)?;
    for (slot, piece) in out.iter_mut().rev().zip(pieces.map(Some).chain([None])) {
        match piece {
            Some(p) => {
                let (head, hole) = left.rsplit_once(*p)?;
                *slot = hole;
                left = head;
            }
            None => *slot = left,
        }
    }
    Some(out)
}

/// A `u32` printed as hex digits (after the `0x`).
fn hex(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

/// An [`Arch`] as `{:?}` prints it.
fn arch_named(s: &str) -> Option<Arch> {
    [Arch::Xtensa, Arch::Riscv]
        .into_iter()
        .find(|a| format!("{a:?}") == s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<Warning> {
        use Warning::*;
        vec![
            ShiftedElfRestored,
            TrailingBytesIgnored {
                count: 12,
                data_len: 9396,
            },
            ImageTruncated {
                data_len: 9396,
                received: 100,
            },
            InvalidChecksum {
                stored: "529af889".into(),
                computed: "00000000".into(),
            },
            NonBase64LinesSkipped { count: 3 },
            SeveralDumpsInText { count: 2 },
            NotEtCore { e_type: 2 },
            ProgramHeadersCapped {
                count: 65535,
                limit: 8192,
            },
            ProgramHeaderPastEnd {
                index: 4,
                count: 9,
                body_len: 300,
            },
            SegmentTruncated {
                index: 3,
                addr: 0x3ffb_4e00,
                present: 10,
                declared: 400,
            },
            SegmentWraps {
                index: 2,
                addr: 0xffff_fff0,
            },
            NoNoteSegment,
            TooManyNotes,
            NoteHeaderTruncated { offset: 20 },
            ImplausibleNoteSizes {
                offset: 0,
                namesz: 4096,
                descsz: 8,
            },
            NoteTruncated {
                name: "odd' (type 1) is truncated: needs 2 bytes".into(),
                note_type: 1,
                descsz: 588,
            },
            TaskNotesCapped { limit: 512 },
            PrstatusTooShort {
                tcb: 0x3ffa_fba0,
                len: 72,
                arch: Arch::Riscv,
            },
            TaskRecordsCapped {
                task_num: 1000,
                limit: 512,
            },
            TaskRecordMissing { index: 1, count: 2 },
            ImplausibleTaskStack {
                index: 0,
                tcb: 0x3ffb_0000,
                stack_len: 1 << 20,
            },
            TaskRecordTruncated {
                index: 1,
                tcb: 0x3ffb_0200,
            },
            MemSegmentMissing { index: 0, count: 1 },
            ImplausibleMemSegment {
                index: 0,
                addr: 0x3ffc_0000,
                size: 1 << 30,
            },
            ChipRecordsDisagree {
                header: Chip::Esp32,
                info: Chip::Esp32c3,
            },
            VersionsDisagree {
                header: 0x0005_0102,
                info: 0x0005_0103,
            },
            ChipOptionOverridden {
                given: Chip::Esp32c3,
                recorded: Chip::Esp32,
            },
            ChipArchMismatch {
                chip: Chip::Esp32s3,
                dump_arch: Arch::Riscv,
            },
            ElfArchMismatch {
                elf: Some(Arch::Riscv),
                dump: Arch::Xtensa,
            },
            ElfArchMismatch {
                elf: None,
                dump: Arch::Riscv,
            },
            WrongFirmwareElf {
                dump_sha: "0123abcde".into(),
                elf_sha: "1b43c5e74".into(),
            },
            ElfWithoutDwarf,
            TasksCapped {
                count: 600,
                limit: 256,
            },
            DeadlineExceeded,
            NoTasks,
            ChecksumMismatch,
        ]
    }

    #[test]
    fn every_variant_reads_back_from_its_text() {
        for w in one_of_each() {
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(json, serde_json::to_string(&w.to_string()).unwrap());
            let back: Warning = serde_json::from_str(&json).unwrap();
            assert_eq!(back, w, "{w}");
        }
    }

    #[test]
    fn unknown_and_near_miss_texts_stay_text() {
        for text in [
            "some warning of another version",
            "chip given as esp32c3, but the dump was made on esp32; using esp32s3",
            "ELF e_type is 007, expected 4 (ET_CORE)",
        ] {
            assert_eq!(
                Warning::from_text(text.into()),
                Warning::Unrecognized(text.into())
            );
        }
    }
}
