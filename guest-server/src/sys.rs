//! The one module of cvm-consoled that uses `unsafe`: framebuffer ioctls, mapping a
//! framebuffer into memory, and one socket option no safe crate exposes. Each block
//! states why it is sound.
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
}
