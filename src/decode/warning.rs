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
    /// A bound of the evaluation of frame arguments and locals was reached (expression
    /// steps, DIEs read, memory read or the deadline): later frames show fewer variables.
    VariablesLimited,
    /// The dump holds no tasks.
    NoTasks,
    /// The container checksum failed: results are untrusted.
    ChecksumMismatch,

    /// A stored warning text this version does not produce (read back from JSON written by
    /// another version). The decoder itself never makes one.
    Unrecognized(String),
}

/// A warning's text: `first`, then each value followed by its piece of `rest`. Display
/// writes it and [`parse`] reads the values back from it, so each text is written once.
struct Text {
    first: &'static str,
    rest: &'static [&'static str],
}

impl Text {
    /// A text without values.
    const fn plain(text: &'static str) -> Text {
        Text {
            first: text,
            rest: &[],
        }
    }

    /// Writes the text with `values` in its holes.
    fn write(&self, f: &mut fmt::Formatter<'_>, values: &[&dyn fmt::Display]) -> fmt::Result {
        f.write_str(self.first)?;
        for (value, piece) in values.iter().zip(self.rest) {
            write!(f, "{value}{piece}")?;
        }
        Ok(())
    }

    /// The `N` values of `text`, if it has this text's shape. Pieces are matched from the
    /// right, so only the first value may contain the literal text that follows it (the
    /// free-text values, note names and SHA prefixes, come first).
    fn holes<'a, const N: usize>(&self, text: &'a str) -> Option<[&'a str; N]> {
        if self.rest.len() != N {
            return None;
        }
        let mut out = [""; N];
        let mut pieces = self.rest.iter().rev();
        let mut left = text
            .strip_prefix(self.first)?
            .strip_suffix(*pieces.next()?)?;
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
}

const SHIFTED_ELF_RESTORED: Text = Text::plain(
    "ELF core started 12 bytes into its header (V2_2 dump uploaded with a 24-byte header strip); the 12 constant bytes were restored",
);
const TRAILING_BYTES_IGNORED: Text = Text {
    first: "",
    rest: &[" bytes after the image's data_len (", ") were ignored"],
};
const IMAGE_TRUNCATED: Text = Text {
    first: "image is truncated: header data_len is ",
    rest: &[" bytes but only ", " arrived; decoding what is present"],
};
const INVALID_CHECKSUM: Text = Text {
    first: "invalid core dump checksum ",
    rest: &[
        ", should be ",
        ": the dump is damaged, results are untrusted",
    ],
};
const NON_BASE64_LINES_SKIPPED: Text = Text {
    first: "",
    rest: &[" text line(s) that are not base64 were skipped"],
};
const SEVERAL_DUMPS_IN_TEXT: Text = Text {
    first: "",
    rest: &[" CORE DUMP START markers found; the last dump was decoded"],
};
const NOT_ET_CORE: Text = Text {
    first: "ELF e_type is ",
    rest: &[", expected 4 (ET_CORE)"],
};
const PROGRAM_HEADERS_CAPPED: Text = Text {
    first: "ELF core has ",
    rest: &[" program headers; only the first ", " are read"],
};
const PROGRAM_HEADER_PAST_END: Text = Text {
    first: "program header ",
    rest: &[
        " of ",
        " lies past the end of the dump (",
        " bytes): dump truncated",
    ],
};
const SEGMENT_TRUNCATED: Text = Text {
    first: "segment ",
    rest: &[" at 0x", " is truncated: ", " of ", " bytes present"],
};
const SEGMENT_WRAPS: Text = Text {
    first: "segment ",
    rest: &[" at 0x", " wraps the address space; ignored"],
};
const NO_NOTE_SEGMENT: Text =
    Text::plain("ELF core has no PT_NOTE segment: no tasks or crash info");
const TOO_MANY_NOTES: Text =
    Text::plain("too many notes in one PT_NOTE segment; the rest were ignored");
const NOTE_HEADER_TRUNCATED: Text = Text {
    first: "truncated note header at offset ",
    rest: &[""],
};
const IMPLAUSIBLE_NOTE_SIZES: Text = Text {
    first: "note at offset ",
    rest: &[
        " has implausible sizes (namesz ",
        ", descsz ",
        "); stopped reading notes",
    ],
};
const NOTE_TRUNCATED: Text = Text {
    first: "note '",
    rest: &["' (type ", ") is truncated: needs ", " bytes"],
};
const TASK_NOTES_CAPPED: Text = Text {
    first: "more than ",
    rest: &[" tasks; the rest were ignored"],
};
const PRSTATUS_TOO_SHORT: Text = Text {
    first: "prstatus of task 0x",
    rest: &[" is ", " bytes, too short for ", " registers"],
};
const TASK_RECORDS_CAPPED: Text = Text {
    first: "binary header claims ",
    rest: &[" tasks; only ", " are read"],
};
const TASK_RECORD_MISSING: Text = Text {
    first: "task record ",
    rest: &[" of ", " is missing: dump truncated"],
};
const IMPLAUSIBLE_TASK_STACK: Text = Text {
    first: "task record ",
    rest: &[" (TCB 0x", ") has a ", "-byte stack; stopped reading tasks"],
};
const TASK_RECORD_TRUNCATED: Text = Text {
    first: "task record ",
    rest: &[" (TCB 0x", ") is truncated"],
};
const MEM_SEGMENT_MISSING: Text = Text {
    first: "memory segment ",
    rest: &[" of ", " is missing: dump truncated"],
};
const IMPLAUSIBLE_MEM_SEGMENT: Text = Text {
    first: "memory segment ",
    rest: &[" at 0x", " claims ", " bytes; stopped"],
};
const CHIP_RECORDS_DISAGREE: Text = Text {
    first: "container header says ",
    rest: &[" but ESP_CORE_DUMP_INFO says ", ""],
};
const VERSIONS_DISAGREE: Text = Text {
    first: "ESP_CORE_DUMP_INFO version 0x",
    rest: &[" differs from the header's 0x", ""],
};
const CHIP_OPTION_OVERRIDDEN: Text = Text {
    first: "chip given as ",
    rest: &[", but the dump was made on ", "; using ", ""],
};
const CHIP_ARCH_MISMATCH: Text = Text {
    first: "chip ",
    rest: &[" is ", " but the dump's ELF machine is ", ""],
};
const ELF_ARCH_MISMATCH: Text = Text {
    first: "firmware ELF is for ",
    rest: &[", but the dump is ", ": the ELF was not used"],
};
const WRONG_FIRMWARE_ELF: Text = Text {
    first: "WRONG FIRMWARE ELF: core dump SHA256(",
    rest: &[
        ") != app SHA256(",
        "); symbols and frames below are unreliable",
    ],
};
const ELF_WITHOUT_DWARF: Text =
    Text::plain("firmware ELF has no DWARF: no file:line, and RISC-V CFI may be missing");
const TASKS_CAPPED: Text = Text {
    first: "",
    rest: &[" tasks in the dump; only the first ", " are decoded"],
};
const DEADLINE_EXCEEDED: Text =
    Text::plain("decode deadline exceeded: some backtraces are incomplete");
const NO_TASKS: Text = Text::plain("the dump holds no tasks");
const VARIABLES_LIMITED: Text = Text::plain(
    "frame variables were not all evaluated: a decoder limit was reached (steps, DIEs, memory or time)",
);
const CHECKSUM_MISMATCH: Text =
    Text::plain("checksum mismatch: the dump is damaged, results are untrusted");

/// `0x{:08x}` without the `0x` (the texts hold the prefix).
struct Hex8(u32);

impl fmt::Display for Hex8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Warning::*;
        match self {
            ShiftedElfRestored => SHIFTED_ELF_RESTORED.write(f, &[]),
            TrailingBytesIgnored { count, data_len } => {
                TRAILING_BYTES_IGNORED.write(f, &[count, data_len])
            }
            ImageTruncated { data_len, received } => {
                IMAGE_TRUNCATED.write(f, &[data_len, received])
            }
            InvalidChecksum { stored, computed } => INVALID_CHECKSUM.write(f, &[stored, computed]),
            NonBase64LinesSkipped { count } => NON_BASE64_LINES_SKIPPED.write(f, &[count]),
            SeveralDumpsInText { count } => SEVERAL_DUMPS_IN_TEXT.write(f, &[count]),
            NotEtCore { e_type } => NOT_ET_CORE.write(f, &[e_type]),
            ProgramHeadersCapped { count, limit } => {
                PROGRAM_HEADERS_CAPPED.write(f, &[count, limit])
            }
            ProgramHeaderPastEnd {
                index,
                count,
                body_len,
            } => PROGRAM_HEADER_PAST_END.write(f, &[index, count, body_len]),
            SegmentTruncated {
                index,
                addr,
                present,
                declared,
            } => SEGMENT_TRUNCATED.write(f, &[index, &Hex8(*addr), present, declared]),
            SegmentWraps { index, addr } => SEGMENT_WRAPS.write(f, &[index, &Hex8(*addr)]),
            NoNoteSegment => NO_NOTE_SEGMENT.write(f, &[]),
            TooManyNotes => TOO_MANY_NOTES.write(f, &[]),
            NoteHeaderTruncated { offset } => NOTE_HEADER_TRUNCATED.write(f, &[offset]),
            ImplausibleNoteSizes {
                offset,
                namesz,
                descsz,
            } => IMPLAUSIBLE_NOTE_SIZES.write(f, &[offset, namesz, descsz]),
            NoteTruncated {
                name,
                note_type,
                descsz,
            } => NOTE_TRUNCATED.write(f, &[name, note_type, descsz]),
            TaskNotesCapped { limit } => TASK_NOTES_CAPPED.write(f, &[limit]),
            PrstatusTooShort { tcb, len, arch } => {
                PRSTATUS_TOO_SHORT.write(f, &[&Hex8(*tcb), len, &format!("{arch:?}")])
            }
            TaskRecordsCapped { task_num, limit } => {
                TASK_RECORDS_CAPPED.write(f, &[task_num, limit])
            }
            TaskRecordMissing { index, count } => TASK_RECORD_MISSING.write(f, &[index, count]),
            ImplausibleTaskStack {
                index,
                tcb,
                stack_len,
            } => IMPLAUSIBLE_TASK_STACK.write(f, &[index, &Hex8(*tcb), stack_len]),
            TaskRecordTruncated { index, tcb } => {
                TASK_RECORD_TRUNCATED.write(f, &[index, &Hex8(*tcb)])
            }
            MemSegmentMissing { index, count } => MEM_SEGMENT_MISSING.write(f, &[index, count]),
            ImplausibleMemSegment { index, addr, size } => {
                IMPLAUSIBLE_MEM_SEGMENT.write(f, &[index, &Hex8(*addr), size])
            }
            ChipRecordsDisagree { header, info } => CHIP_RECORDS_DISAGREE.write(f, &[header, info]),
            VersionsDisagree { header, info } => {
                VERSIONS_DISAGREE.write(f, &[&Hex8(*info), &Hex8(*header)])
            }
            ChipOptionOverridden { given, recorded } => {
                CHIP_OPTION_OVERRIDDEN.write(f, &[given, recorded, recorded])
            }
            ChipArchMismatch { chip, dump_arch } => CHIP_ARCH_MISMATCH.write(
                f,
                &[
                    chip,
                    &format!("{:?}", chip.arch()),
                    &format!("{dump_arch:?}"),
                ],
            ),
            ElfArchMismatch { elf, dump } => {
                ELF_ARCH_MISMATCH.write(f, &[&format!("{elf:?}"), &format!("{dump:?}")])
            }
            WrongFirmwareElf { dump_sha, elf_sha } => {
                WRONG_FIRMWARE_ELF.write(f, &[dump_sha, elf_sha])
            }
            ElfWithoutDwarf => ELF_WITHOUT_DWARF.write(f, &[]),
            TasksCapped { count, limit } => TASKS_CAPPED.write(f, &[count, limit]),
            DeadlineExceeded => DEADLINE_EXCEEDED.write(f, &[]),
            VariablesLimited => VARIABLES_LIMITED.write(f, &[]),
            NoTasks => NO_TASKS.write(f, &[]),
            ChecksumMismatch => CHECKSUM_MISMATCH.write(f, &[]),
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

/// Reads the variant and its data back from a text written by `Display` (the caller checks
/// that the result prints the same text).
fn parse(t: &str) -> Option<Warning> {
    use Warning::*;
    for w in [
        ShiftedElfRestored,
        NoNoteSegment,
        TooManyNotes,
        ElfWithoutDwarf,
        DeadlineExceeded,
        VariablesLimited,
        NoTasks,
        ChecksumMismatch,
    ] {
        if w.to_string() == t {
            return Some(w);
        }
    }
    if let Some([count, data_len]) = TRAILING_BYTES_IGNORED.holes(t) {
        return Some(TrailingBytesIgnored {
            count: num(count)?,
            data_len: num(data_len)?,
        });
    }
    if let Some([data_len, received]) = IMAGE_TRUNCATED.holes(t) {
        return Some(ImageTruncated {
            data_len: num(data_len)?,
            received: num(received)?,
        });
    }
    if let Some([stored, computed]) = INVALID_CHECKSUM.holes(t) {
        return Some(InvalidChecksum {
            stored: stored.to_string(),
            computed: computed.to_string(),
        });
    }
    if let Some([count]) = NON_BASE64_LINES_SKIPPED.holes(t) {
        return Some(NonBase64LinesSkipped { count: num(count)? });
    }
    if let Some([count]) = SEVERAL_DUMPS_IN_TEXT.holes(t) {
        return Some(SeveralDumpsInText { count: num(count)? });
    }
    if let Some([e_type]) = NOT_ET_CORE.holes(t) {
        return Some(NotEtCore {
            e_type: num(e_type)?,
        });
    }
    if let Some([count, limit]) = PROGRAM_HEADERS_CAPPED.holes(t) {
        return Some(ProgramHeadersCapped {
            count: num(count)?,
            limit: num(limit)?,
        });
    }
    if let Some([index, count, body_len]) = PROGRAM_HEADER_PAST_END.holes(t) {
        return Some(ProgramHeaderPastEnd {
            index: num(index)?,
            count: num(count)?,
            body_len: num(body_len)?,
        });
    }
    if let Some([index, addr, present, declared]) = SEGMENT_TRUNCATED.holes(t) {
        return Some(SegmentTruncated {
            index: num(index)?,
            addr: hex(addr)?,
            present: num(present)?,
            declared: num(declared)?,
        });
    }
    if let Some([index, addr]) = SEGMENT_WRAPS.holes(t) {
        return Some(SegmentWraps {
            index: num(index)?,
            addr: hex(addr)?,
        });
    }
    if let Some([offset]) = NOTE_HEADER_TRUNCATED.holes(t) {
        return Some(NoteHeaderTruncated {
            offset: num(offset)?,
        });
    }
    if let Some([offset, namesz, descsz]) = IMPLAUSIBLE_NOTE_SIZES.holes(t) {
        return Some(ImplausibleNoteSizes {
            offset: num(offset)?,
            namesz: num(namesz)?,
            descsz: num(descsz)?,
        });
    }
    if let Some([name, note_type, descsz]) = NOTE_TRUNCATED.holes(t) {
        return Some(NoteTruncated {
            name: name.to_string(),
            note_type: num(note_type)?,
            descsz: num(descsz)?,
        });
    }
    if let Some([limit]) = TASK_NOTES_CAPPED.holes(t) {
        return Some(TaskNotesCapped { limit: num(limit)? });
    }
    if let Some([tcb, len, arch]) = PRSTATUS_TOO_SHORT.holes(t) {
        return Some(PrstatusTooShort {
            tcb: hex(tcb)?,
            len: num(len)?,
            arch: arch_named(arch)?,
        });
    }
    if let Some([task_num, limit]) = TASK_RECORDS_CAPPED.holes(t) {
        return Some(TaskRecordsCapped {
            task_num: num(task_num)?,
            limit: num(limit)?,
        });
    }
    if let Some([index, count]) = TASK_RECORD_MISSING.holes(t) {
        return Some(TaskRecordMissing {
            index: num(index)?,
            count: num(count)?,
        });
    }
    if let Some([index, tcb, stack_len]) = IMPLAUSIBLE_TASK_STACK.holes(t) {
        return Some(ImplausibleTaskStack {
            index: num(index)?,
            tcb: hex(tcb)?,
            stack_len: num(stack_len)?,
        });
    }
    if let Some([index, tcb]) = TASK_RECORD_TRUNCATED.holes(t) {
        return Some(TaskRecordTruncated {
            index: num(index)?,
            tcb: hex(tcb)?,
        });
    }
    if let Some([index, count]) = MEM_SEGMENT_MISSING.holes(t) {
        return Some(MemSegmentMissing {
            index: num(index)?,
            count: num(count)?,
        });
    }
    if let Some([index, addr, size]) = IMPLAUSIBLE_MEM_SEGMENT.holes(t) {
        return Some(ImplausibleMemSegment {
            index: num(index)?,
            addr: hex(addr)?,
            size: num(size)?,
        });
    }
    if let Some([header, info]) = CHIP_RECORDS_DISAGREE.holes(t) {
        return Some(ChipRecordsDisagree {
            header: Chip::from_name(header)?,
            info: Chip::from_name(info)?,
        });
    }
    if let Some([info, header]) = VERSIONS_DISAGREE.holes(t) {
        return Some(VersionsDisagree {
            header: hex(header)?,
            info: hex(info)?,
        });
    }
    if let Some([given, recorded, _]) = CHIP_OPTION_OVERRIDDEN.holes(t) {
        return Some(ChipOptionOverridden {
            given: Chip::from_name(given)?,
            recorded: Chip::from_name(recorded)?,
        });
    }
    if let Some([chip, _, dump_arch]) = CHIP_ARCH_MISMATCH.holes(t) {
        return Some(ChipArchMismatch {
            chip: Chip::from_name(chip)?,
            dump_arch: arch_named(dump_arch)?,
        });
    }
    if let Some([elf, dump]) = ELF_ARCH_MISMATCH.holes(t) {
        let elf = match elf {
            "None" => None,
            some => Some(arch_named(some.strip_prefix("Some(")?.strip_suffix(')')?)?),
        };
        return Some(ElfArchMismatch {
            elf,
            dump: arch_named(dump)?,
        });
    }
    if let Some([dump_sha, elf_sha]) = WRONG_FIRMWARE_ELF.holes(t) {
        return Some(WrongFirmwareElf {
            dump_sha: dump_sha.to_string(),
            elf_sha: elf_sha.to_string(),
        });
    }
    if let Some([count, limit]) = TASKS_CAPPED.holes(t) {
        return Some(TasksCapped {
            count: num(count)?,
            limit: num(limit)?,
        });
    }
    None
}

/// A decimal number.
fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
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
            VariablesLimited,
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
    fn texts_are_the_stored_ones() {
        let cases = [
            (
                Warning::SegmentTruncated {
                    index: 3,
                    addr: 0x3ffb_4e00,
                    present: 10,
                    declared: 400,
                },
                "segment 3 at 0x3ffb4e00 is truncated: 10 of 400 bytes present",
            ),
            (
                Warning::ChipArchMismatch {
                    chip: Chip::Esp32s3,
                    dump_arch: Arch::Riscv,
                },
                "chip esp32s3 is Xtensa but the dump's ELF machine is Riscv",
            ),
            (
                Warning::ElfArchMismatch {
                    elf: Some(Arch::Riscv),
                    dump: Arch::Xtensa,
                },
                "firmware ELF is for Some(Riscv), but the dump is Xtensa: the ELF was not used",
            ),
            (
                Warning::VersionsDisagree {
                    header: 0x0005_0102,
                    info: 0x0005_0103,
                },
                "ESP_CORE_DUMP_INFO version 0x00050103 differs from the header's 0x00050102",
            ),
            (Warning::NoTasks, "the dump holds no tasks"),
        ];
        for (w, text) in cases {
            assert_eq!(w.to_string(), text);
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
