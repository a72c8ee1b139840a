//! What an OVMF firmware image tells an SEV-SNP launch measurement: its GUIDed footer
//! table (the SEV-ES reset vector, the SEV hashes table for measured direct boot)
//! and the SEV metadata sections the VMM measures as zero, secrets, CPUID or kernel
//! hashes pages.
//!
//! ```text
//! ... firmware ... | table entries (data, then u16 size, then GUID) | footer entry | 32 bytes
//!                    read backwards from the footer, each entry's size covering
//!                    its data and its 18-byte header
//! SEV metadata: "ASEV", size u32, version u32 (1), count u32, then count x
//!               (gpa u32, size u32, type u32), at the offset from the end its
//!               table entry names
//! ```
//!
//! Sans-IO and bounded: every offset is checked against the image. `cvm-console
//! measure` reads the image with this parser first, so that a truncated or hostile
//! file is a clear error before the digest is computed (by the `sev` crate, which
//! indexes these same structures without bounds checks of its own).

/// Footer table entry header: u16 size, 16-byte GUID.
const ENTRY_HEADER: usize = 18;
/// The footer table ends this far before the end of the image.
const FOOTER_GAP: usize = 32;
/// SEV metadata header: signature, size, version, count.
const METADATA_HEADER: usize = 16;
/// One metadata section: gpa, size, type.
const SECTION_LEN: usize = 12;
/// Largest image accepted: OVMF builds are 2-4 MiB, with room for larger ones.
pub const MAX_OVMF_LEN: usize = 64 << 20;
/// The VMM loads the image to end at 4 GiB.
const FOUR_GIB: u64 = 1 << 32;

/// GUIDs as they appear in the image (little-endian fields), from their string form.
const fn guid(s: &[u8; 36]) -> [u8; 16] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c - b'A' + 10,
        }
    }
    const fn byte(s: &[u8; 36], at: usize) -> u8 {
        (nib(s[at]) << 4) | nib(s[at + 1])
    }
    // Text positions of the 16 bytes, in the order the image stores them.
    const ORDER: [usize; 16] = [6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = byte(s, ORDER[i]);
        i += 1;
    }
    out
}

/// The footer of the table.
pub const FOOTER_GUID: [u8; 16] = guid(b"96b582de-1fb2-45f7-baea-a366c55a082d");
/// The SEV-ES AP reset block (the reset EIP of the application processors).
pub const SEV_ES_RESET_BLOCK_GUID: [u8; 16] = guid(b"00f771de-1a7e-4fcb-890e-68c77e2fb44e");
/// The SEV hashes table (measured direct boot: kernel, initrd, command line).
pub const SEV_HASH_TABLE_RV_GUID: [u8; 16] = guid(b"7255371f-3a3b-4b04-927b-1da6efa8d454");
/// The SEV metadata (its offset from the end of the image).
pub const SEV_METADATA_GUID: [u8; 16] = guid(b"dc886566-984a-4798-a75e-5585a7bf67cc");

/// What kind of pages a metadata section is measured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Zero pages (SNP_SEC_MEMORY).
    SecMemory,
    /// The secrets page.
    Secrets,
    /// The CPUID page.
    Cpuid,
    /// The SVSM calling area (zero pages).
    SvsmCaa,
    /// The SEV hashes page: measured direct boot.
    KernelHashes,
}

impl SectionKind {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::SecMemory,
            2 => Self::Secrets,
            3 => Self::Cpuid,
            4 => Self::SvsmCaa,
            0x10 => Self::KernelHashes,
            _ => return None,
        })
    }
}

/// One SEV metadata section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Section {
    /// Guest physical address.
    pub gpa: u32,
    /// Size in bytes.
    pub size: u32,
    /// How it is measured.
    pub kind: SectionKind,
}

/// The facts of an OVMF image a launch measurement depends on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OvmfFacts {
    /// Image size in bytes (a multiple of 4096).
    pub size: usize,
    /// Where it is loaded: 4 GiB minus its size.
    pub gpa: u64,
    /// The application processors' reset EIP.
    pub sev_es_reset_eip: u32,
    /// The SEV hashes table's guest address, when the image supports measured direct
    /// boot.
    pub sev_hashes_table_gpa: Option<u32>,
    /// The SEV metadata sections, in image order.
    pub sections: Vec<Section>,
}

impl OvmfFacts {
    /// Whether a kernel, initrd and command line can be measured with this image
    /// (an `OvmfPkg/AmdSev` build).
    pub fn measured_direct_boot(&self) -> bool {
        self.sev_hashes_table_gpa.is_some_and(|g| g != 0)
            && self.sections.iter().any(|s| s.kind == SectionKind::KernelHashes)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse and bound-check an OVMF image.
pub fn parse(image: &[u8]) -> Result<OvmfFacts, String> {
    let len = image.len();
    if len > MAX_OVMF_LEN {
        return Err(format!("{len} bytes, more than the {MAX_OVMF_LEN} accepted for a firmware image"));
    }
    if len == 0 || !len.is_multiple_of(4096) {
        return Err(format!("{len} bytes, not a whole number of 4 KiB pages (is this an OVMF.fd?)"));
    }
    // The footer entry: the last one, 32 bytes before the end.
    let footer_at = len - FOOTER_GAP - ENTRY_HEADER;
    if image[footer_at + 2..footer_at + ENTRY_HEADER] != FOOTER_GUID {
        return Err("no OVMF GUIDed footer table (not an OVMF image built with SEV support)".into());
    }
    let footer_size = usize::from(u16_at(image, footer_at));
    if footer_size < ENTRY_HEADER || footer_size - ENTRY_HEADER > footer_at {
        return Err(format!("footer table size {footer_size} does not fit the image"));
    }
    let table = &image[footer_at - (footer_size - ENTRY_HEADER)..footer_at];
    // Entries, from the end of the table back.
    let mut entries: Vec<([u8; 16], &[u8])> = Vec::new();
    let mut end = table.len();
    while end >= ENTRY_HEADER {
        let header = &table[end - ENTRY_HEADER..end];
        let size = usize::from(u16_at(header, 0));
        if size < ENTRY_HEADER {
            return Err(format!("footer table entry of size {size}, less than its {ENTRY_HEADER}-byte header"));
        }
        if size > end {
            break;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&header[2..]);
        entries.push((id, &table[end - size..end - ENTRY_HEADER]));
        end -= size;
    }
    // As a map, the last one read for a GUID wins.
    let entry = |id: &[u8; 16]| entries.iter().rev().find(|(g, _)| g == id).map(|(_, d)| *d);

    let reset = entry(&SEV_ES_RESET_BLOCK_GUID).ok_or("no SEV-ES reset block in the footer table")?;
    if reset.len() < 4 {
        return Err("SEV-ES reset block shorter than its 4-byte EIP".into());
    }
    let sev_es_reset_eip = u32_at(reset, 0);
    let sev_hashes_table_gpa = entry(&SEV_HASH_TABLE_RV_GUID).filter(|d| d.len() >= 4).map(|d| u32_at(d, 0));

    // Without SEV metadata there is no secrets or CPUID page: such a build (Debian's
    // OVMF_CODE_4M.fd, for one) cannot launch an SEV-SNP guest, so there is no
    // measurement to pin. (sev-snp-measure computes one anyway.)
    let meta = entry(&SEV_METADATA_GUID).ok_or(
        "no SEV metadata in the footer table: this build has no secrets or CPUID page and cannot launch an \
         SEV-SNP guest (use OVMF.fd with -bios, or an OvmfPkg/AmdSev build)",
    )?;
    if meta.len() < 4 {
        return Err("SEV metadata entry shorter than its 4-byte offset".into());
    }
    let from_end = usize::try_from(i32::from_le_bytes([meta[0], meta[1], meta[2], meta[3]]))
        .map_err(|_| "SEV metadata offset is negative".to_owned())?;
    let header_at = len.checked_sub(from_end).ok_or("SEV metadata offset points before the image")?;
    if header_at + METADATA_HEADER > len {
        return Err("SEV metadata header runs past the end of the image".into());
    }
    if image[header_at..header_at + 4] != *b"ASEV" {
        return Err("SEV metadata signature is not \"ASEV\"".into());
    }
    let meta_size = u32_at(image, header_at + 4) as usize;
    let version = u32_at(image, header_at + 8);
    let count = u32_at(image, header_at + 12) as usize;
    if version != 1 {
        return Err(format!("SEV metadata version {version}, not 1"));
    }
    if meta_size < METADATA_HEADER || header_at + meta_size > len {
        return Err(format!("SEV metadata size {meta_size} does not fit the image"));
    }
    if count.checked_mul(SECTION_LEN).is_none_or(|n| n > meta_size - METADATA_HEADER) {
        return Err(format!("{count} SEV metadata sections do not fit its {meta_size} bytes"));
    }
    let mut sections = Vec::with_capacity(count);
    for i in 0..count {
        let at = header_at + METADATA_HEADER + i * SECTION_LEN;
        let (gpa, size, kind) = (u32_at(image, at), u32_at(image, at + 4), u32_at(image, at + 8));
        let kind = SectionKind::from_u32(kind).ok_or_else(|| format!("SEV metadata section type {kind:#x}"))?;
        if !size.is_multiple_of(4096) || !gpa.is_multiple_of(4096) {
            return Err(format!("SEV metadata section at {gpa:#x} of {size} bytes is not page-aligned"));
        }
        if kind == SectionKind::KernelHashes && size != 4096 {
            return Err(format!("the SEV hashes section is {size} bytes, not one page"));
        }
        sections.push(Section { gpa, size, kind });
    }
    Ok(OvmfFacts { size: len, gpa: FOUR_GIB - len as u64, sev_es_reset_eip, sev_hashes_table_gpa, sections })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_are_in_the_images_byte_order() {
        // "96b582de-1fb2-45f7-baea-a366c55a082d" as edk2 writes it.
        assert_eq!(FOOTER_GUID[..4], [0xde, 0x82, 0xb5, 0x96]);
        assert_eq!(FOOTER_GUID[4..8], [0xb2, 0x1f, 0xf7, 0x45]);
        assert_eq!(FOOTER_GUID[8..], [0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d]);
    }

    #[test]
    fn short_odd_and_empty_images_are_errors_not_panics() {
        for len in [0, 1, 49, 50, 4095] {
            assert!(parse(&vec![0; len]).is_err(), "{len}");
        }
        assert!(parse(&[0; 4096]).unwrap_err().contains("footer"));
    }
}
