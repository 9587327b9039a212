//! The limiter every request takes a slot from: a priority queue (so the
//! requests that unlock the most work go first) whose size adapts to the
//! server (AIMD), and the per-stream figures of a run.
//!
//! - **Priorities.** A caller tags its work with [`tagged`] (a stream name
//!   and a priority) or changes the priority of part of it with
//!   [`with_priority`]; the tag is a tokio task-local, so every request
//!   made inside carries it without threading it through the API layers.
//!   Waiting requests get slots highest priority first, then first come
//!   first served.
//! - **Adaptive concurrency.** The limit starts at the configured
//!   concurrency. A 429 (or a 503, Tableau's other "slow down") halves it,
//!   at most once per round of requests (a throttled request that was sent
//!   before the last cut says nothing new), down to 1. Each round of
//!   `limit` requests answered without throttling raises it by one, up to
//!   the ceiling (`max_concurrency`, by default the configured
//!   concurrency). Above the configured concurrency, a mean latency more
//!   than twice the one measured at or below it takes a slot back: the
//!   server is no longer keeping up.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// What a piece of work is, for the limiter and the figures.
#[derive(Clone, Debug)]
pub struct Tag {
    pub stream: Arc<str>,
    pub priority: i32,
}

tokio::task_local! {
    static TAG: Tag;
}

/// Runs `f` with its requests counted under `stream` and queued at
/// `priority` (higher goes first).
pub async fn tagged<F: Future>(stream: &str, priority: i32, f: F) -> F::Output {
    TAG.scope(
        Tag {
            stream: Arc::from(stream),
            priority,
        },
        f,
    )
    .await
}

/// Runs `f` with the current stream's requests at `priority`.
pub async fn with_priority<F: Future>(priority: i32, f: F) -> F::Output {
    let stream = current().map(|t| t.stream).unwrap_or_else(|| Arc::from(""));
    TAG.scope(Tag { stream, priority }, f).await
}

/// The tag of the work running now, if any.
pub fn current() -> Option<Tag> {
    TAG.try_with(Tag::clone).ok()
}

/// The current priority (0 outside any tag).
pub fn priority() -> i32 {
    current().map_or(0, |t| t.priority)
}

struct Waiter {
    priority: i32,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, o: &Self) -> bool {
        self.priority == o.priority && self.seq == o.seq
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Waiter {
    fn cmp(&self, o: &Self) -> CmpOrdering {
        self.priority.cmp(&o.priority).then(o.seq.cmp(&self.seq))
    }
}

/// Per-stream counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamFigures {
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    /// Time its requests waited: for a slot, and before retries.
    pub wait: Duration,
    /// Time with at least one of its requests in flight.
    pub busy: Duration,
    in_flight: u32,
    busy_since: Option<Instant>,
}

/// How the limit moved over a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcurrencyReport {
    pub start: usize,
    pub ceiling: usize,
    pub min: usize,
    pub max: usize,
    pub last: usize,
    /// Requests in flight on average while any was.
    pub mean_in_flight: f64,
    pub decreases: u64,
    pub increases: u64,
}

struct State {
    limit: usize,
    in_flight: usize,
    waiters: BinaryHeap<Waiter>,
    seq: u64,
    /// Good answers since the last change of the limit.
    good: usize,
    last_cut: Instant,
    /// Mean latency (EWMA, seconds) at or below the start, and overall.
    base_latency: Option<f64>,
    latency: Option<f64>,
    min: usize,
    max: usize,
    decreases: u64,
    increases: u64,
    /// ∫ in_flight dt and the time with anything in flight, for the mean.
    area: f64,
    active: f64,
    since: Instant,
    streams: HashMap<Arc<str>, StreamFigures>,
}

pub struct Limiter {
    start: usize,
    ceiling: usize,
    state: Mutex<State>,
}

/// A held slot; dropping it frees the slot.
pub struct Slot<'a> {
    limiter: &'a Limiter,
    stream: Option<Arc<str>>,
    pub sent: Instant,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.stream.take());
    }
}

/// A grant racing a cancelled wait: the slot goes back.
struct Pending<'a> {
    limiter: &'a Limiter,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.limiter.release(None);
            }
        }
    }
}

const EWMA: f64 = 0.1;

impl Limiter {
    pub fn new(start: usize, ceiling: usize) -> Limiter {
        let start = start.max(1);
        let ceiling = ceiling.max(start);
        let now = Instant::now();
        Limiter {
            start,
            ceiling,
            state: Mutex::new(State {
                limit: start,
                in_flight: 0,
                waiters: BinaryHeap::new(),
                seq: 0,
                good: 0,
                last_cut: now,
                base_latency: None,
                latency: None,
                min: start,
                max: start,
                decreases: 0,
                increases: 0,
                area: 0.0,
                active: 0.0,
                since: now,
                streams: HashMap::new(),
            }),
        }
    }

    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot at the current task's priority; counts the wait
    /// and the request against the current stream.
    pub async fn acquire(&self) -> Slot<'_> {
        let priority = current().map_or(0, |t| t.priority);
        self.acquire_at(priority).await
    }

    /// [`Limiter::acquire`] ahead of every waiter of any priority (waiters
    /// equally ahead keep their order).
    pub async fn acquire_ahead(&self) -> Slot<'_> {
        self.acquire_at(i32::MAX).await
    }

    async fn acquire_at(&self, priority: i32) -> Slot<'_> {
        let tag = current();
        let asked = Instant::now();
        let rx = {
            let mut s = self.lock();
            if s.in_flight < s.limit && s.waiters.is_empty() {
                s.tick();
                s.in_flight += 1;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                s.seq += 1;
                let seq = s.seq;
                s.waiters.push(Waiter { priority, seq, tx });
                Some(rx)
            }
        };
        if let Some(rx) = rx {
            let mut pending = Pending {
                limiter: self,
                rx: Some(rx),
            };
            let granted = pending.rx.as_mut().expect("set above").await;
            pending.rx = None;
            // The sender is only dropped unsent by `grant`'s failed sends,
            // which never happens to a waiter still in the heap.
            debug_assert!(granted.is_ok());
        }
        let sent = Instant::now();
        let stream = tag.map(|t| t.stream);
        if let Some(name) = &stream {
            let mut s = self.lock();
            let f = s.streams.entry(name.clone()).or_default();
            f.requests += 1;
            f.wait += sent - asked;
            if f.in_flight == 0 {
                f.busy_since = Some(sent);
            }
            f.in_flight += 1;
        }
        Slot {
            limiter: self,
            stream,
            sent,
        }
    }

    fn release(&self, stream: Option<Arc<str>>) {
        let mut s = self.lock();
        if let Some(name) = stream {
            if let Some(f) = s.streams.get_mut(&name) {
                f.in_flight = f.in_flight.saturating_sub(1);
                if f.in_flight == 0 {
                    if let Some(t) = f.busy_since.take() {
                        f.busy += t.elapsed();
                    }
                }
            }
        }
        s.tick();
        s.in_flight -= 1;
        s.grant();
    }

    /// What an answer says about the server: throttled (429/503) or not,
    /// and how long it took.
    pub fn observe(&self, slot_sent: Instant, throttled: bool, latency: Duration) {
        let mut s = self.lock();
        let now = Instant::now();
        if throttled {
            if let Some(name) = current().map(|t| t.stream) {
                s.streams.entry(name).or_default().throttled += 1;
            }
            // Sent before the last cut: that cut already answered it.
            if slot_sent >= s.last_cut {
                let cut = (s.limit / 2).max(1);
                if cut < s.limit {
                    tracing::debug!(
                        from = s.limit,
                        to = cut,
                        "throttled: fewer requests in flight"
                    );
                    s.limit = cut;
                    s.decreases += 1;
                    s.min = s.min.min(cut);
                }
                s.last_cut = now;
                s.good = 0;
            }
            return;
        }
        let secs = latency.as_secs_f64();
        let ewma = |old: Option<f64>| Some(old.map_or(secs, |m| m + EWMA * (secs - m)));
        s.latency = ewma(s.latency);
        if s.limit <= self.start {
            s.base_latency = ewma(s.base_latency);
        } else if let (Some(base), Some(now_mean)) = (s.base_latency, s.latency) {
            if now_mean > 2.0 * base && slot_sent >= s.last_cut {
                s.limit -= 1;
                s.decreases += 1;
                s.last_cut = now;
                s.good = 0;
                tracing::debug!(to = s.limit, "latency rising: one request fewer in flight");
                return;
            }
        }
        s.good += 1;
        if s.good >= s.limit && s.limit < self.ceiling {
            s.limit += 1;
            s.good = 0;
            s.increases += 1;
            s.max = s.max.max(s.limit);
            s.grant();
        }
    }

    /// Counts a retry (and its wait) against the current stream.
    pub fn retried(&self, wait: Duration) {
        if let Some(name) = current().map(|t| t.stream) {
            let mut s = self.lock();
            let f = s.streams.entry(name).or_default();
            f.retries += 1;
            f.wait += wait;
        }
    }

    pub fn report(&self) -> ConcurrencyReport {
        let mut s = self.lock();
        s.tick();
        ConcurrencyReport {
            start: self.start,
            ceiling: self.ceiling,
            min: s.min,
            max: s.max,
            last: s.limit,
            mean_in_flight: if s.active > 0.0 {
                s.area / s.active
            } else {
                0.0
            },
            decreases: s.decreases,
            increases: s.increases,
        }
    }

    /// Every stream's figures so far, by name.
    pub fn streams(&self) -> Vec<(String, StreamFigures)> {
        let s = self.lock();
        let mut out: Vec<(String, StreamFigures)> = s
            .streams
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl State {
    /// Hands free slots to the waiters, highest priority first.
    fn grant(&mut self) {
        while self.in_flight < self.limit {
            let Some(w) = self.waiters.pop() else { break };
            self.tick();
            self.in_flight += 1;
            if w.tx.send(()).is_err() {
                // Its wait was cancelled: the slot is still free.
                self.in_flight -= 1;
            }
        }
    }

    /// Accounts the time since the last change of `in_flight`.
    fn tick(&mut self) {
        let now = Instant::now();
        let dt = (now - self.since).as_secs_f64();
        if self.in_flight > 0 {
            self.area += dt * self.in_flight as f64;
            self.active += dt;
        }
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_go_by_priority_then_arrival() {
        let l = Arc::new(Limiter::new(1, 1));
        let first = l.acquire().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, p) in [("low", 0), ("high", 10), ("mid", 5), ("high2", 10), ("retry", 0), ("retry2", 0)] {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(tagged(name, p, async move {
                let _slot = if name.starts_with("retry") { l.acquire_ahead().await } else { l.acquire().await };
                order.lock().unwrap().push(name);
            })));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec!["retry", "retry2", "high", "high2", "mid", "low"]);
        assert_eq!(l.streams().iter().map(|(_, f)| f.requests).sum::<u64>(), 6);
    }

    #[tokio::test]
    async fn throttling_halves_once_per_round_and_good_rounds_climb_back() {
        let l = Limiter::new(8, 8);
        let before = Instant::now();
        l.observe(Instant::now(), true, Duration::ZERO);
        assert_eq!(l.limit(), 4);
        // Sent before that cut: no second halving.
        l.observe(before, true, Duration::ZERO);
        assert_eq!(l.limit(), 4);
        l.observe(Instant::now(), true, Duration::ZERO);
        assert_eq!(l.limit(), 2);
        for _ in 0..2 {
            l.observe(Instant::now(), false, Duration::from_millis(10));
        }
        assert_eq!(l.limit(), 3);
        for _ in 0..(3 + 4 + 5 + 6 + 7 + 100) {
            l.observe(Instant::now(), false, Duration::from_millis(10));
        }
        assert_eq!(l.limit(), 8, "never above the ceiling");
        let r = l.report();
        assert_eq!((r.min, r.max, r.decreases), (2, 8, 2));
    }

    #[tokio::test]
    async fn above_the_start_rising_latency_gives_a_slot_back() {
        let l = Limiter::new(2, 6);
        for _ in 0..50 {
            l.observe(Instant::now(), false, Duration::from_millis(100));
        }
        let raised = l.limit();
        assert!(raised > 2, "raised while the server keeps up: {raised}");
        for _ in 0..5 {
            l.observe(Instant::now(), false, Duration::from_millis(1000));
        }
        assert!(l.limit() < raised, "{} >= {raised}", l.limit());
        assert!(l.limit() >= 2, "never below the start for latency alone");
        assert!(l.report().decreases > 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_gives_its_slot_back() {
        let l = Limiter::new(1, 1);
        let held = l.acquire().await;
        {
            let waiting = l.acquire();
            futures::pin_mut!(waiting);
            assert!(futures::poll!(waiting.as_mut()).is_pending());
        }
        drop(held);
        let _again = tokio::time::timeout(Duration::from_secs(1), l.acquire())
            .await
            .expect("the slot came back");
    }
}
