//! One frame source shared by every display connection.
//!
//! Captures happen only when a connection asks for a frame newer than the one it
//! has seen, at most `max_fps` times a second, one at a time, on a blocking thread.
//! While the screen stays still the rate backs off (see `Backoff`): after
//! [`IDLE_AFTER`] without a change the interval doubles with every unchanged capture
//! up to [`MAX_IDLE_INTERVAL`], and snaps back on a change and on keyboard or pointer
//! input ([`ScreenHub::poke`]). A new hub starts backed off (nothing has changed yet),
//! and a request for the whole screen gets one prompt capture, not the full rate: a
//! client connecting to a still screen costs one capture, not half a second of them.
//! The trade-off: a change nobody typed or pointed for, after half a second of
//! stillness, is seen up to [`MAX_IDLE_INTERVAL`] late instead of one frame interval;
//! an idle screen costs two captures a second instead of `max_fps`.
//! Every connection gets the latest frame by `Arc`: a slow client skips frames, it
//! never queues them. A capture identical to the previous one keeps the previous
//! `Arc`, so connections recognise an unchanged screen without comparing pixels (the
//! source compares while it reads, [`ScreenSource::capture_changed`]).
//! Captures run in their own task: a connection that stops waiting (it got a new
//! request, or it closed) never cancels a capture others wait for.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::{MAX_FRAME_DIMENSION, ScreenImage, ScreenSource, SourceError};

/// Highest capture rate a hub accepts; higher `max_fps` values are clamped.
pub const MAX_FPS: u32 = 240;
/// How long the screen must stay unchanged before captures back off.
pub const IDLE_AFTER: Duration = Duration::from_millis(500);
/// The longest capture interval of a still screen.
pub const MAX_IDLE_INTERVAL: Duration = Duration::from_millis(500);

/// The capture interval: the hub's own while the screen changes, doubling with every
/// unchanged capture once nothing changed for [`IDLE_AFTER`], up to
/// [`MAX_IDLE_INTERVAL`] (never below the hub's own); back to the hub's own on a
/// change or a [`Backoff::poke`]. Starts backed off: nothing has changed yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    base: Duration,
    current: Duration,
    /// The last change or poke; `None` before the first.
    active_at: Option<Instant>,
    /// The next capture is wanted now ([`Backoff::hurry`]): one base interval after
    /// the previous, whatever the current interval.
    hurried: bool,
}

impl Backoff {
    pub(crate) fn new(base: Duration) -> Self {
        Self { base, current: MAX_IDLE_INTERVAL.max(base), active_at: None, hurried: false }
    }

    /// The interval from one capture's start to the next.
    pub(crate) fn interval(&self) -> Duration {
        if self.hurried { self.base } else { self.current }
    }

    /// A capture at `now` ended; `changed`: its frame differs from the previous one.
    pub(crate) fn captured(&mut self, changed: bool, now: Instant) {
        self.hurried = false;
        if changed {
            self.poke(now);
        } else if self.active_at.is_none_or(|at| now.saturating_duration_since(at) >= IDLE_AFTER) {
            self.current = (self.current * 2).min(MAX_IDLE_INTERVAL).max(self.base);
        }
    }

    /// Input: expect a change, capture at the full rate.
    pub(crate) fn poke(&mut self, now: Instant) {
        self.current = self.base;
        self.active_at = Some(now);
    }

    /// A request for the whole screen: one capture soon, the rate as it was (asking
    /// to see the screen does not change it).
    pub(crate) fn hurry(&mut self) {
        self.hurried = true;
    }
}

/// A frame as the hub handed it out.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    /// Increases with every successful capture (1 for the first).
    pub seq: u64,
    /// The pixels; the same `Arc` as the previous capture if nothing changed.
    pub frame: Arc<ScreenImage>,
    /// When the capture started.
    pub at: Instant,
}

/// Shares one source among all display connections: captures at most `max_fps` times a
/// second and only while some connection waits for an update; subscribers see the
/// latest frame (a slow client gets the latest, never a queue).
#[derive(Clone)]
pub struct ScreenHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ScreenHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenHub").field("source", &self.inner.name).field("interval", &self.inner.interval).finish()
    }
}

struct Inner {
    name: String,
    interval: Duration,
    source: Mutex<Box<dyn ScreenSource>>,
    state: Mutex<State>,
    /// Signalled whenever a capture ends (with or without a frame).
    done: watch::Sender<()>,
    /// Signalled on [`ScreenHub::poke`]: a capture waiting out a backed-off interval
    /// re-computes its start.
    poked: Notify,
}

struct State {
    latest: Option<Captured>,
    /// A capture task is running.
    capturing: bool,
    /// Captures started so far, failed ones included.
    attempts: u64,
    /// The latest failed attempt and why.
    failure: Option<(u64, SourceError)>,
    last_start: Option<Instant>,
    backoff: Backoff,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScreenHub {
    /// Share `source`, capturing at most `max_fps` (1..=[`MAX_FPS`]) times a second.
    pub fn new(source: Box<dyn ScreenSource>, max_fps: u32) -> Self {
        let fps = max_fps.clamp(1, MAX_FPS);
        let name = source.name();
        let interval = Duration::from_secs(1) / fps;
        let inner = Inner {
            name,
            interval,
            source: Mutex::new(source),
            state: Mutex::new(State {
                latest: None,
                capturing: false,
                attempts: 0,
                failure: None,
                last_start: None,
                backoff: Backoff::new(interval),
            }),
            done: watch::Sender::new(()),
            poked: Notify::new(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The source's name.
    pub fn source_name(&self) -> &str {
        &self.inner.name
    }

    /// A frame captured no longer than one capture interval ago.
    pub async fn frame(&self) -> Result<Arc<ScreenImage>, SourceError> {
        Ok(self.fresh().await?.frame)
    }

    /// Like [`ScreenHub::frame`], with its sequence number. Someone wants the whole
    /// screen now: a stale frame is captured again promptly (once; see `Backoff::hurry`).
    pub(crate) async fn fresh(&self) -> Result<Captured, SourceError> {
        let seen = {
            let mut state = lock(&self.inner.state);
            match &state.latest {
                Some(latest) if latest.at.elapsed() <= self.inner.interval => return Ok(latest.clone()),
                Some(latest) => {
                    let seen = latest.seq;
                    state.backoff.hurry();
                    seen
                }
                None => 0,
            }
        };
        self.inner.poked.notify_waiters();
        self.next_after(seen).await
    }

    /// Keyboard or pointer input reached the guest: the screen is about to change, so
    /// capture at the full rate again (a capture waiting out a backed-off interval
    /// starts one interval after the previous one instead).
    pub fn poke(&self) {
        lock(&self.inner.state).backoff.poke(Instant::now());
        self.inner.poked.notify_waiters();
    }

    /// The first frame with a sequence number above `seen`, starting a capture if none
    /// is running (not before one interval after the previous one started). The
    /// capture runs in its own task, so dropping this future never wastes it.
    pub(crate) async fn next_after(&self, seen: u64) -> Result<Captured, SourceError> {
        let mut waiting_for = None;
        loop {
            let mut done = self.inner.done.subscribe();
            {
                let mut guard = lock(&self.inner.state);
                let state = &mut *guard;
                if let Some(latest) = state.latest.as_ref().filter(|l| l.seq > seen) {
                    return Ok(latest.clone());
                }
                if let (Some(attempt), Some((failed, why))) = (waiting_for, &state.failure)
                    && *failed >= attempt
                {
                    return Err(why.clone());
                }
                if !state.capturing {
                    state.capturing = true;
                    state.attempts += 1;
                    tokio::spawn(capture(Arc::clone(&self.inner), state.attempts));
                }
                waiting_for = Some(state.attempts);
            }
            if done.changed().await.is_err() {
                return Err(SourceError::CaptureTask { name: self.inner.name.clone(), reason: "hub closed".into() });
            }
        }
    }
}

/// One capture: wait for the rate limit, capture on a blocking thread, publish.
async fn capture(inner: Arc<Inner>, attempt: u64) {
    loop {
        let poked = inner.poked.notified();
        tokio::pin!(poked);
        poked.as_mut().enable();
        let not_before = {
            let state = lock(&inner.state);
            state.last_start.map(|t| t + state.backoff.interval())
        };
        let Some(t) = not_before else { break };
        tokio::select! {
            () = tokio::time::sleep_until(t) => break,
            () = poked => {}
        }
    }
    let at = Instant::now();
    let previous = {
        let mut state = lock(&inner.state);
        state.last_start = Some(at);
        state.latest.as_ref().map(|l| Arc::clone(&l.frame))
    };
    let task = Arc::clone(&inner);
    let result = tokio::task::spawn_blocking(move || {
        let frame = lock(&task.source).capture_changed(previous.as_deref())?;
        if let Some(frame) = &frame {
            check_frame(&task.name, frame)?;
        }
        Ok::<_, SourceError>(frame)
    })
    .await
    .unwrap_or_else(|e| Err(SourceError::CaptureTask { name: inner.name.clone(), reason: e.to_string() }));
    let mut state = lock(&inner.state);
    let outcome = result.and_then(|frame| match (&state.latest, frame) {
        (Some(prev), None) => Ok((prev.seq + 1, Arc::clone(&prev.frame), false)),
        (Some(prev), Some(frame)) => Ok((prev.seq + 1, Arc::new(frame), true)),
        // The first frame is no change: nobody saw the screen before it.
        (None, Some(frame)) => Ok((1, Arc::new(frame), false)),
        (None, None) => Err(SourceError::Device(format!("{}: the first capture returned no frame", inner.name))),
    });
    match outcome {
        Ok((seq, frame, changed)) => {
            state.latest = Some(Captured { seq, frame, at });
            state.backoff.captured(changed, Instant::now());
        }
        Err(e) => {
            tracing::warn!("display: {e}");
            state.failure = Some((attempt, e));
        }
    }
    state.capturing = false;
    drop(state);
    inner.done.send_replace(());
}

/// Refuse frames we cannot serve: empty, oversized, or with the wrong pixel count.
fn check_frame(name: &str, frame: &ScreenImage) -> Result<(), SourceError> {
    let (width, height) = (frame.width, frame.height);
    if width == 0 || height == 0 || width > MAX_FRAME_DIMENSION || height > MAX_FRAME_DIMENSION {
        return Err(SourceError::FrameDimensions { name: name.to_owned(), width, height, max: MAX_FRAME_DIMENSION });
    }
    let expected = usize::from(width) * usize::from(height);
    if frame.pixels.len() != expected {
        return Err(SourceError::FrameSize {
            name: name.to_owned(),
            width,
            height,
            pixels: frame.pixels.len(),
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting(Arc<AtomicU32>, ScreenImage);

    impl ScreenSource for Counting {
        fn name(&self) -> String {
            "counting".into()
        }
        fn capture(&mut self) -> Result<ScreenImage, SourceError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(self.1.clone())
        }
    }

    #[tokio::test]
    async fn captures_on_demand_rate_limited_and_shared() {
        let count = Arc::new(AtomicU32::new(0));
        let hub = ScreenHub::new(Box::new(Counting(Arc::clone(&count), ScreenImage::filled(4, 4, 7))), 20);
        assert_eq!(count.load(Ordering::SeqCst), 0, "no capture before anyone asks");
        let first = hub.next_after(0).await.unwrap();
        assert_eq!(first.seq, 1);
        // A fresh frame is shared, not re-captured.
        assert_eq!(hub.fresh().await.unwrap().seq, 1);
        // Input: the full rate.
        hub.poke();
        let started = Instant::now();
        let (a, b) = tokio::join!(hub.next_after(1), hub.next_after(1));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.seq, b.seq), (2, 2), "two waiters share one capture");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(40), "rate limited to 20 fps: {waited:?}");
        assert!(waited < MAX_IDLE_INTERVAL, "input brought the full rate back: {waited:?}");
        assert!(Arc::ptr_eq(&first.frame, &a.frame), "an identical capture keeps its Arc");
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_new_hub_and_a_full_screen_request_capture_once_not_at_the_full_rate() {
        let count = Arc::new(AtomicU32::new(0));
        let hub = ScreenHub::new(Box::new(Counting(Arc::clone(&count), ScreenImage::filled(4, 4, 7))), 50);
        // A client connects (its first frame) and waits for a change for a second.
        let first = hub.fresh().await.unwrap();
        let t0 = Instant::now();
        let mut seen = first.seq;
        while t0.elapsed() < Duration::from_secs(1) {
            seen = hub.next_after(seen).await.unwrap().seq;
        }
        let captures = count.load(Ordering::SeqCst);
        // Backed off from the start: the first capture, then one every half second;
        // at the full rate it would be 50.
        assert!((2..=4).contains(&captures), "{captures} captures of a still screen in its first second");
        // A stale frame and a full-screen request: one prompt capture...
        tokio::time::sleep(Duration::from_millis(100)).await;
        let asked = Instant::now();
        let fresh = hub.fresh().await.unwrap();
        assert!(fresh.seq > seen && asked.elapsed() < Duration::from_millis(200), "{:?}", asked.elapsed());
        // ...and the rate stays backed off.
        assert_eq!(lock(&hub.inner.state).backoff.interval(), MAX_IDLE_INTERVAL);
    }

    #[test]
    fn the_interval_backs_off_on_a_still_screen_and_snaps_back() {
        let base = Duration::from_millis(33);
        let t0 = Instant::now();
        let mut b = Backoff::new(base);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Nothing changed yet: backed off.
        assert_eq!(b.interval(), MAX_IDLE_INTERVAL);
        b.captured(false, at(0));
        assert_eq!(b.interval(), MAX_IDLE_INTERVAL);
        // A full-screen request: the next capture at the base interval, once.
        b.hurry();
        assert_eq!(b.interval(), base);
        b.captured(false, at(40));
        assert_eq!(b.interval(), MAX_IDLE_INTERVAL);
        // A change: the full rate.
        b.captured(true, at(100));
        assert_eq!(b.interval(), base);
        // Unchanged captures within IDLE_AFTER of the last change: full rate.
        b.captured(false, at(400));
        assert_eq!(b.interval(), base);
        // Still for longer: doubling per unchanged capture, up to the maximum.
        let mut seen = Vec::new();
        for ms in [1000, 1100, 1300, 1700, 2300, 2900, 3500] {
            b.captured(false, at(ms));
            seen.push(b.interval());
        }
        assert_eq!(seen[..4], [base * 2, base * 4, base * 8, MAX_IDLE_INTERVAL]);
        assert!(seen.iter().all(|&i| i <= MAX_IDLE_INTERVAL));
        // A change: full rate at once, and for IDLE_AFTER after it.
        b.captured(true, at(4000));
        assert_eq!(b.interval(), base);
        b.captured(false, at(4300));
        assert_eq!(b.interval(), base);
        // Input: the same.
        b.captured(false, at(5000));
        assert!(b.interval() > base);
        b.poke(at(5100));
        assert_eq!(b.interval(), base);
        // A hub slower than the maximum keeps its own interval.
        let mut slow = Backoff::new(Duration::from_secs(1));
        slow.captured(false, at(2000));
        assert_eq!(slow.interval(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_still_screen_is_captured_less_often_and_a_poke_restores_the_rate() {
        let count = Arc::new(AtomicU32::new(0));
        let hub = ScreenHub::new(Box::new(Counting(Arc::clone(&count), ScreenImage::filled(4, 4, 7))), 50);
        // Keep one request waiting for a change, as an idle client does, for 2.5 s.
        let mut seen = hub.next_after(0).await.unwrap().seq;
        let end = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < end {
            seen = hub.next_after(seen).await.unwrap().seq;
        }
        let captures = count.load(Ordering::SeqCst);
        // 50 a second would be 125; backed off after half a second: about 30.
        assert!(captures < 60, "{captures} captures of a still screen in 2.5 s");
        assert_eq!(lock(&hub.inner.state).backoff.interval(), MAX_IDLE_INTERVAL);
        hub.poke();
        assert_eq!(lock(&hub.inner.state).backoff.interval(), Duration::from_millis(20));
    }

    #[tokio::test]
    async fn bad_frames_are_refused() {
        let count = Arc::new(AtomicU32::new(0));
        let bad = ScreenImage { width: 2, height: 2, pixels: vec![0; 3] };
        let hub = ScreenHub::new(Box::new(Counting(Arc::clone(&count), bad)), 30);
        let err = hub.next_after(0).await.unwrap_err();
        assert!(matches!(err, SourceError::FrameSize { pixels: 3, expected: 4, .. }), "{err}");
        let empty = ScreenHub::new(Box::new(Counting(count, ScreenImage::filled(0, 5, 0))), 30);
        assert!(matches!(empty.frame().await, Err(SourceError::FrameDimensions { .. })));
    }
}
