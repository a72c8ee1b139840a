//! The write loop of one connection: answer each FramebufferUpdateRequest (RFC 6143
//! 7.5.3) with a FramebufferUpdate (7.6.1), and only then.
//!
//! - Non-incremental: the whole requested area of a fresh frame.
//! - Incremental: what differs from what this client holds (64x64 tiles cropped to
//!   the changed rows and columns), with CopyRects first when a vertical scroll
//!   explains bands of it; nothing is sent (and the request waits) while nothing
//!   changed, so an idle screen costs no update bytes.
//! - Size change: with ExtendedDesktopSize (preferred) or DesktopSize, a pseudo-
//!   rectangle in an update of its own, then the whole new screen. A client that
//!   announced neither keeps its first geometry: it sees the new screen clipped to it,
//!   padded with black.
//! - SetDesktopSize is refused ("prohibited"): the guest decides its mode.
//! - The Cursor pseudo-encoding is not sent: the cursor is part of the frame.

use std::sync::Arc;

use cvmc_protocol::rfb::server::{extended_desktop_size, update_header};
use cvmc_protocol::rfb::{PixelFormat, RectHeader, Screen, encoding};
use tokio::io::{AsyncWrite, AsyncWriteExt as _, BufWriter};

use super::control::{Request, Shared};
use super::damage::{Rect, TILE, changed_bounds, changed_rects, changed_rects_outside, patch};
use super::encode::{ClientEncodings, Encoders, PixelWriter, pieces, writer_for};
use super::hub::{Captured, ScreenHub};
use super::scroll::{RowHashes, Scroll, apply_scrolls, detect_scroll};
use super::{DisplayError, ScreenImage};

/// Socket write buffer; an update is flushed when complete.
const WRITE_BUFFER: usize = 64 * 1024;
/// Changed area (pixels) below which looking for a scroll is not worth it.
const MIN_SCROLL_SEARCH: usize = 4 * (TILE as usize) * (TILE as usize);
/// ExtendedDesktopSize x-position: change by the server, or by this client.
const REASON_SERVER: u16 = 0;
const REASON_THIS_CLIENT: u16 = 1;
/// ExtendedDesktopSize y-position: success, or administratively prohibited.
const STATUS_OK: u16 = 0;
const STATUS_PROHIBITED: u16 = 1;

/// What one update sends: CopyRects (applied in order), then rectangles of the frame;
/// `base` is what the client holds before the rectangles (after the copies), if known
/// and needed (the update does not cover the whole screen).
struct Plan {
    scrolls: Vec<Scroll>,
    rects: Vec<Rect>,
    base: Option<Arc<ScreenImage>>,
    /// Row hashes of the new frame, if the scroll search made them.
    hashes: Option<RowHashes>,
}

/// What the write loop knows about its client.
struct Conn {
    px: PixelWriter,
    enc: ClientEncodings,
    encoders: Encoders,
    /// What the client's framebuffer holds, if we know.
    client: Option<Arc<ScreenImage>>,
    /// Row hashes of `client` from the last scroll search, if it made them for it.
    client_hashes: Option<RowHashes>,
    /// The framebuffer size the client knows.
    geometry: (u16, u16),
    /// The newest hub frame this connection has looked at.
    seen: u64,
    qemu_acked: bool,
    resize_replies: usize,
    buf: Vec<u8>,
}

/// Serve update requests until the stream fails (the read loop ends the connection).
pub(super) async fn write_loop<W: AsyncWrite + Unpin>(
    wr: W,
    hub: &ScreenHub,
    shared: &Shared,
    first: Captured,
) -> Result<(), DisplayError> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, wr);
    // Only the first frame's size and number are needed: holding the `Captured` for the
    // connection's life would keep that whole frame alive once the screen has changed
    // (7.9 MiB per connection at 1920x1080).
    let (geometry, seen) = ((first.frame.width, first.frame.height), first.seq);
    drop(first);
    let mut conn = Conn {
        px: writer_for(PixelFormat::RGB888)?,
        enc: ClientEncodings::default(),
        encoders: Encoders::new(),
        client: None,
        client_hashes: None,
        geometry,
        seen,
        qemu_acked: false,
        resize_replies: 0,
        buf: Vec::new(),
    };
    let mut pending: Option<Request> = None;
    loop {
        conn.absorb(shared, &mut pending)?;
        let Some(request) = pending else {
            shared.wake.notified().await;
            continue;
        };
        if conn.resize_replies > 0 {
            conn.send_resize_replies(&mut out).await?;
        }
        let captured = if !request.incremental || conn.client.is_none() {
            hub.fresh().await?
        } else {
            // The read and write loops run in one task: between setting and clearing
            // `waiting` the read loop runs only while this waits.
            shared.control().waiting = Some(request);
            let captured = tokio::select! {
                captured = hub.next_after(conn.seen) => Some(captured),
                () = shared.wake.notified() => None,
            };
            shared.control().waiting = None;
            match captured {
                Some(captured) => captured?,
                None => continue,
            }
        };
        conn.seen = conn.seen.max(captured.seq);
        if conn.answer(request, captured.frame, shared, &mut out).await? {
            pending = None;
        }
    }
}

impl Conn {
    /// Take what the read loop left: settings, requests, resize replies owed.
    fn absorb(&mut self, shared: &Shared, pending: &mut Option<Request>) -> Result<(), DisplayError> {
        let mut control = shared.control();
        if let Some(pf) = control.pixel_format.take() {
            self.px = writer_for(pf)?;
            tracing::debug!(?pf, "display: SetPixelFormat");
        }
        if let Some(list) = control.encodings.take() {
            let enc = ClientEncodings::from_list(&list);
            if enc.qemu_key && !self.enc.qemu_key {
                self.qemu_acked = false;
            }
            let names: Vec<&str> = list.iter().map(|&e| encoding::name(e)).collect();
            tracing::debug!(?names, pixel = encoding::name(enc.pixel), "display: SetEncodings");
            self.enc = enc;
        }
        if let Some(request) = control.request.take() {
            *pending = Some(pending.map_or(request, |p| p.merge(request)));
        }
        self.resize_replies += std::mem::take(&mut control.resize_replies);
        Ok(())
    }

    /// Answer `request` from `frame`; `false` if there is nothing to send yet.
    async fn answer<W: AsyncWrite + Unpin>(
        &mut self,
        request: Request,
        frame: Arc<ScreenImage>,
        shared: &Shared,
        out: &mut W,
    ) -> Result<bool, DisplayError> {
        let mut frame = frame;
        let mut full = !request.incremental || self.client.is_none();
        let mut area = request.area;
        if (frame.width, frame.height) != self.geometry {
            if self.enc.extended_desktop_size || self.enc.desktop_size {
                self.geometry = (frame.width, frame.height);
                shared.set_geometry(frame.width, frame.height);
                self.send_size(REASON_SERVER, STATUS_OK, out).await?;
                tracing::info!(width = frame.width, height = frame.height, "display: desktop size changed");
                (full, area, self.client, self.client_hashes) = (true, Rect::of(&frame), None, None);
            } else {
                frame = Arc::new(fit(&frame, self.geometry));
            }
        } else if !request.incremental && self.enc.extended_desktop_size {
            // rfbproto: every non-incremental request gets the current layout.
            self.send_size(REASON_SERVER, STATUS_OK, out).await?;
        }
        let screen = Rect::of(&frame);
        let area = area.intersect(&screen);
        let Plan { scrolls, rects, base, hashes } = match (&self.client, full) {
            (Some(client), false) => {
                if Arc::ptr_eq(client, &frame) {
                    return Ok(false);
                }
                let region = changed_bounds(client, &frame, area);
                if region.is_empty() {
                    return Ok(false);
                }
                self.plan(client, &frame, area, region)
            }
            (client, _) => Plan {
                scrolls: Vec::new(),
                rects: if area.is_empty() { vec![] } else { vec![area] },
                base: client.clone(),
                hashes: None,
            },
        };
        self.send_update(&frame, &scrolls, &rects, out).await?;
        // The hashes hold for the new frame only if the client gets all of it.
        self.client_hashes = hashes.filter(|_| area == screen);
        self.client = Some(if area == screen {
            frame
        } else {
            let base = base.unwrap_or_else(|| Arc::new(ScreenImage::filled(frame.width, frame.height, 0)));
            Arc::new(patch(&base, &frame, area))
        });
        Ok(true)
    }

    /// What to send for the changes, all of which lie in `region`: CopyRects where a
    /// vertical scroll explains enough of them, and the rectangles that differ.
    fn plan(&self, client: &Arc<ScreenImage>, frame: &ScreenImage, area: Rect, region: Rect) -> Plan {
        let mut hashes = None;
        if self.enc.copy_rect && region.pixels() >= MIN_SCROLL_SEARCH {
            let scrolls;
            (scrolls, hashes) = detect_scroll(client, frame, region, self.client_hashes.as_ref());
            if !scrolls.is_empty() {
                // The copied rows equal the new frame across the region: look only at
                // the rows no band covers, and build the client's copied framebuffer
                // only when part of it stays.
                let clean: Vec<_> = scrolls.iter().map(|s| s.dest.y..s.dest.y + s.dest.h).collect();
                let rects = changed_rects_outside(client, frame, region, &clean);
                let base = (area != Rect::of(frame)).then(|| Arc::new(apply_scrolls(client, &scrolls)));
                return Plan { scrolls, rects, base, hashes };
            }
        }
        let rects = changed_rects(client, frame, region);
        Plan { scrolls: Vec::new(), rects, base: Some(Arc::clone(client)), hashes }
    }

    /// One FramebufferUpdate: the CopyRects, the rectangles (in pieces), and the QEMU
    /// extended key event confirmation once.
    async fn send_update<W: AsyncWrite + Unpin>(
        &mut self,
        frame: &ScreenImage,
        copies: &[Scroll],
        rects: &[Rect],
        out: &mut W,
    ) -> Result<(), DisplayError> {
        let qemu = self.enc.qemu_key && !self.qemu_acked;
        let all: Vec<Rect> = rects.iter().flat_map(|r| pieces(*r)).collect();
        let count = all.len() + copies.len() + usize::from(qemu);
        let count = u16::try_from(count).map_err(|_| DisplayError::Encoder {
            encoding: "FramebufferUpdate",
            reason: format!("{count} rectangles in one update"),
        })?;
        out.write_all(&update_header(count)).await?;
        for &Scroll { dest, src_y } in copies {
            let header =
                RectHeader { x: dest.x, y: dest.y, width: dest.w, height: dest.h, encoding: encoding::COPY_RECT };
            out.write_all(&header.encode()).await?;
            out.write_all(&[dest.x.to_be_bytes(), src_y.to_be_bytes()].concat()).await?;
        }
        for piece in all {
            self.buf.clear();
            self.encoders.encode(frame, piece, &self.px, &self.enc, &mut self.buf)?;
            out.write_all(&self.buf).await?;
            // Encoding is CPU work: let other tasks on this worker run between pieces.
            tokio::task::consume_budget().await;
        }
        if qemu {
            let ack = RectHeader { x: 0, y: 0, width: 0, height: 0, encoding: encoding::QEMU_EXTENDED_KEY_EVENT };
            out.write_all(&ack.encode()).await?;
            self.qemu_acked = true;
        }
        out.flush().await?;
        Ok(())
    }

    /// An update holding only the size pseudo-rectangle for the current geometry.
    async fn send_size<W: AsyncWrite + Unpin>(
        &mut self,
        reason: u16,
        status: u16,
        out: &mut W,
    ) -> Result<(), DisplayError> {
        let (width, height) = self.geometry;
        let mut msg = update_header(1).to_vec();
        if self.enc.extended_desktop_size {
            let screen = Screen { id: 0, x: 0, y: 0, width, height, flags: 0 };
            msg.extend_from_slice(&extended_desktop_size(reason, status, width, height, &[screen])?);
        } else {
            let rect = RectHeader { x: 0, y: 0, width, height, encoding: encoding::DESKTOP_SIZE };
            msg.extend_from_slice(&rect.encode());
        }
        out.write_all(&msg).await?;
        out.flush().await?;
        Ok(())
    }

    /// One ExtendedDesktopSize "prohibited" reply per SetDesktopSize, in one update.
    async fn send_resize_replies<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> Result<(), DisplayError> {
        let count = std::mem::take(&mut self.resize_replies);
        if !self.enc.extended_desktop_size {
            tracing::debug!(count, "display: SetDesktopSize without ExtendedDesktopSize; not answered");
            return Ok(());
        }
        let (width, height) = self.geometry;
        let screen = Screen { id: 0, x: 0, y: 0, width, height, flags: 0 };
        // invariant: the read loop holds at most 16 replies, so the count fits.
        let mut msg = update_header(u16::try_from(count).unwrap_or(u16::MAX)).to_vec();
        for _ in 0..count {
            msg.extend_from_slice(&extended_desktop_size(
                REASON_THIS_CLIENT,
                STATUS_PROHIBITED,
                width,
                height,
                &[screen],
            )?);
        }
        out.write_all(&msg).await?;
        out.flush().await?;
        Ok(())
    }
}

/// `frame` cropped or padded with black to `width` x `height`.
fn fit(frame: &ScreenImage, (width, height): (u16, u16)) -> ScreenImage {
    let mut out = ScreenImage::filled(width, height, 0);
    let (w, h) = (usize::from(width.min(frame.width)), height.min(frame.height));
    for y in 0..h {
        let row = usize::from(y) * usize::from(width);
        out.pixels[row..row + w].copy_from_slice(&frame.row(y)[..w]);
    }
    out
}
