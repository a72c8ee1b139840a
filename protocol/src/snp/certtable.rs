//! The certificate table that comes with an extended SNP report (SNP_GET_EXT_REPORT
//! through /dev/sev-guest) and in the configfs-tsm `auxblob`: GHCB specification,
//! "SNP Extended Guest Request", certificate table.
//!
//! ```text
//! entry := guid[16] offset:u32le length:u32le     offset counts from table start
//! table := entry* zero-entry  data...
//! ```
//!
//! The table comes from the host (the hypervisor fills it), so it is untrusted
//! input: every offset and length is bounds-checked, entries may not run past the
//! buffer, the count is capped, and a missing terminator is an error. sev 8's
//! parser (`CertTableEntry::vec_bytes_to_cert_table`) assumes a well-formed buffer.
//! Nothing here is trusted anyway: certificates only matter once they chain to a
//! pinned root.

use crate::error::CodecError;
use crate::evidence::{CertEntry, CertKind};

/// Size of one table entry.
pub const ENTRY_LEN: usize = 24;
/// Most entries accepted before the terminator.
pub const MAX_ENTRIES: usize = 16;
/// Largest table accepted (the kernel's default certificate buffer is 4 pages;
/// leave room for larger ones).
pub const MAX_TABLE_LEN: usize = 64 * 1024;

/// GUIDs of the entries, in RFC 4122 byte order (the order of the string form).
pub mod guid {
    /// AMD Root Key, `c0b406a4-a803-4952-9743-3fb6014cd0ae`.
    pub const ARK: [u8; 16] = hex_guid("c0b406a4a80349529743 3fb6014cd0ae");
    /// AMD SEV Key, `4ab7b379-bbac-4fe4-a02f-05aef327c782`.
    pub const ASK: [u8; 16] = hex_guid("4ab7b379bbac4fe4a02f 05aef327c782");
    /// Versioned Chip Endorsement Key, `63da758d-e664-4564-adc5-f4b93be8accd`.
    pub const VCEK: [u8; 16] = hex_guid("63da758de6644564adc5 f4b93be8accd");
    /// Versioned Loaded Endorsement Key, `a8074bc2-a25a-483e-aae6-39c045a0b8a1`.
    pub const VLEK: [u8; 16] = hex_guid("a8074bc2a25a483eaae6 39c045a0b8a1");

    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }

    /// Decode 32 hex digits (spaces skipped) at compile time.
    const fn hex_guid(s: &str) -> [u8; 16] {
        let b = s.as_bytes();
        let mut out = [0u8; 16];
        let (mut i, mut n) = (0, 0);
        while i < b.len() {
            if b[i] != b' ' {
                let v = nibble(b[i]);
                out[n / 2] |= if n % 2 == 0 { v << 4 } else { v };
                n += 1;
            }
            i += 1;
        }
        assert!(n == 32, "a GUID has 32 hex digits");
        out
    }
}

/// Parse a certificate table. Unknown GUIDs are skipped (AMD may add kinds).
pub fn parse_cert_table(buf: &[u8]) -> Result<Vec<CertEntry>, CodecError> {
    if buf.len() > MAX_TABLE_LEN {
        return Err(CodecError::TooLong { field: "certificate table", len: buf.len(), max: MAX_TABLE_LEN });
    }
    let mut out = Vec::new();
    for index in 0..=MAX_ENTRIES {
        let at = index * ENTRY_LEN;
        let entry = buf.get(at..at + ENTRY_LEN).ok_or(CodecError::Truncated {
            what: "certificate table (no terminating entry)",
            needed: at + ENTRY_LEN,
            available: buf.len(),
        })?;
        if entry.iter().all(|&b| b == 0) {
            return Ok(out);
        }
        if index == MAX_ENTRIES {
            break;
        }
        let mut g = [0u8; 16];
        g.copy_from_slice(&entry[..16]);
        let offset = le_u32(&entry[16..20]);
        let length = le_u32(&entry[20..24]);
        let data =
            offset.checked_add(length).and_then(|end| buf.get(offset..end)).ok_or_else(|| CodecError::BadValue {
                field: "certificate table entry",
                value: format!("offset {offset} + length {length} is outside the {}-byte table", buf.len()),
            })?;
        let kind = match g {
            guid::VCEK => CertKind::VCEK,
            guid::VLEK => CertKind::VLEK,
            guid::ASK => CertKind::ASK,
            guid::ARK => CertKind::ARK,
            _ => continue,
        };
        out.push(CertEntry { kind, der: data.to_vec() });
    }
    Err(CodecError::TooLong { field: "certificate table entries", len: MAX_ENTRIES + 1, max: MAX_ENTRIES })
}

/// Build a table (for tests and the simulated provider's recordings).
pub fn encode_cert_table(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let header = (entries.len() + 1) * ENTRY_LEN;
    let mut table = vec![0u8; header];
    let mut data = Vec::new();
    for (i, (g, der)) in entries.iter().enumerate() {
        let at = i * ENTRY_LEN;
        table[at..at + 16].copy_from_slice(g);
        let offset = u32::try_from(header + data.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(der.len()).unwrap_or(u32::MAX);
        table[at + 16..at + 20].copy_from_slice(&offset.to_le_bytes());
        table[at + 20..at + 24].copy_from_slice(&len.to_le_bytes());
        data.extend_from_slice(der);
    }
    table.extend_from_slice(&data);
    table
}

fn le_u32(b: &[u8]) -> usize {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    usize::try_from(u32::from_le_bytes(a)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_guids_skipped() {
        let t = encode_cert_table(&[(guid::VCEK, b"vcek"), ([7; 16], b"other"), (guid::ASK, b"ask")]);
        let e = parse_cert_table(&t).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].kind, e[0].der.as_slice()), (CertKind::VCEK, &b"vcek"[..]));
        assert_eq!((e[1].kind, e[1].der.as_slice()), (CertKind::ASK, &b"ask"[..]));
        assert_eq!(guid::VCEK[..4], [0x63, 0xda, 0x75, 0x8d]);
    }

    #[test]
    fn hostile_tables_are_refused() {
        // No terminator.
        let mut t = encode_cert_table(&[(guid::VCEK, b"x")]);
        t.truncate(ENTRY_LEN);
        assert!(parse_cert_table(&t).is_err());
        // Offset past the end, and an offset+length that overflows.
        for (off, len) in [(1000u32, 4u32), (u32::MAX, u32::MAX)] {
            let mut t = encode_cert_table(&[(guid::VCEK, b"x")]);
            t[16..20].copy_from_slice(&off.to_le_bytes());
            t[20..24].copy_from_slice(&len.to_le_bytes());
            assert!(parse_cert_table(&t).is_err());
        }
        // Too many entries.
        let many: Vec<([u8; 16], &[u8])> = (0..MAX_ENTRIES + 1).map(|_| (guid::ASK, &b"a"[..])).collect();
        assert!(parse_cert_table(&encode_cert_table(&many)).is_err());
        assert!(parse_cert_table(&[]).is_err());
    }
}
