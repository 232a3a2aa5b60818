//! The sans-I/O impairment core: told `(now, packet)`, it answers with the deliveries the
//! packet causes. The simulator drives it with a virtual clock, the live relay with tokio
//! timers; the logic is the same.
//!
//! Per packet, in order: schedule → loss → rate queue → delay (or reorder's skip) → FIFO clamp
//! when reordering is off → duplicate → corrupt. Each step draws from its own seeded stream.

use std::time::Duration;

use serde::Serialize;

use crate::delay_model::DelayModel;
use crate::loss_model::LossProcess;
use crate::profile::{Conditions, DirectionSpec, Rate};
use crate::rate_queue::RateQueue;
use crate::reorder::ReorderGate;
use crate::rng::{Stream, StreamId};
use crate::schedule::Schedule;
use crate::time::{Timestamp, millis_f64};

/// What the core needs to know about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// On-the-wire size in bytes (what a rate limit counts).
    pub size: u32,
}

/// A bit to flip in a delivered copy (netem `corrupt` flips one random bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Corruption {
    /// Bit index from the start of the packet, below `8 × size`.
    pub bit: u32,
}

/// One delivered copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub at: Timestamp,
    pub corruption: Option<Corruption>,
}

/// Why a packet was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropCause {
    /// The loss model (random, Gilbert-Elliott, 4-state, trace).
    Loss,
    /// A scheduled blackout.
    Blackout,
    /// The rate limiter's queue was full.
    QueueOverflow,
}

/// The fate of one packet: dropped, or delivered once, or delivered with a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Dropped(DropCause),
    Delivered { first: Delivery, duplicate: Option<Delivery> },
}

impl Outcome {
    /// All copies, in delivery order.
    pub fn deliveries(&self) -> impl Iterator<Item = Delivery> {
        let (a, b) = match *self {
            Outcome::Dropped(_) => (None, None),
            Outcome::Delivered { first, duplicate } => (Some(first), duplicate),
        };
        a.into_iter().chain(b)
    }
}

/// Which direction an impairment serves; also labels its random streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client → agent.
    Uplink,
    /// Agent → client.
    Downlink,
}

impl Direction {
    fn label(self) -> u64 {
        match self {
            Direction::Uplink => 1,
            Direction::Downlink => 2,
        }
    }
}

/// Runtime state of one set of conditions (the base, or one schedule segment's overrides).
#[derive(Debug, Clone)]
struct Stage {
    loss: Option<LossProcess>,
    delay: Option<DelayModel>,
    /// For segments: an override; for the base: the configured rate limit, if any.
    rate: Option<Rate>,
}

impl Stage {
    fn base(c: &Conditions) -> Stage {
        let loss = LossProcess::new(&c.loss);
        Stage {
            loss: loss.is_active().then_some(loss),
            delay: (!c.delay.is_zero()).then(|| DelayModel::new(&c.delay)),
            rate: c.rate,
        }
    }
}

/// The impairment of one direction.
#[derive(Debug, Clone)]
pub struct Impairment {
    base: Stage,
    segments: Vec<Stage>,
    schedule: Schedule,
    queue: RateQueue,
    reorder: Option<ReorderGate>,
    duplicate: f64,
    corrupt: f64,
    last_delivery: Timestamp,
    loss_rng: Stream,
    delay_rng: Stream,
    reorder_rng: Stream,
    duplicate_rng: Stream,
    corrupt_rng: Stream,
}

impl Impairment {
    pub fn new(spec: &DirectionSpec, seed: u64, direction: Direction) -> Impairment {
        let label = direction.label();
        let segments = spec
            .schedule
            .iter()
            .map(|s| Stage {
                loss: s.loss.as_ref().map(LossProcess::new),
                delay: s.delay.as_ref().map(DelayModel::new),
                rate: s.rate,
            })
            .collect();
        Impairment {
            base: Stage::base(&spec.base),
            segments,
            schedule: Schedule::new(spec),
            queue: RateQueue::default(),
            reorder: spec.base.reorder.filter(|r| r.percent.value() > 0.0).as_ref().map(ReorderGate::new),
            duplicate: spec.base.duplicate_percent.fraction(),
            corrupt: spec.base.corrupt_percent.fraction(),
            last_delivery: Timestamp::ZERO,
            loss_rng: Stream::new(seed, label, StreamId::Loss),
            delay_rng: Stream::new(seed, label, StreamId::Delay),
            reorder_rng: Stream::new(seed, label, StreamId::Reorder),
            duplicate_rng: Stream::new(seed, label, StreamId::Duplicate),
            corrupt_rng: Stream::new(seed, label, StreamId::Corrupt),
        }
    }

    /// Decides the fate of a packet sent at `now`. Calls must come in non-decreasing `now`.
    pub fn on_packet(&mut self, now: Timestamp, meta: PacketMeta) -> Outcome {
        let seg = self.schedule.active(now);

        // Loss: a segment's loss model replaces the base one while the segment is active.
        let loss = match seg.map(|i| &mut self.segments[i]) {
            Some(Stage { loss: Some(l), .. }) => Some(l),
            _ => self.base.loss.as_mut(),
        };
        if let Some(l) = loss
            && l.lose(&mut self.loss_rng)
        {
            let cause = if matches!(l, LossProcess::Blackout) { DropCause::Blackout } else { DropCause::Loss };
            return Outcome::Dropped(cause);
        }

        // Rate limit: the innermost configured rate (segment, then base) applies.
        let rate = seg.and_then(|i| self.segments[i].rate).or(self.base.rate);
        let mut leave = now;
        match rate {
            Some(r) => match self.queue.offer(&r, now, meta.size) {
                Some(sojourn) => leave = now + sojourn,
                None => return Outcome::Dropped(DropCause::QueueOverflow),
            },
            None => self.queue.reset(now),
        }

        // Delay, or netem's reorder: skip the delay and overtake what is in flight.
        let send_now = self.reorder.as_mut().is_some_and(|g| g.send_now(&mut self.reorder_rng));
        let delay = if send_now {
            Duration::ZERO
        } else {
            let model = match seg.map(|i| &mut self.segments[i]) {
                Some(Stage { delay: Some(d), .. }) => Some(d),
                _ => self.base.delay.as_mut(),
            };
            model.map_or(Duration::ZERO, |m| millis_f64(m.next_ms(&mut self.delay_rng)))
        };
        let mut at = leave + delay;
        if self.reorder.is_none() {
            // Without reordering the path is FIFO: a packet cannot overtake the one before it.
            at = at.max(self.last_delivery);
        }
        self.last_delivery = self.last_delivery.max(at);

        let first = Delivery { at, corruption: self.corruption(meta) };
        let duplicate =
            self.duplicate_rng.chance(self.duplicate).then(|| Delivery { at, corruption: self.corruption(meta) });
        Outcome::Delivered { first, duplicate }
    }

    fn corruption(&mut self, meta: PacketMeta) -> Option<Corruption> {
        (meta.size > 0 && self.corrupt_rng.chance(self.corrupt))
            .then(|| Corruption { bit: self.corrupt_rng.below(meta.size as u64 * 8) as u32 })
    }
}
