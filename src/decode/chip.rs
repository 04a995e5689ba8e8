//! Chips and architectures: chip IDs from the container header, the Xtensa/RISC-V split,
//! ROM address ranges and exception-cause names.
//!
//! Sources: esp-coredump `loader.py` (chip IDs), `soc_headers/*.py` (RAM ranges), ESP-IDF
//! `xtensa/include/xtensa/corebits.h` and esp-coredump `XTENSA_EXCEPTION_CAUSE_DICT`
//! (Xtensa causes), the RISC-V privileged spec (mcause codes).

use serde::{Deserialize, Serialize};

/// CPU architecture of a chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Xtensa LX6/LX7 with the windowed ABI (esp32, esp32s2, esp32s3).
    Xtensa,
    /// RV32 (esp32c2, c3, c5, c6, c61, h2, p4 and later).
    Riscv,
}

/// ELF `e_machine` of Xtensa, 94 = 0x5E (`EM_XTENSA`, ELF gABI; `COREDUMP_EM_XTENSA` in
/// ESP-IDF `port/xtensa/core_dump_port.c`).
const EM_XTENSA: u16 = object::elf::EM_XTENSA.0;
/// ELF `e_machine` of RISC-V, 243 = 0xF3 (`EM_RISCV`, ELF gABI).
const EM_RISCV: u16 = object::elf::EM_RISCV.0;

impl Arch {
    /// ELF `e_machine` of this architecture (Xtensa 0x5E, RISC-V 0xF3).
    pub fn e_machine(self) -> u16 {
        match self {
            Arch::Xtensa => EM_XTENSA,
            Arch::Riscv => EM_RISCV,
        }
    }

    /// The architecture of an ELF `e_machine`, if it is one of ours.
    pub fn from_e_machine(m: u16) -> Option<Arch> {
        match m {
            EM_XTENSA => Some(Arch::Xtensa),
            EM_RISCV => Some(Arch::Riscv),
            _ => None,
        }
    }
}

/// Bit position of the chip ID in a core dump version word: `COREDUMP_VERSION_MAKE` puts
/// `COREDUMP_VERSION_CHIP` (`CONFIG_IDF_FIRMWARE_CHIP_ID`) in bits 31..16 (ESP-IDF
/// `esp_core_dump_types.h`).
const VERSION_CHIP_SHIFT: u32 = 16;

/// The chip ID of a core dump version word (header `version` or `ESP_CORE_DUMP_INFO`).
pub(crate) fn chip_id_of_version(version: u32) -> u16 {
    (version >> VERSION_CHIP_SHIFT) as u16
}

/// The chip of a core dump version word, if its chip ID is known.
pub(crate) fn chip_of_version(version: u32) -> Option<Chip> {
    Chip::from_id(chip_id_of_version(version))
}

/// Xtensa EXCCAUSE value for "no valid cause": the task was broken and skipped, or the frame
/// had no cause (`COREDUMP_INVALID_CAUSE_VALUE` in ESP-IDF `port/xtensa/core_dump_port.c`,
/// `INVALID_CAUSE_VALUE` in esp-coredump `corefile/xtensa.py`).
pub(crate) const XT_INVALID_CAUSE: u32 = 0xFFFF;

/// `mcause` bit XLEN-1: the trap was an interrupt, not an exception (RISC-V privileged spec,
/// "Machine Cause Register").
const MCAUSE_INTERRUPT: u32 = 1 << 31;

/// An Espressif chip (target), as named by ESP-IDF's `CONFIG_IDF_TARGET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Chip {
    /// ESP32 (Xtensa LX6, dual core).
    Esp32,
    /// ESP32-S2 (Xtensa LX7).
    Esp32s2,
    /// ESP32-S3 (Xtensa LX7, dual core).
    Esp32s3,
    /// ESP32-C2 (RISC-V).
    Esp32c2,
    /// ESP32-C3 (RISC-V).
    Esp32c3,
    /// ESP32-C5 (RISC-V).
    Esp32c5,
    /// ESP32-C6 (RISC-V).
    Esp32c6,
    /// ESP32-C61 (RISC-V).
    Esp32c61,
    /// ESP32-H2 (RISC-V).
    Esp32h2,
    /// ESP32-H21 (RISC-V).
    Esp32h21,
    /// ESP32-H4 (RISC-V).
    Esp32h4,
    /// ESP32-P4 (RISC-V, dual core).
    Esp32p4,
    /// ESP32-S31 (RISC-V).
    Esp32s31,
}

/// Every chip, for parsing and listing.
pub const ALL_CHIPS: &[Chip] = &[
    Chip::Esp32,
    Chip::Esp32s2,
    Chip::Esp32s3,
    Chip::Esp32c2,
    Chip::Esp32c3,
    Chip::Esp32c5,
    Chip::Esp32c6,
    Chip::Esp32c61,
    Chip::Esp32h2,
    Chip::Esp32h21,
    Chip::Esp32h4,
    Chip::Esp32p4,
    Chip::Esp32s31,
];

impl Chip {
    /// The chip of a `CONFIG_IDF_FIRMWARE_CHIP_ID` (bits 31..16 of the dump version word).
    /// Table from esp-coredump `loader.py`.
    pub fn from_id(id: u16) -> Option<Chip> {
        Some(match id {
            0 => Chip::Esp32,
            2 => Chip::Esp32s2,
            5 => Chip::Esp32c3,
            9 => Chip::Esp32s3,
            12 => Chip::Esp32c2,
            13 => Chip::Esp32c6,
            16 => Chip::Esp32h2,
            18 => Chip::Esp32p4,
            20 => Chip::Esp32c61,
            23 => Chip::Esp32c5,
            25 => Chip::Esp32h21,
            28 => Chip::Esp32h4,
            32 => Chip::Esp32s31,
            _ => return None,
        })
    }

    /// The chip ID (inverse of [`Chip::from_id`]).
    pub fn id(self) -> u16 {
        match self {
            Chip::Esp32 => 0,
            Chip::Esp32s2 => 2,
            Chip::Esp32c3 => 5,
            Chip::Esp32s3 => 9,
            Chip::Esp32c2 => 12,
            Chip::Esp32c6 => 13,
            Chip::Esp32h2 => 16,
            Chip::Esp32p4 => 18,
            Chip::Esp32c61 => 20,
            Chip::Esp32c5 => 23,
            Chip::Esp32h21 => 25,
            Chip::Esp32h4 => 28,
            Chip::Esp32s31 => 32,
        }
    }

    /// Lower-case target name (`esp32c3`), as in `CONFIG_IDF_TARGET` and ROM ELF file names.
    pub fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32s2 => "esp32s2",
            Chip::Esp32s3 => "esp32s3",
            Chip::Esp32c2 => "esp32c2",
            Chip::Esp32c3 => "esp32c3",
            Chip::Esp32c5 => "esp32c5",
            Chip::Esp32c6 => "esp32c6",
            Chip::Esp32c61 => "esp32c61",
            Chip::Esp32h2 => "esp32h2",
            Chip::Esp32h21 => "esp32h21",
            Chip::Esp32h4 => "esp32h4",
            Chip::Esp32p4 => "esp32p4",
            Chip::Esp32s31 => "esp32s31",
        }
    }

    /// Parses a target name (`esp32c3`, case-insensitive, `-` and `_` ignored).
    pub fn from_name(s: &str) -> Option<Chip> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        ALL_CHIPS.iter().copied().find(|c| c.name() == norm)
    }

    /// The CPU architecture. Xtensa = esp32, s2, s3 (chip IDs 0, 2, 9).
    pub fn arch(self) -> Arch {
        match self {
            Chip::Esp32 | Chip::Esp32s2 | Chip::Esp32s3 => Arch::Xtensa,
            _ => Arch::Riscv,
        }
    }

    /// Mask-ROM instruction address ranges `[start, end)`.
    ///
    /// esp-coredump's soc headers have none; these come from the ESP-IDF `soc.h` `SOC_IROM_MASK_*`
    /// / `SOC_DROM_MASK_*` values and ROM PCs seen in esp-coredump's test dumps. A PC in here is
    /// a ROM frame.
    pub fn rom_ranges(self) -> &'static [(u32, u32)] {
        match self {
            Chip::Esp32 => &[(0x4000_0000, 0x4007_0000)],
            Chip::Esp32s2 => &[(0x4000_0000, 0x4002_0000)],
            Chip::Esp32s3 => &[(0x4000_0000, 0x4006_0000)],
            Chip::Esp32c2 => &[(0x4000_0000, 0x4009_0000)],
            Chip::Esp32c3 => &[(0x4000_0000, 0x4006_0000)],
            Chip::Esp32c5 | Chip::Esp32c6 | Chip::Esp32c61 | Chip::Esp32h2 => {
                &[(0x4000_0000, 0x4005_0000)]
            }
            Chip::Esp32h21 | Chip::Esp32h4 | Chip::Esp32s31 => &[(0x4000_0000, 0x4006_0000)],
            Chip::Esp32p4 => &[(0x4fc0_0000, 0x4fc2_0000)],
        }
    }

    /// Whether `addr` lies in this chip's mask ROM.
    pub fn is_rom(self, addr: u32) -> bool {
        self.rom_ranges()
            .iter()
            .any(|&(s, e)| addr >= s && addr < e)
    }
}

impl std::fmt::Display for Chip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Chip {
    type Err = String;

    /// Parses `esp32c3`, `ESP32-C3`, `esp32_c3`.
    fn from_str(s: &str) -> Result<Chip, String> {
        Chip::from_name(s).ok_or_else(|| {
            let known: Vec<&str> = ALL_CHIPS.iter().map(|c| c.name()).collect();
            format!("unknown chip '{s}' (known: {})", known.join(", "))
        })
    }
}

/// Name of an Xtensa EXCCAUSE value (`XTENSA_EXCEPTION_CAUSE_DICT` in esp-coredump
/// `corefile/xtensa.py`; 64..71 are ESP pseudo-causes `XCHAL_EXCCAUSE_NUM + n`). `None` is
/// printed as esp-coredump does: "Invalid EXCCAUSE code".
pub fn xtensa_cause_name(cause: u32) -> Option<&'static str> {
    Some(match cause {
        0 => "IllegalInstructionCause",
        1 => "SyscallCause",
        2 => "InstructionFetchErrorCause",
        3 => "LoadStoreErrorCause",
        4 => "Level1InterruptCause",
        5 => "AllocaCause",
        6 => "IntegerDivideByZeroCause",
        8 => "PrivilegedCause",
        9 => "LoadStoreAlignmentCause",
        12 => "InstrPIFDataErrorCause",
        13 => "LoadStorePIFDataErrorCause",
        14 => "InstrPIFAddrErrorCause",
        15 => "LoadStorePIFAddrErrorCause",
        16 => "InstTLBMissCause",
        17 => "InstTLBMultiHitCause",
        18 => "InstFetchPrivilegeCause",
        20 => "InstFetchProhibitedCause",
        24 => "LoadStoreTLBMissCause",
        25 => "LoadStoreTLBMultiHitCause",
        26 => "LoadStorePrivilegeCause",
        28 => "LoadProhibitedCause",
        29 => "StoreProhibitedCause",
        32 => "Coprocessor0Disabled",
        33 => "Coprocessor1Disabled",
        34 => "Coprocessor2Disabled",
        35 => "Coprocessor3Disabled",
        36 => "Coprocessor4Disabled",
        37 => "Coprocessor5Disabled",
        38 => "Coprocessor6Disabled",
        39 => "Coprocessor7Disabled",
        64 => "UnknownException",
        65 => "DebugException",
        66 => "DoubleException",
        67 => "KernelException",
        68 => "CoprocessorException",
        69 => "InterruptWDTTimoutCPU0",
        70 => "InterruptWDTTimoutCPU1",
        71 => "CacheError",
        XT_INVALID_CAUSE => "InvalidCauseRegister",
        _ => return None,
    })
}

/// Name of a RISC-V `mcause` value (bit 31 set = interrupt).
pub fn riscv_cause_name(mcause: u32) -> Option<&'static str> {
    if mcause & MCAUSE_INTERRUPT != 0 {
        return Some("Interrupt");
    }
    Some(match mcause {
        0 => "Instruction address misaligned",
        1 => "Instruction access fault",
        2 => "Illegal instruction",
        3 => "Breakpoint",
        4 => "Load address misaligned",
        5 => "Load access fault",
        6 => "Store address misaligned",
        7 => "Store access fault",
        8 => "Environment call from U-mode",
        9 => "Environment call from S-mode",
        11 => "Environment call from M-mode",
        12 => "Instruction page fault",
        13 => "Load page fault",
        15 => "Store page fault",
        _ => return None,
    })
}
