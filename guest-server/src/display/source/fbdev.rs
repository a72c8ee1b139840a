//! `fbdev:/dev/fbN`: a guest-private Linux framebuffer (vkms with fbdev emulation),
//! mapped read-only and converted to 0x00RRGGBB pixels.
//!
//! Host-visible framebuffers — an emulated VGA/bochs, virtio-gpu, QXL, cirrus, or the
//! firmware's EFI/VESA framebuffer — live in memory the host reads: serving them
//! would add nothing the host cannot already see, and users would believe otherwise.
//! They are refused unless explicitly forced. The geometry is re-read before every
//! capture, so a mode change is followed.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::display::{ScreenImage, ScreenSource, SourceError};
use crate::sys::{FbBitfield, fb_screeninfo, map_readonly};

/// How a framebuffer's memory is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Visible width in pixels.
    pub width: u32,
    /// Visible height in pixels.
    pub height: u32,
    /// Bytes from one line to the next.
    pub stride: u32,
    /// Bits per pixel: 16, 24 or 32.
    pub bpp: u32,
    /// Red, green, blue bit fields (offset, length) within a pixel.
    pub rgb: [(u32, u32); 3],
    /// First visible line and column (panning).
    pub offset: (u32, u32),
}

impl Geometry {
    /// 32 bpp XRGB8888, the common fbdev format (vkms).
    pub fn xrgb8888(width: u32, height: u32, stride: u32) -> Self {
        Self { width, height, stride, bpp: 32, rgb: [(16, 8), (8, 8), (0, 8)], offset: (0, 0) }
    }

    /// 16 bpp RGB565.
    pub fn rgb565(width: u32, height: u32, stride: u32) -> Self {
        Self { width, height, stride, bpp: 16, rgb: [(11, 5), (5, 6), (0, 5)], offset: (0, 0) }
    }

    fn bytes_needed(&self) -> Option<usize> {
        let lines = u64::from(self.offset.1) + u64::from(self.height);
        usize::try_from(lines.checked_mul(u64::from(self.stride))?).ok()
    }

    fn validate(&self, path: &Path) -> Result<(), SourceError> {
        let bad = |reason: String| SourceError::Device(format!("{}: {reason}", path.display()));
        if ![16, 24, 32].contains(&self.bpp) {
            return Err(bad(format!("{} bits per pixel is not supported (16, 24, 32 are)", self.bpp)));
        }
        if self.width == 0 || self.height == 0 || self.width > 8192 || self.height > 8192 {
            return Err(bad(format!("size {}x{} is out of range", self.width, self.height)));
        }
        let row = u64::from(self.offset.0 + self.width) * u64::from(self.bpp / 8);
        if u64::from(self.stride) < row {
            return Err(bad(format!("stride {} is shorter than a line of {row} bytes", self.stride)));
        }
        if self.rgb.iter().any(|&(off, len)| len == 0 || len > 8 || off + len > self.bpp) {
            return Err(bad(format!("colour fields {:?} do not fit {} bpp", self.rgb, self.bpp)));
        }
        Ok(())
    }
}

/// Whether a framebuffer driver's memory is private to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Guest RAM only (vkms).
    Private,
    /// Emulated or firmware framebuffer the host can read.
    HostVisible(String),
    /// A driver we do not know: treated as host-visible.
    Unknown(String),
}

/// Classify a driver by its /sys/class/graphics/fbN/name.
pub fn classify(name: &str) -> Visibility {
    let n = name.trim().to_ascii_lowercase();
    if n.contains("vkms") {
        return Visibility::Private;
    }
    for (needle, what) in [
        ("bochs", "the emulated Bochs/VGA display"),
        ("virtio", "the virtio-gpu device"),
        ("qxl", "the QXL device"),
        ("cirrus", "the emulated Cirrus VGA"),
        ("efi", "the firmware's EFI framebuffer"),
        ("vesa", "the VESA framebuffer"),
        ("simple", "the firmware framebuffer (simplefb/simpledrm)"),
        ("vga", "an emulated VGA device"),
        ("hyperv", "the Hyper-V synthetic video device"),
    ] {
        if n.contains(needle) {
            return Visibility::HostVisible(format!("\"{}\" is {what}, which the host can read", name.trim()));
        }
    }
    Visibility::Unknown(format!("\"{}\" is not a framebuffer known to be private to the guest", name.trim()))
}

/// A mapped framebuffer.
#[derive(Debug)]
pub struct FbdevSource {
    path: PathBuf,
    file: File,
    device: bool,
    geometry: Geometry,
    map: memmap2::Mmap,
    /// One line, read for comparing with the previous frame.
    row: Vec<u32>,
}

impl FbdevSource {
    /// Open `/dev/fbN`. Refuses a host-visible framebuffer unless `force_host_visible`.
    pub fn open_device(path: &Path, force_host_visible: bool) -> Result<Self, SourceError> {
        let err = |reason: String| SourceError::Device(format!("{}: {reason}", path.display()));
        let fb = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| err("not a /dev/fbN path".into()))?;
        let name = std::fs::read_to_string(Path::new("/sys/class/graphics").join(fb).join("name"))
            .map_err(|e| err(format!("cannot read its driver name: {e}")))?;
        match classify(&name) {
            Visibility::Private => {}
            Visibility::HostVisible(why) | Visibility::Unknown(why) if !force_host_visible => {
                return Err(err(format!(
                    "refusing to serve this framebuffer: {why}. Use a guest-private one (vkms) or force it knowingly"
                )));
            }
            Visibility::HostVisible(why) | Visibility::Unknown(why) => {
                tracing::warn!(path = %path.display(), "serving a framebuffer the host can see: {why}");
            }
        }
        let file = File::open(path).map_err(|e| err(e.to_string()))?;
        let geometry = device_geometry(&file).map_err(|e| err(e.to_string()))?;
        Self::map(path, file, geometry, true)
    }

    /// A file laid out like a framebuffer with the given geometry (same mmap path;
    /// for tests and for tools that dump framebuffers).
    pub fn open_file(path: &Path, geometry: Geometry) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::Device(format!("{}: {e}", path.display())))?;
        Self::map(path, file, geometry, false)
    }

    fn map(path: &Path, file: File, geometry: Geometry, device: bool) -> Result<Self, SourceError> {
        geometry.validate(path)?;
        let len = geometry
            .bytes_needed()
            .ok_or_else(|| SourceError::Device(format!("{}: geometry overflows", path.display())))?;
        let available = file.metadata().map(|m| m.len()).unwrap_or(0);
        if !device && available < len as u64 {
            return Err(SourceError::Device(format!(
                "{}: {available} bytes, the geometry needs {len}",
                path.display()
            )));
        }
        let map =
            map_readonly(&file, len).map_err(|e| SourceError::Device(format!("{}: mmap: {e}", path.display())))?;
        Ok(Self { path: path.to_path_buf(), file, device, geometry, map, row: Vec::new() })
    }

    /// The current geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    fn follow_mode_change(&mut self) -> Result<(), SourceError> {
        if !self.device {
            return Ok(());
        }
        let g =
            device_geometry(&self.file).map_err(|e| SourceError::Device(format!("{}: {e}", self.path.display())))?;
        if g != self.geometry {
            tracing::info!(path = %self.path.display(), width = g.width, height = g.height, bpp = g.bpp, "framebuffer mode changed");
            let file = self.file.try_clone().map_err(|e| SourceError::Device(e.to_string()))?;
            *self = Self::map(&self.path, file, g, true)?;
        }
        Ok(())
    }
}

fn device_geometry(file: &File) -> std::io::Result<Geometry> {
    let (var, fix) = fb_screeninfo(file)?;
    let field = |f: FbBitfield| (f.offset, f.length);
    Ok(Geometry {
        width: var.xres,
        height: var.yres,
        stride: fix.line_length,
        bpp: var.bits_per_pixel,
        rgb: [field(var.red), field(var.green), field(var.blue)],
        offset: (var.xoffset, var.yoffset),
    })
}

/// Scale an `len`-bit channel value to 8 bits.
fn to8(v: u32, len: u32) -> u32 {
    if len >= 8 { v >> (len - 8) } else { (v << (8 - len)) | (v >> (2 * len).saturating_sub(8).min(len)) }
}

impl FbdevSource {
    /// The frame size, checked against the wire's limits.
    fn size(&self) -> Result<(u16, u16), SourceError> {
        let width = u16::try_from(self.geometry.width).map_err(|_| SourceError::Device("width out of range".into()))?;
        let height =
            u16::try_from(self.geometry.height).map_err(|_| SourceError::Device("height out of range".into()))?;
        Ok((width, height))
    }

    /// Visible line `y` as 0x00RRGGBB pixels into `out` (`width` of them).
    fn read_row(&self, y: usize, out: &mut [u32]) {
        let g = &self.geometry;
        let bytes_pp = (g.bpp / 8) as usize;
        let start = (g.offset.1 as usize + y) * g.stride as usize + g.offset.0 as usize * bytes_pp;
        let line = &self.map[start..start + out.len() * bytes_pp];
        if g.bpp == 32 && g.rgb == [(16, 8), (8, 8), (0, 8)] {
            // XRGB8888, what vkms and most framebuffers use: a mask per pixel, which
            // the compiler vectorises.
            for (px, raw) in out.iter_mut().zip(line.as_chunks::<4>().0) {
                *px = u32::from_le_bytes(*raw) & 0x00ff_ffff;
            }
            return;
        }
        for (px, raw) in out.iter_mut().zip(line.chunks_exact(bytes_pp)) {
            let raw = match *raw {
                [a, b] => u32::from(u16::from_le_bytes([a, b])),
                [a, b, c] => u32::from_le_bytes([a, b, c, 0]),
                [a, b, c, d, ..] => u32::from_le_bytes([a, b, c, d]),
                _ => 0,
            };
            let [r, gr, b] = g.rgb.map(|(off, len)| to8((raw >> off) & ((1 << len) - 1), len));
            *px = (r << 16) | (gr << 8) | b;
        }
    }

    /// The whole visible area, at the current geometry.
    fn read_image(&self) -> Result<ScreenImage, SourceError> {
        let (width, height) = self.size()?;
        let mut pixels = vec![0; usize::from(width) * usize::from(height)];
        self.read_rows(0, &mut pixels);
        Ok(ScreenImage { width, height, pixels })
    }

    /// Lines `from..` of the visible area into `pixels` (whole lines of `width`).
    fn read_rows(&self, from: usize, pixels: &mut [u32]) {
        let w = self.geometry.width as usize;
        for (i, row) in pixels.chunks_exact_mut(w).enumerate() {
            self.read_row(from + i, row);
        }
    }
}

impl ScreenSource for FbdevSource {
    fn name(&self) -> String {
        format!("fbdev:{}", self.path.display())
    }

    fn capture(&mut self) -> Result<ScreenImage, SourceError> {
        self.follow_mode_change()?;
        self.read_image()
    }

    /// Compares line by line as it reads: a still screen costs one pass over the
    /// framebuffer and the previous frame, and no new frame.
    fn capture_changed(&mut self, previous: Option<&ScreenImage>) -> Result<Option<ScreenImage>, SourceError> {
        self.follow_mode_change()?;
        let (width, height) = self.size()?;
        let Some(previous) = previous.filter(|p| (p.width, p.height) == (width, height)) else {
            return self.read_image().map(Some);
        };
        let w = usize::from(width);
        self.row.resize(w, 0);
        let mut row = std::mem::take(&mut self.row);
        let changed = (0..usize::from(height)).find(|&y| {
            self.read_row(y, &mut row);
            row[..] != previous.pixels[y * w..(y + 1) * w]
        });
        let frame = changed.map(|y| {
            // The lines above `y` were just read equal to the previous frame's.
            let mut pixels = Vec::with_capacity(w * usize::from(height));
            pixels.extend_from_slice(&previous.pixels[..y * w]);
            pixels.extend_from_slice(&row);
            pixels.resize(w * usize::from(height), 0);
            self.read_rows(y + 1, &mut pixels[(y + 1) * w..]);
            ScreenImage { width, height, pixels }
        });
        self.row = row;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_are_classified() {
        assert_eq!(classify("vkmsdrmfb\n"), Visibility::Private);
        assert!(matches!(classify("bochs-drmdrmfb"), Visibility::HostVisible(_)));
        assert!(matches!(classify("virtio_gpudrmfb"), Visibility::HostVisible(_)));
        assert!(matches!(classify("EFI VGA"), Visibility::HostVisible(_)));
        assert!(matches!(classify("simpledrmdrmfb"), Visibility::HostVisible(_)));
        assert!(matches!(classify("udlfb"), Visibility::Unknown(_)));
    }

    #[test]
    fn channel_scaling_reaches_full_range() {
        assert_eq!(to8(31, 5), 255);
        assert_eq!(to8(63, 6), 255);
        assert_eq!(to8(0, 5), 0);
        assert_eq!(to8(0xab, 8), 0xab);
    }
}
