//! TPM 2.0 commands and responses, sans-IO: the few the `azure-vtpm` provider sends
//! to the vTPM (NV_ReadPublic, NV_Read, NV_Write, NV_DefineSpace), built as bytes,
//! and their responses parsed from bytes with every length checked. TPM 2.0 Library,
//! Part 3 (commands) and Part 2 (structures): big-endian, `TPM2B` = u16 length +
//! bytes. Owner authorization is the password session with an empty password (how
//! Azure's vTPM and a fresh swtpm are provisioned).
//!
//! Why not a crate: tss-esapi wraps the C tpm2-tss (and OpenSSL) that an initramfs
//! binary should not carry; the pure-Rust tpm2-protocol changed its API shape in
//! each release of the past year. Four commands with one session kind are a page of
//! plain code, fuzzed with the response parser (`fuzz/fuzz_targets/tpm_responses.rs`).

/// A TPM2 response is at most this long here (TPM2's MAX_RESPONSE_SIZE is 4096 on
/// common TPMs; leave room).
pub const MAX_RESPONSE: usize = 8192;
/// Bytes per NV_Read and NV_Write (the TCG PC Client minimum of MAX_NV_BUFFER_SIZE).
pub const NV_CHUNK: usize = 1024;
/// Largest NV index this client reads.
pub const MAX_NV_SIZE: usize = 16 * 1024;
/// The response header: tag, size, response code.
pub const HEADER_LEN: usize = 10;

const ST_NO_SESSIONS: u16 = 0x8001;
const ST_SESSIONS: u16 = 0x8002;
const CC_NV_DEFINE_SPACE: u32 = 0x0000_012a;
const CC_NV_WRITE: u32 = 0x0000_0137;
const CC_NV_READ: u32 = 0x0000_014e;
const CC_NV_READ_PUBLIC: u32 = 0x0000_0169;
const RH_OWNER: u32 = 0x4000_0001;
const RS_PW: u32 = 0x4000_0009;
const ALG_SHA256: u16 = 0x000b;
/// TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD (an ordinary index the owner reads and writes).
pub const NV_OWNER_RW: u32 = (1 << 1) | (1 << 17);
/// TPM_RC_HANDLE (format 1, handle 1): the index is not defined.
pub const RC_HANDLE_1: u32 = 0x18b;
/// TPM_RC_NV_UNINITIALIZED: the index is defined but was never written.
pub const RC_NV_UNINITIALIZED: u32 = 0x14a;

/// A TPM answer that is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpmError {
    /// The response is malformed.
    #[error("malformed TPM response: {0}")]
    Malformed(String),
    /// The TPM refused the command.
    #[error("the TPM answered {command} with response code {code:#x}{}", rc_hint(*.code))]
    Refused {
        /// The command.
        command: &'static str,
        /// TPM_RC.
        code: u32,
    },
}

fn rc_hint(code: u32) -> &'static str {
    // Format-one codes carry a handle/parameter number in bits 8-11: mask it out.
    let base = if code & 0x80 != 0 { code & 0xbf } else { code };
    match base {
        0x8b => " (TPM_RC_HANDLE: no such index or object)",
        0x8e => " (TPM_RC_AUTH_FAIL)",
        0x95 => " (TPM_RC_SIZE)",
        0x84 => " (TPM_RC_VALUE)",
        0x146 => " (TPM_RC_NV_RANGE: outside the index)",
        0x147 => " (TPM_RC_NV_SIZE)",
        0x149 => " (TPM_RC_NV_AUTHORIZATION)",
        0x14a => " (TPM_RC_NV_UNINITIALIZED: the index was never written)",
        0x14c => " (TPM_RC_NV_DEFINED: the index exists)",
        0x101 => " (TPM_RC_FAILURE)",
        0x100 => " (TPM_RC_INITIALIZE: the TPM was not started)",
        _ => "",
    }
}

/// A bounded big-endian reader.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Read `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, at: 0 }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], TpmError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            TpmError::Malformed(format!("{what}: needs {n} bytes at offset {}, {} in all", self.at, self.buf.len()))
        })?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// A u8.
    pub fn u8(&mut self, what: &str) -> Result<u8, TpmError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self, what: &str) -> Result<u16, TpmError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian u32.
    pub fn u32(&mut self, what: &str) -> Result<u32, TpmError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &str) -> Result<u64, TpmError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A TPM2B: u16 length, then that many bytes.
    pub fn tpm2b(&mut self, what: &str) -> Result<&'a [u8], TpmError> {
        let n = self.u16(what)?;
        self.bytes(usize::from(n), what)
    }

    /// What is left.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.at..]
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }
}

/// The total size a response announces in its header, once `header` (its first
/// [`HEADER_LEN`] bytes) has arrived: how much a transport must read in all.
pub fn response_len(header: &[u8]) -> Result<usize, TpmError> {
    let mut r = Reader::new(header);
    let _tag = r.u16("response tag")?;
    let size = r.u32("response size")? as usize;
    if !(HEADER_LEN..=MAX_RESPONSE).contains(&size) {
        return Err(TpmError::Malformed(format!("response size {size}, not {HEADER_LEN}..={MAX_RESPONSE}")));
    }
    Ok(size)
}

struct Command {
    out: Vec<u8>,
}

impl Command {
    fn new(sessions: bool, code: u32) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&(if sessions { ST_SESSIONS } else { ST_NO_SESSIONS }).to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&code.to_be_bytes());
        Self { out }
    }
    fn u16(mut self, v: u16) -> Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn tpm2b(self, data: &[u8]) -> Self {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        let mut s = self.u16(len);
        s.out.extend_from_slice(&data[..usize::from(len)]);
        s
    }
    /// The password session with an empty password.
    fn password_auth(self) -> Self {
        // sessionHandle, nonce (empty), attributes (continueSession), hmac (empty password)
        let mut s = self.u32(9).u32(RS_PW).u16(0);
        s.out.push(0x01);
        s.u16(0)
    }
    fn done(mut self) -> Vec<u8> {
        let len = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        self.out[2..6].copy_from_slice(&len.to_be_bytes());
        self.out
    }
}

/// TPM2_NV_ReadPublic of `index`.
pub fn nv_read_public(index: u32) -> Vec<u8> {
    Command::new(false, CC_NV_READ_PUBLIC).u32(index).done()
}

/// TPM2_NV_Read of `size` bytes at `offset` of `index`, with owner authorization.
pub fn nv_read(index: u32, size: u16, offset: u16) -> Vec<u8> {
    Command::new(true, CC_NV_READ).u32(RH_OWNER).u32(index).password_auth().u16(size).u16(offset).done()
}

/// TPM2_NV_Write of `data` (at most [`NV_CHUNK`] bytes) at `offset` of `index`, with
/// owner authorization.
pub fn nv_write(index: u32, data: &[u8], offset: u16) -> Vec<u8> {
    Command::new(true, CC_NV_WRITE).u32(RH_OWNER).u32(index).password_auth().tpm2b(data).u16(offset).done()
}

/// TPM2_NV_DefineSpace of an ordinary index of `size` bytes that the owner reads and
/// writes, with no index password.
pub fn nv_define_space(index: u32, size: u16) -> Vec<u8> {
    let mut public = Vec::with_capacity(14);
    public.extend_from_slice(&index.to_be_bytes());
    public.extend_from_slice(&ALG_SHA256.to_be_bytes());
    public.extend_from_slice(&NV_OWNER_RW.to_be_bytes());
    public.extend_from_slice(&0u16.to_be_bytes()); // authPolicy: empty
    public.extend_from_slice(&size.to_be_bytes());
    Command::new(true, CC_NV_DEFINE_SPACE).u32(RH_OWNER).password_auth().u16(0).tpm2b(&public).done()
}

/// Check a response's header and code; return the reader after the header (and, with
/// sessions, after the parameter size, bounded to the parameters).
fn parameters<'a>(response: &'a [u8], command: &'static str, sessions: bool) -> Result<Reader<'a>, TpmError> {
    let mut r = Reader::new(response);
    let tag = r.u16("response tag")?;
    let size = r.u32("response size")? as usize;
    let code = r.u32("response code")?;
    if size != response.len() {
        return Err(TpmError::Malformed(format!("header says {size} bytes, {} arrived", response.len())));
    }
    if code != 0 {
        return Err(TpmError::Refused { command, code });
    }
    let want = if sessions { ST_SESSIONS } else { ST_NO_SESSIONS };
    if tag != want {
        return Err(TpmError::Malformed(format!("{command}: tag {tag:#06x}, expected {want:#06x}")));
    }
    if !sessions {
        return Ok(r);
    }
    let len = r.u32("parameter size")? as usize;
    let params = r.bytes(len, "parameters")?;
    Ok(Reader::new(params))
}

/// An NV index's public area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvPublic {
    /// The index.
    pub index: u32,
    /// TPMA_NV.
    pub attributes: u32,
    /// Its size in bytes.
    pub size: u16,
}

/// Parse NV_ReadPublic's response.
pub fn parse_nv_read_public(response: &[u8]) -> Result<NvPublic, TpmError> {
    let mut r = parameters(response, "NV_ReadPublic", false)?;
    let public = r.tpm2b("nvPublic")?;
    let mut p = Reader::new(public);
    let index = p.u32("nvIndex")?;
    let _name_alg = p.u16("nameAlg")?;
    let attributes = p.u32("attributes")?;
    let _policy = p.tpm2b("authPolicy")?;
    let size = p.u16("dataSize")?;
    if p.remaining() != 0 {
        return Err(TpmError::Malformed(format!("nvPublic has {} trailing bytes", p.remaining())));
    }
    let _name = r.tpm2b("nvName")?;
    Ok(NvPublic { index, attributes, size })
}

/// Parse NV_Read's response: the data, which must be `expected` bytes.
pub fn parse_nv_read(response: &[u8], expected: usize) -> Result<&[u8], TpmError> {
    let mut r = parameters(response, "NV_Read", true)?;
    let data = r.tpm2b("data")?;
    if data.len() != expected {
        return Err(TpmError::Malformed(format!("NV_Read returned {} bytes, asked for {expected}", data.len())));
    }
    Ok(data)
}

/// Parse NV_Write's response.
pub fn parse_nv_write(response: &[u8]) -> Result<(), TpmError> {
    parameters(response, "NV_Write", true).map(|_| ())
}

/// Parse NV_DefineSpace's response.
pub fn parse_nv_define_space(response: &[u8]) -> Result<(), TpmError> {
    parameters(response, "NV_DefineSpace", true).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_carry_their_size_code_and_session() {
        let c = nv_read_public(0x0140_0001);
        assert_eq!(c, [0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x69, 0x01, 0x40, 0x00, 0x01]);
        let c = nv_read(0x0140_0001, 1024, 2048);
        assert_eq!(c.len(), 10 + 8 + 4 + 9 + 4);
        assert_eq!(&c[2..6], &u32::try_from(c.len()).unwrap().to_be_bytes());
        assert_eq!(&c[18..22], &9u32.to_be_bytes(), "authorizationSize");
        assert_eq!(&c[22..26], &RS_PW.to_be_bytes());
        assert_eq!(&c[c.len() - 4..], &[0x04, 0x00, 0x08, 0x00]);
        let c = nv_write(0x0140_0002, &[7; 64], 0);
        assert_eq!(c.len(), 10 + 8 + 4 + 9 + 2 + 64 + 2);
    }

    fn response(tag: u16, code: u32, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&tag.to_be_bytes());
        r.extend_from_slice(&u32::try_from(HEADER_LEN + body.len()).unwrap().to_be_bytes());
        r.extend_from_slice(&code.to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn responses_are_bounded_and_refusals_are_named() {
        // NV_Read: parameterSize, TPM2B data, then the session area.
        let mut body = Vec::new();
        body.extend_from_slice(&5u32.to_be_bytes());
        body.extend_from_slice(&[0, 3, 1, 2, 3]);
        body.extend_from_slice(&[0, 0, 1, 0, 0]);
        assert_eq!(parse_nv_read(&response(ST_SESSIONS, 0, &body), 3).unwrap(), &[1, 2, 3]);
        assert!(parse_nv_read(&response(ST_SESSIONS, 0, &body), 4).is_err());
        // A parameter size past the end, a data length past the parameters.
        let mut long = body.clone();
        long[..4].copy_from_slice(&500u32.to_be_bytes());
        assert!(parse_nv_read(&response(ST_SESSIONS, 0, &long), 3).is_err());
        let mut lying = body.clone();
        lying[4..6].copy_from_slice(&9u16.to_be_bytes());
        assert!(parse_nv_read(&response(ST_SESSIONS, 0, &lying), 9).is_err());
        // A header size that is not the length, and a refusal.
        let mut r = response(ST_SESSIONS, 0, &body);
        r[5] += 1;
        assert!(matches!(parse_nv_read(&r, 3), Err(TpmError::Malformed(_))));
        let e = parse_nv_write(&response(ST_NO_SESSIONS, 0x28b, &[])).unwrap_err();
        assert_eq!(e, TpmError::Refused { command: "NV_Write", code: 0x28b });
        assert!(e.to_string().contains("TPM_RC_HANDLE"), "{e}");
        assert!(response_len(&[0x80, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        assert_eq!(response_len(&response(ST_NO_SESSIONS, 0, &[1, 2])[..10]).unwrap(), 12);
    }
}
