//! What one display connection's read loop hands its write loop: the pending update
//! request, the client's pixel format and encodings, resize replies owed, and the
//! framebuffer size the client knows. The read loop (`serve`) writes it, the write
//! loop (`update`) takes from it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use cvmc_protocol::rfb::PixelFormat;
use tokio::sync::Notify;

use super::damage::Rect;

/// An update request (RFC 6143 7.5.3), merged with later ones until answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Request {
    pub incremental: bool,
    pub area: Rect,
}

impl Request {
    /// One request covering both: incremental only if both were.
    pub(super) fn merge(self, other: Request) -> Request {
        Request { incremental: self.incremental && other.incremental, area: self.area.union(&other.area) }
    }
}

/// What the read loop hands the write loop.
#[derive(Debug, Default)]
pub(super) struct Control {
    pub request: Option<Request>,
    /// The incremental request the write loop is waiting on a change for. A request
    /// it covers would merge into the same request, so the read loop drops it without
    /// waking the writer (an idle client repeating its request costs no wake-up).
    pub waiting: Option<Request>,
    pub pixel_format: Option<PixelFormat>,
    pub encodings: Option<Vec<i32>>,
    pub resize_replies: usize,
}

/// State shared by the two loops of one connection.
#[derive(Debug, Default)]
pub(super) struct Shared {
    control: Mutex<Control>,
    /// Signalled after every change to `control`.
    pub wake: Notify,
    /// The framebuffer size the client knows, `width << 16 | height`.
    geometry: AtomicU32,
}

impl Shared {
    pub(super) fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_geometry(&self, width: u16, height: u16) {
        self.geometry.store((u32::from(width) << 16) | u32::from(height), Ordering::Release);
    }

    pub(super) fn geometry(&self) -> (u16, u16) {
        let packed = self.geometry.load(Ordering::Acquire);
        let [w1, w0, h1, h0] = packed.to_be_bytes();
        (u16::from_be_bytes([w1, w0]), u16::from_be_bytes([h1, h0]))
    }
}
