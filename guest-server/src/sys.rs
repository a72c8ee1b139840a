//! The one module of cvm-consoled that uses `unsafe`: framebuffer ioctls, mapping a
//! framebuffer into memory, the SEV-SNP extended report ioctl, and one socket option
//! no safe crate exposes. Each block states why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;

/// `struct fb_bitfield` (linux/fb.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FbBitfield {
    /// Bit offset of the field.
    pub offset: u32,
    /// Length in bits.
    pub length: u32,
    /// MSB is right (not supported by us).
    pub msb_right: u32,
}

/// `struct fb_var_screeninfo` (linux/fb.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FbVarScreeninfo {
    pub xres: u32,
    pub yres: u32,
    pub xres_virtual: u32,
    pub yres_virtual: u32,
    pub xoffset: u32,
    pub yoffset: u32,
    pub bits_per_pixel: u32,
    pub grayscale: u32,
    pub red: FbBitfield,
    pub green: FbBitfield,
    pub blue: FbBitfield,
    pub transp: FbBitfield,
    pub nonstd: u32,
    pub activate: u32,
    pub height: u32,
    pub width: u32,
    pub accel_flags: u32,
    pub pixclock: u32,
    pub left_margin: u32,
    pub right_margin: u32,
    pub upper_margin: u32,
    pub lower_margin: u32,
    pub hsync_len: u32,
    pub vsync_len: u32,
    pub sync: u32,
    pub vmode: u32,
    pub rotate: u32,
    pub colorspace: u32,
    pub reserved: [u32; 4],
}

/// `struct fb_fix_screeninfo` (linux/fb.h).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FbFixScreeninfo {
    pub id: [u8; 16],
    pub smem_start: std::ffi::c_ulong,
    pub smem_len: u32,
    pub type_: u32,
    pub type_aux: u32,
    pub visual: u32,
    pub xpanstep: u16,
    pub ypanstep: u16,
    pub ywrapstep: u16,
    pub line_length: u32,
    pub mmio_start: std::ffi::c_ulong,
    pub mmio_len: u32,
    pub accel: u32,
    pub capabilities: u16,
    pub reserved: [u16; 2],
}

const FBIOGET_VSCREENINFO: u32 = 0x4600;
const FBIOGET_FSCREENINFO: u32 = 0x4602;

nix::ioctl_read_bad!(fbioget_vscreeninfo, FBIOGET_VSCREENINFO, FbVarScreeninfo);
nix::ioctl_read_bad!(fbioget_fscreeninfo, FBIOGET_FSCREENINFO, FbFixScreeninfo);

/// The variable and fixed screen info of an open framebuffer device.
pub fn fb_screeninfo(file: &File) -> std::io::Result<(FbVarScreeninfo, FbFixScreeninfo)> {
    let mut var = FbVarScreeninfo::default();
    let mut fix = FbFixScreeninfo::default();
    // SAFETY: the fd is open for the duration of the call, and each pointer is to a
    // properly sized, aligned, exclusively borrowed #[repr(C)] struct matching the
    // kernel's definition for these two ioctls, which only write into it.
    unsafe {
        fbioget_vscreeninfo(file.as_raw_fd(), &mut var).map_err(std::io::Error::from)?;
        fbioget_fscreeninfo(file.as_raw_fd(), &mut fix).map_err(std::io::Error::from)?;
    }
    Ok((var, fix))
}

/// Map `len` bytes of a framebuffer (device or file) read-only.
pub fn map_readonly(file: &File, len: usize) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and owned by the returned Mmap, which
    // outlives every slice taken from it. The framebuffer changes under us while we
    // read it (that is what a screen does); we only ever copy bytes out of it into
    // our own buffers, never hold references into it across captures, and treat any
    // content as plain pixels, so concurrent modification cannot break invariants.
    // A device shrinking its memory under a mapping is handled by re-reading the
    // geometry before every capture and remapping on change.
    unsafe { memmap2::MmapOptions::new().len(len).map(file) }
}

/// `TCP_DEFER_ACCEPT` on a listening socket: the kernel hands a connection to
/// `accept` only once the peer has sent data (or after about `secs`), so a peer that
/// opens connections and sends nothing holds no descriptor, task or handshake slot of
/// ours. Every channel starts with the client's TLS ClientHello, so a real client is
/// never delayed.
pub fn set_tcp_defer_accept(listener: &impl AsRawFd, secs: i32) -> std::io::Result<()> {
    let value: nix::libc::c_int = secs;
    let len = nix::libc::socklen_t::try_from(std::mem::size_of::<nix::libc::c_int>())
        .map_err(|_| std::io::Error::other("socklen_t overflow"))?;
    // SAFETY: the fd is a socket owned by the caller and open for the call; `value`
    // lives on this stack frame for the whole call and `len` is its exact size.
    let rc = unsafe {
        nix::libc::setsockopt(
            listener.as_raw_fd(),
            nix::libc::IPPROTO_TCP,
            nix::libc::TCP_DEFER_ACCEPT,
            (&raw const value).cast(),
            len,
        )
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// `struct snp_report_req` (linux/sev-guest.h): what the guest asks the firmware for.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SnpReportReq {
    /// REPORT_DATA of the report.
    pub user_data: [u8; 64],
    /// VMPL to report at.
    pub vmpl: u32,
    /// Must be zero.
    pub rsvd: [u8; 28],
}

/// `struct snp_ext_report_req`: the report request plus where the host's certificate
/// table is to be copied.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SnpExtReportReq {
    /// The report request.
    pub data: SnpReportReq,
    /// User address of the certificate buffer.
    pub certs_address: u64,
    /// Its length, a multiple of the page size; on `SNP_GUEST_VMM_ERR_INVALID_LEN`
    /// the kernel writes back the length the host needs.
    pub certs_len: u32,
}

/// `struct snp_guest_request_ioctl`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SnpGuestRequestIoctl {
    /// Message version, 1.
    pub msg_version: u8,
    /// User address of the request.
    pub req_data: u64,
    /// User address of the 4000-byte response.
    pub resp_data: u64,
    /// Firmware error (low 32 bits) and VMM error (high 32 bits).
    pub exitinfo2: u64,
}

/// `struct snp_report_resp`: the firmware's MSG_REPORT_RSP, padded.
pub const SNP_REPORT_RESP_LEN: usize = 4000;
/// The host's certificate buffer was too small; the kernel wrote back the length needed.
pub const SNP_GUEST_VMM_ERR_INVALID_LEN: u32 = 1;

nix::ioctl_readwrite!(snp_get_ext_report_ioctl, b'S', 0x2, SnpGuestRequestIoctl);

/// Why SNP_GET_EXT_REPORT failed.
#[derive(Debug)]
pub struct SnpIoctlError {
    /// The errno of the ioctl.
    pub errno: std::io::Error,
    /// The firmware's error code (0 when the firmware was not reached).
    pub fw_error: u32,
    /// The VMM's error code.
    pub vmm_error: u32,
    /// The certificate length the kernel wrote back (meaningful with `INVALID_LEN`).
    pub certs_len: u32,
}

/// SNP_GET_EXT_REPORT on an open /dev/sev-guest: a report with `user_data` as its
/// REPORT_DATA at `vmpl`, and the host's certificate table copied into `certs` (whose
/// length must be a multiple of 4096 the kernel accepts). Returns the raw 4000-byte
/// response, for `evidence::sevguest` to parse.
pub fn snp_get_ext_report(
    dev: &File,
    user_data: &[u8; 64],
    vmpl: u32,
    certs: &mut [u8],
) -> Result<Box<[u8; SNP_REPORT_RESP_LEN]>, SnpIoctlError> {
    let fail = |errno: std::io::Error| SnpIoctlError { errno, fw_error: 0, vmm_error: 0, certs_len: 0 };
    let certs_len =
        u32::try_from(certs.len()).map_err(|_| fail(std::io::Error::other("certificate buffer too large")))?;
    let mut req = SnpExtReportReq {
        data: SnpReportReq { user_data: *user_data, vmpl, rsvd: [0; 28] },
        certs_address: certs.as_mut_ptr() as u64,
        certs_len,
    };
    let mut resp = Box::new([0u8; SNP_REPORT_RESP_LEN]);
    let mut arg = SnpGuestRequestIoctl {
        msg_version: 1,
        req_data: (&raw mut req) as u64,
        resp_data: resp.as_mut_ptr() as u64,
        exitinfo2: 0,
    };
    // SAFETY: the fd is open for the call. `arg` is a #[repr(C)] struct with the
    // kernel's layout (tested below), exclusively borrowed for the call. The kernel
    // reads `req` (ours, live on this frame, correct layout) and may write back its
    // `certs_len`; it writes at most SNP_REPORT_RESP_LEN bytes to `resp` (a live
    // boxed buffer of exactly that size) and at most `certs_len` bytes to `certs`
    // (an exclusively borrowed slice of that length). Nothing else is touched, and
    // every byte written is plain data we parse with bounds checks afterwards.
    let rc = unsafe { snp_get_ext_report_ioctl(dev.as_raw_fd(), &raw mut arg) };
    match rc {
        Ok(_) => Ok(resp),
        Err(errno) => Err(SnpIoctlError {
            errno: errno.into(),
            fw_error: (arg.exitinfo2 & 0xffff_ffff) as u32,
            vmm_error: (arg.exitinfo2 >> 32) as u32,
            certs_len: req.certs_len,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<FbVarScreeninfo>(), 160);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<FbFixScreeninfo>(), 80);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::offset_of!(FbFixScreeninfo, line_length), 48);
    }

    #[test]
    fn sev_guest_layouts_match_the_kernel_abi() {
        // linux/sev-guest.h: the ioctl number encodes sizeof(snp_guest_request_ioctl).
        assert_eq!(std::mem::size_of::<SnpGuestRequestIoctl>(), 32);
        assert_eq!(std::mem::offset_of!(SnpGuestRequestIoctl, req_data), 8);
        assert_eq!(std::mem::offset_of!(SnpGuestRequestIoctl, exitinfo2), 24);
        assert_eq!(std::mem::size_of::<SnpReportReq>(), 96);
        assert_eq!(std::mem::offset_of!(SnpExtReportReq, certs_address), 96);
        assert_eq!(std::mem::offset_of!(SnpExtReportReq, certs_len), 104);
        assert_eq!(std::mem::size_of::<SnpExtReportReq>(), 112);
        // _IOWR('S', 0x2, 32 bytes): dir 3 << 30 | size 32 << 16 | 'S' << 8 | 2.
        assert_eq!(nix::request_code_readwrite!(b'S', 0x2, 32), 0xc020_5302);
    }
}
