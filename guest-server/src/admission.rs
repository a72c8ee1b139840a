//! Who gets a connection slot, so that peers without an authorized key cannot lock an
//! administrator out (sshd's MaxStartups and LoginGraceTime are the model; its weakness,
//! that a peer holding every unauthenticated slot refuses everyone else, is what the
//! eviction below answers).
//!
//! ```text
//! accept ─► Startups: a slot in the handshake table (never refused)
//!              │  full (in total, or for this address)? evict the oldest connection
//!              │  that has sent nothing yet, of the address holding the most
//!              │  (else its oldest still in the handshake)
//!              ▼  first byte within FIRST_BYTE_TIMEOUT, TLS done within TLS_HANDSHAKE_TIMEOUT
//! TLS done ─► authorized key:   a permit of max_connections (only such peers hold these)
//!          └► no authorized key (allow_unauthenticated_console only):
//!                               Quota max_unauthenticated, per address and in total
//! ```
//!
//! Holding sockets open gets an attacker nothing: a newcomer always gets a slot, and the
//! slot it takes is the one that has waited longest without sending a byte. A real
//! client sends its ClientHello at once and finishes in milliseconds, so to push it out
//! an attacker must open more connections than the table holds within those
//! milliseconds. The tables are plain data behind a mutex (no IO, no clock reads):
//! the server registers each connection's task so an evicted one can be aborted.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::AbortHandle;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How far a connection in the handshake table has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Accepted; nothing received yet.
    Idle,
    /// The peer has sent something: the TLS handshake runs.
    Handshaking,
}

#[derive(Debug)]
struct Entry {
    source: IpAddr,
    stage: Stage,
    task: Option<AbortHandle>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Ids per address; ids grow with arrival, so each set is in arrival order.
    by_source: HashMap<IpAddr, BTreeSet<u64>>,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(ids) = self.by_source.get_mut(&entry.source) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_source.remove(&entry.source);
            }
        }
        Some(entry)
    }

    /// The connection of `source` to evict: its oldest idle one, else its oldest.
    fn victim_of(&self, source: IpAddr) -> Option<u64> {
        let ids = self.by_source.get(&source)?;
        ids.iter()
            .copied()
            .find(|id| self.entries.get(id).is_some_and(|e| e.stage == Stage::Idle))
            .or_else(|| ids.first().copied())
    }

    /// The address holding the most connections (ties: any).
    fn heaviest(&self) -> Option<IpAddr> {
        self.by_source.iter().max_by_key(|(_, ids)| ids.len()).map(|(source, _)| *source)
    }
}

/// Connections accepted whose TLS handshake has not finished.
#[derive(Debug)]
pub struct Startups {
    table: Mutex<Table>,
    max_total: usize,
    max_per_source: usize,
}

/// What [`Startups::admit`] decided.
#[derive(Debug)]
pub struct Admitted {
    /// The new connection's slot; dropping it frees the slot.
    pub ticket: StartupTicket,
    /// The task of a connection evicted to make room: abort it (outside any lock).
    pub evicted: Option<AbortHandle>,
}

impl Startups {
    /// A table of at most `max_total` connections, `max_per_source` from one address.
    pub fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::default(),
            max_total: max_total.max(1),
            max_per_source: max_per_source.clamp(1, max_total.max(1)),
        })
    }

    /// Give a newly accepted connection from `source` a slot, evicting another if the
    /// table is full for that address or in total. Never refuses.
    pub fn admit(self: &Arc<Self>, source: IpAddr) -> Admitted {
        let mut table = lock(&self.table);
        let held = table.by_source.get(&source).map_or(0, BTreeSet::len);
        let victim = if held >= self.max_per_source {
            table.victim_of(source)
        } else if table.entries.len() >= self.max_total {
            table.heaviest().and_then(|s| table.victim_of(s))
        } else {
            None
        };
        let evicted = victim.and_then(|id| table.remove(id)).and_then(|e| e.task);
        let id = table.next_id;
        table.next_id += 1;
        table.entries.insert(id, Entry { source, stage: Stage::Idle, task: None });
        table.by_source.entry(source).or_default().insert(id);
        Admitted { ticket: StartupTicket { id, startups: Arc::clone(self) }, evicted }
    }

    /// For an accept that failed for want of file descriptors: evict one connection
    /// (as a full table would) so the next accept can succeed. `None` if none is held.
    pub fn evict_one(&self) -> Option<AbortHandle> {
        let mut table = lock(&self.table);
        let victim = table.heaviest().and_then(|s| table.victim_of(s))?;
        table.remove(victim).and_then(|e| e.task)
    }

    /// Connections in the table now (for tests and monitoring).
    pub fn len(&self) -> usize {
        lock(&self.table).entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection's slot in [`Startups`]; freed when dropped.
#[derive(Debug)]
pub struct StartupTicket {
    id: u64,
    startups: Arc<Startups>,
}

impl StartupTicket {
    /// Register the connection's task, so an eviction can abort it.
    pub fn set_task(&self, task: AbortHandle) {
        if let Some(entry) = lock(&self.startups.table).entries.get_mut(&self.id) {
            entry.task = Some(task);
        }
    }

    /// The peer has sent its first bytes: it is evicted only after every idle one.
    pub fn handshaking(&self) {
        if let Some(entry) = lock(&self.startups.table).entries.get_mut(&self.id) {
            entry.stage = Stage::Handshaking;
        }
    }
}

impl Drop for StartupTicket {
    fn drop(&mut self) {
        lock(&self.startups.table).remove(self.id);
    }
}

/// A count of connections per address with a total and a per-address maximum; a
/// connection over either is refused (not evicted: these are live sessions).
#[derive(Debug)]
pub struct Quota {
    held: Mutex<HashMap<IpAddr, usize>>,
    max_total: usize,
    max_per_source: usize,
}

/// Why [`Quota::take`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaFull {
    /// This address holds its maximum.
    #[error("{max} connections without an authorized key from this address are open already")]
    Source { max: usize },
    /// The server holds its maximum.
    #[error("{max} connections without an authorized key are open already")]
    Total { max: usize },
}

impl Quota {
    /// At most `max_total` at once, `max_per_source` from one address.
    pub fn new(max_total: usize, max_per_source: usize) -> Arc<Self> {
        Arc::new(Self { held: Mutex::default(), max_total, max_per_source: max_per_source.min(max_total) })
    }

    /// A place for one more connection from `source`.
    pub fn take(self: &Arc<Self>, source: IpAddr) -> Result<QuotaTicket, QuotaFull> {
        let mut held = lock(&self.held);
        if held.get(&source).copied().unwrap_or(0) >= self.max_per_source {
            return Err(QuotaFull::Source { max: self.max_per_source });
        }
        if held.values().sum::<usize>() >= self.max_total {
            return Err(QuotaFull::Total { max: self.max_total });
        }
        *held.entry(source).or_default() += 1;
        Ok(QuotaTicket { source, quota: Arc::clone(self) })
    }
}

/// A place in a [`Quota`]; given back when dropped.
#[derive(Debug)]
pub struct QuotaTicket {
    source: IpAddr,
    quota: Arc<Quota>,
}

impl Drop for QuotaTicket {
    fn drop(&mut self) {
        let mut held = lock(&self.quota.held);
        if let Some(n) = held.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    /// Admit and register a task whose abort we can observe.
    fn admit(startups: &Arc<Startups>, rt: &tokio::runtime::Runtime, source: IpAddr) -> (Admitted, AbortHandle) {
        let admitted = startups.admit(source);
        let task = rt.spawn(std::future::pending::<()>()).abort_handle();
        admitted.ticket.set_task(task.clone());
        (admitted, task)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    }

    #[test]
    fn a_full_address_evicts_its_oldest_idle_connection_not_the_ones_handshaking() {
        let rt = rt();
        let s = Startups::new(100, 3);
        let (a, _) = admit(&s, &rt, ip(1));
        let (b, task_b) = admit(&s, &rt, ip(1));
        let (c, _) = admit(&s, &rt, ip(1));
        a.ticket.handshaking();
        let (d, _) = admit(&s, &rt, ip(1));
        assert!(d.evicted.as_ref().is_some_and(|t| t.id() == task_b.id()), "b: the oldest idle one");
        assert_eq!(s.len(), 3);
        c.ticket.handshaking();
        d.ticket.handshaking();
        // Nothing idle left: the oldest in the handshake goes.
        let (e, _) = admit(&s, &rt, ip(1));
        assert!(e.evicted.is_some());
        assert_eq!(s.len(), 3);
        drop(b); // its slot is gone already: dropping the ticket changes nothing
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn a_full_table_evicts_from_the_address_holding_the_most() {
        let rt = rt();
        let s = Startups::new(4, 4);
        let (_quiet, quiet_task) = admit(&s, &rt, ip(1));
        let mut noisy = Vec::new();
        for _ in 0..3 {
            noisy.push(admit(&s, &rt, ip(2)));
        }
        let (newcomer, _) = admit(&s, &rt, ip(3));
        let evicted = newcomer.evicted.expect("the table was full");
        assert_ne!(evicted.id(), quiet_task.id());
        assert_eq!(evicted.id(), noisy[0].1.id(), "the noisy address's oldest");
    }

    #[test]
    fn a_newcomer_survives_a_storm_smaller_than_the_table() {
        // Idle sockets held and reopened as fast as they are evicted: the newest slots
        // are the last to go, and one that has sent bytes outlives every idle one.
        let rt = rt();
        let s = Startups::new(64, 64);
        let mut held: Vec<(Admitted, AbortHandle)> = (0..64).map(|_| admit(&s, &rt, ip(9))).collect();
        let (client, client_task) = admit(&s, &rt, ip(9));
        client.ticket.handshaking();
        for _ in 0..10_000 {
            let (a, _) = admit(&s, &rt, ip(9));
            assert_ne!(a.evicted.as_ref().map(AbortHandle::id), Some(client_task.id()));
            held.push((a, client_task.clone()));
            if held.len() > 128 {
                held.drain(..64);
            }
        }
        assert!(s.len() <= 64);
    }

    #[test]
    fn every_ticket_frees_its_slot() {
        let s = Startups::new(8, 8);
        let tickets: Vec<_> = (0..8).map(|i| s.admit(ip(i)).ticket).collect();
        assert_eq!(s.len(), 8);
        drop(tickets);
        assert!(s.is_empty());
        assert!(s.evict_one().is_none());
    }

    #[test]
    fn a_quota_refuses_past_its_limits_and_gives_back_on_drop() {
        let q = Quota::new(3, 2);
        let a1 = q.take(ip(1)).unwrap();
        let _a2 = q.take(ip(1)).unwrap();
        assert_eq!(q.take(ip(1)).unwrap_err(), QuotaFull::Source { max: 2 });
        let _b1 = q.take(ip(2)).unwrap();
        assert_eq!(q.take(ip(3)).unwrap_err(), QuotaFull::Total { max: 3 });
        drop(a1);
        assert!(q.take(ip(3)).is_ok());
    }
}
