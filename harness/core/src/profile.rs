//! Impairment profiles: the TOML files in `netem-profiles/`, parsed into validated types.
//!
//! The vocabulary follows tc-netem (`delay T JITTER CORR distribution D`, `loss random P CORR`,
//! `loss gemodel p r 1-h 1-k`, `loss state p13 p31 p32 p23 p14`, `reorder P CORR gap G`,
//! `duplicate P`, `corrupt P`, `rate R` with a drop-tail `limit`), so people who know netem can
//! read a profile without a manual. Values are validated while deserialising, so an error
//! carries the file, line and field that was wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::nat::NatType;
use crate::time::millis_f64;

/// A percentage in [0, 100], as netem writes probabilities.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Percent(f64);

impl Percent {
    pub const ZERO: Percent = Percent(0.0);
    pub const HUNDRED: Percent = Percent(100.0);

    pub fn new(p: f64) -> Result<Self, String> {
        if p.is_finite() && (0.0..=100.0).contains(&p) {
            Ok(Percent(p))
        } else {
            Err(format!("expected a percentage between 0 and 100, got {p}"))
        }
    }

    /// The probability as a fraction in [0, 1].
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Percent {
    type Error = String;
    fn try_from(p: f64) -> Result<Self, String> {
        Percent::new(p)
    }
}

impl From<Percent> for f64 {
    fn from(p: Percent) -> f64 {
        p.0
    }
}

/// A finite, non-negative number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Millis(f64);

impl Millis {
    pub fn new(ms: f64) -> Result<Self, String> {
        if ms.is_finite() && ms >= 0.0 {
            Ok(Millis(ms))
        } else {
            Err(format!("expected a non-negative number of milliseconds, got {ms}"))
        }
    }

    pub fn ms(self) -> f64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        millis_f64(self.0)
    }
}

impl TryFrom<f64> for Millis {
    type Error = String;
    fn try_from(ms: f64) -> Result<Self, String> {
        Millis::new(ms)
    }
}

impl From<Millis> for f64 {
    fn from(m: Millis) -> f64 {
        m.0
    }
}

/// Jitter distribution, as netem's `distribution` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    /// Uniform over `delay ± jitter` (netem's default when no table is named).
    #[default]
    Uniform,
    /// Normal with standard deviation `jitter`.
    Normal,
    /// Standardised Pareto (shape 3): heavy right tail, standard deviation `jitter`.
    Pareto,
    /// (normal + 3 × pareto) / √10, netem's 25/75 mix: standard deviation `jitter`.
    Paretonormal,
}

/// `delay ms [jitter_ms [correlation_percent]] [distribution]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    pub ms: Millis,
    #[serde(default)]
    pub jitter_ms: Millis,
    /// Lag-1 correlation of successive jitter values. Modelled as a Markov chain (keep the
    /// previous value with this probability, otherwise draw afresh), which keeps the configured
    /// distribution exactly; netem's blend shrinks the spread instead.
    #[serde(default)]
    pub correlation_percent: Percent,
    #[serde(default)]
    pub distribution: Distribution,
}

impl Delay {
    pub fn is_zero(&self) -> bool {
        self.ms.ms() == 0.0 && self.jitter_ms.ms() == 0.0
    }
}

/// Packet loss models (`loss random | gemodel | state`, plus traces and blackouts).
///
/// In a profile this is a `loss` table with a `model` key and that model's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Loss {
    /// `loss random P [CORR]`: Bernoulli loss; with correlation, a Markov chain that repeats
    /// the previous decision with probability CORR and keeps the mean at P.
    Random { percent: Percent, correlation_percent: Percent },
    /// `loss gemodel p [r [1-h [1-k]]]`: Gilbert-Elliott. As in netem, a packet is lost with
    /// 1-h in the bad state and 1-k in the good state, then the chain moves (good→bad with p,
    /// bad→good with r). `r_percent` defaults to 100 − p, 1-h to 100, 1-k to 0.
    Gemodel {
        p_percent: Percent,
        r_percent: Option<Percent>,
        one_minus_h_percent: Percent,
        one_minus_k_percent: Percent,
    },
    /// `loss state p13 [p31 [p32 [p23 [p14]]]]`: netem's 4-state Markov model
    /// (1 good, 2 good-in-burst, 3 burst loss, 4 isolated loss); lost in states 3 and 4.
    /// Defaults as netem: p31 = 100 − p13, p32 = 0, p23 = 100, p14 = 0.
    State { p13: Percent, p31: Option<Percent>, p32: Percent, p23: Percent, p14: Percent },
    /// A loss trace replayed cyclically: `1` = lost, `0` = delivered, one character per packet,
    /// given inline as `pattern` or in a `file` next to the profile.
    Trace {
        pattern: Option<String>,
        file: Option<PathBuf>,
        #[serde(skip)]
        drops: Vec<bool>,
    },
    /// Every packet lost (schedule segments with `blackout = true`).
    Blackout,
}

impl Default for Loss {
    fn default() -> Self {
        Loss::Random { percent: Percent::ZERO, correlation_percent: Percent::ZERO }
    }
}

/// Which loss model a `loss` table selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum LossModel {
    Random,
    Gemodel,
    State,
    Trace,
}

/// A `loss` table as written: one flat table, so parse errors keep their line and key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoss {
    model: LossModel,
    percent: Option<Percent>,
    correlation_percent: Option<Percent>,
    p_percent: Option<Percent>,
    r_percent: Option<Percent>,
    one_minus_h_percent: Option<Percent>,
    one_minus_k_percent: Option<Percent>,
    p13: Option<Percent>,
    p31: Option<Percent>,
    p32: Option<Percent>,
    p23: Option<Percent>,
    p14: Option<Percent>,
    pattern: Option<String>,
    file: Option<PathBuf>,
}

impl RawLoss {
    /// Names of the fields present, to reject those that do not belong to the model.
    fn present(&self) -> Vec<&'static str> {
        let fields: [(&str, bool); 13] = [
            ("percent", self.percent.is_some()),
            ("correlation_percent", self.correlation_percent.is_some()),
            ("p_percent", self.p_percent.is_some()),
            ("r_percent", self.r_percent.is_some()),
            ("one_minus_h_percent", self.one_minus_h_percent.is_some()),
            ("one_minus_k_percent", self.one_minus_k_percent.is_some()),
            ("p13", self.p13.is_some()),
            ("p31", self.p31.is_some()),
            ("p32", self.p32.is_some()),
            ("p23", self.p23.is_some()),
            ("p14", self.p14.is_some()),
            ("pattern", self.pattern.is_some()),
            ("file", self.file.is_some()),
        ];
        fields.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect()
    }
}

/// `rate kbit` with a drop-tail queue of `queue_bytes` (tbf's `limit`).
///
/// `cross_traffic_kbit` is a constant fluid background load sharing the same queue: it takes
/// its share of the link and keeps the buffer filled, which is how bufferbloat shows up for a
/// low-rate voice stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub kbit: f64,
    pub queue_bytes: u32,
    #[serde(default)]
    pub cross_traffic_kbit: f64,
}

impl Rate {
    /// Link rate in bytes per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.kbit * 1000.0 / 8.0
    }

    /// Cross-traffic in bytes per second.
    pub fn cross_bytes_per_sec(&self) -> f64 {
        self.cross_traffic_kbit * 1000.0 / 8.0
    }
}

/// `reorder P [CORR] gap G`: once `gap − 1` packets went through normally, each packet is sent
/// without delay with probability P (jumping ahead of those in flight). Needs a delay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reorder {
    pub percent: Percent,
    #[serde(default)]
    pub correlation_percent: Percent,
    #[serde(default = "one")]
    pub gap: u32,
}

fn one() -> u32 {
    1
}

/// Conditions of one direction at one moment.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Conditions {
    pub delay: Delay,
    pub loss: Loss,
    pub rate: Option<Rate>,
    pub reorder: Option<Reorder>,
    pub duplicate_percent: Percent,
    pub corrupt_percent: Percent,
}

/// A window of a call in which some conditions change (blackouts, handover spikes, fades).
/// A segment's delay, loss or rate *replaces* the base one while it is active.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub from_s: f64,
    pub until_s: f64,
    pub delay: Option<Delay>,
    /// `Loss::Blackout` for `blackout = true`.
    pub loss: Option<Loss>,
    pub rate: Option<Rate>,
}

impl Segment {
    pub fn from(&self) -> Duration {
        Duration::from_nanos(libm::round(self.from_s * 1e9) as u64)
    }

    pub fn until(&self) -> Duration {
        Duration::from_nanos(libm::round(self.until_s * 1e9) as u64)
    }
}

/// One direction: base conditions plus an optional schedule of segments.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DirectionSpec {
    pub base: Conditions,
    /// Segments, sorted and non-overlapping, with times relative to the call start (or to the
    /// start of each period when `schedule_period_s` is set).
    pub schedule: Vec<Segment>,
    /// Repeat the schedule with this period, e.g. a handover every 30 s.
    pub schedule_period_s: Option<f64>,
}

impl DirectionSpec {
    pub fn period(&self) -> Option<Duration> {
        self.schedule_period_s.map(|s| Duration::from_nanos(libm::round(s * 1e9) as u64))
    }
}

/// A direction table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirection {
    #[serde(default)]
    delay: Delay,
    loss: Option<toml::Spanned<RawLoss>>,
    rate: Option<toml::Spanned<Rate>>,
    reorder: Option<toml::Spanned<Reorder>>,
    #[serde(default)]
    duplicate_percent: Percent,
    #[serde(default)]
    corrupt_percent: Percent,
    #[serde(default)]
    schedule: Vec<toml::Spanned<RawSegment>>,
    schedule_period_s: Option<toml::Spanned<f64>>,
}

/// A schedule segment as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    from_s: f64,
    until_s: f64,
    #[serde(default)]
    blackout: bool,
    delay: Option<Delay>,
    loss: Option<toml::Spanned<RawLoss>>,
    rate: Option<toml::Spanned<Rate>>,
}

/// Which TURN transport a profile forces (none = direct or server-reflexive paths allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnTransport {
    #[default]
    None,
    Udp,
    Tcp,
    Tls,
}

/// NAT in front of each side and TURN use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatSetup {
    #[serde(default)]
    pub client: NatType,
    #[serde(default)]
    pub agent: NatType,
    #[serde(default)]
    pub turn: TurnTransport,
    /// RFC 4787 REQ-5 asks for at least 2 minutes; many home routers use 30 s for UDP.
    #[serde(default = "default_binding_lifetime_s")]
    pub binding_lifetime_s: f64,
    #[serde(default = "yes")]
    pub port_preservation: bool,
    #[serde(default = "yes")]
    pub hairpinning: bool,
}

fn default_binding_lifetime_s() -> f64 {
    120.0
}

fn yes() -> bool {
    true
}

impl Default for NatSetup {
    fn default() -> Self {
        NatSetup {
            client: NatType::None,
            agent: NatType::None,
            turn: TurnTransport::None,
            binding_lifetime_s: default_binding_lifetime_s(),
            port_preservation: true,
            hairpinning: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    description: String,
    source: String,
    #[serde(default)]
    nat: NatSetup,
    both: Option<toml::Spanned<RawDirection>>,
    uplink: Option<toml::Spanned<RawDirection>>,
    downlink: Option<toml::Spanned<RawDirection>>,
}

/// A validated impairment profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// The file stem: part of the interface, referred to by users and CI.
    pub name: String,
    pub description: String,
    /// Where the numbers come from.
    pub source: String,
    pub nat: NatSetup,
    /// Client → agent.
    pub uplink: DirectionSpec,
    /// Agent → client.
    pub downlink: DirectionSpec,
}

/// Errors while loading a profile; each names the file and, where known, line and field.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}:{line}: field `{field}`: {message}")]
    Invalid { file: PathBuf, line: usize, field: String, message: String },
}

impl Profile {
    /// Loads a profile from a file; its name is the file stem.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ProfileError::Io { file: path.to_path_buf(), source })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("profile").to_string();
        Profile::parse(&name, &text, path, path.parent())
    }

    /// Parses profile text. `file` is used in error messages; `base_dir` resolves trace files
    /// (None for embedded profiles, which must inline their traces).
    pub fn parse(name: &str, text: &str, file: &Path, base_dir: Option<&Path>) -> Result<Profile, ProfileError> {
        let raw: ProfileFile = toml::from_str(text).map_err(|e| ProfileError::Syntax {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let v = Validator { file, text, base_dir };
        if raw.description.trim().is_empty() {
            return Err(v.invalid(0, "description", "must say what the profile models"));
        }
        if raw.source.trim().is_empty() {
            return Err(v.invalid(0, "source", "must say where the numbers come from"));
        }
        if !(raw.nat.binding_lifetime_s.is_finite() && raw.nat.binding_lifetime_s > 0.0) {
            return Err(v.invalid(0, "nat.binding_lifetime_s", "expected a positive number of seconds"));
        }
        let (uplink, downlink) = match (raw.both, raw.uplink, raw.downlink) {
            (Some(b), None, None) => {
                let d = v.direction("both", b)?;
                (d.clone(), d)
            }
            (Some(b), _, _) => {
                return Err(v.invalid(b.span().start, "both", "use either [both] or [uplink]/[downlink], not both"));
            }
            (None, up, down) => (
                up.map(|u| v.direction("uplink", u)).transpose()?.unwrap_or_default(),
                down.map(|d| v.direction("downlink", d)).transpose()?.unwrap_or_default(),
            ),
        };
        Ok(Profile {
            name: name.to_string(),
            description: raw.description.trim().to_string(),
            source: raw.source.trim().to_string(),
            nat: raw.nat,
            uplink,
            downlink,
        })
    }
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
    base_dir: Option<&'a Path>,
}

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn invalid(&self, offset: usize, field: &str, message: &str) -> ProfileError {
        ProfileError::Invalid {
            file: self.file.to_path_buf(),
            line: self.line_of(offset),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    fn direction(&self, table: &str, spanned: toml::Spanned<RawDirection>) -> Result<DirectionSpec, ProfileError> {
        let raw = spanned.into_inner();
        let base = Conditions {
            delay: raw.delay,
            loss: match raw.loss {
                Some(l) => self.loss(&format!("{table}.loss"), l)?,
                None => Loss::default(),
            },
            rate: raw.rate.map(|r| self.rate(&format!("{table}.rate"), r)).transpose()?,
            reorder: raw.reorder.map(|r| self.reorder(&format!("{table}.reorder"), r, &raw.delay)).transpose()?,
            duplicate_percent: raw.duplicate_percent,
            corrupt_percent: raw.corrupt_percent,
        };
        let period = match raw.schedule_period_s {
            Some(p) if !(p.get_ref().is_finite() && *p.get_ref() > 0.0) => {
                return Err(self.invalid(
                    p.span().start,
                    &format!("{table}.schedule_period_s"),
                    "expected a positive number of seconds",
                ));
            }
            p => p.map(toml::Spanned::into_inner),
        };
        let mut schedule = Vec::with_capacity(raw.schedule.len());
        let mut prev_until = 0.0;
        for (i, spanned) in raw.schedule.into_iter().enumerate() {
            let f = format!("{table}.schedule[{i}]");
            let seg_at = spanned.span().start;
            let seg = spanned.into_inner();
            if !(seg.from_s.is_finite() && seg.until_s.is_finite() && seg.from_s >= 0.0 && seg.until_s > seg.from_s) {
                return Err(self.invalid(seg_at, &f, "expected 0 <= from_s < until_s"));
            }
            if seg.from_s < prev_until {
                return Err(self.invalid(seg_at, &f, "segments must be sorted and must not overlap"));
            }
            if period.is_some_and(|p| seg.until_s > p) {
                return Err(self.invalid(seg_at, &f, "segment ends after schedule_period_s"));
            }
            prev_until = seg.until_s;
            let loss = match (seg.blackout, seg.loss) {
                (true, Some(_)) => {
                    return Err(self.invalid(seg_at, &f, "give either blackout = true or a loss model, not both"));
                }
                (true, None) => Some(Loss::Blackout),
                (false, l) => l.map(|l| self.loss(&format!("{f}.loss"), l)).transpose()?,
            };
            let rate = seg.rate.map(|r| self.rate(&format!("{f}.rate"), r)).transpose()?;
            if seg.delay.is_none() && loss.is_none() && rate.is_none() {
                return Err(self.invalid(seg_at, &f, "a segment must change something: blackout, delay, loss or rate"));
            }
            if seg.delay.is_some_and(|d| d.ms.ms() == 0.0) && base.reorder.is_some() {
                return Err(self.invalid(
                    seg_at,
                    &format!("{f}.delay.ms"),
                    "reorder needs a non-zero delay in every segment",
                ));
            }
            schedule.push(Segment { from_s: seg.from_s, until_s: seg.until_s, delay: seg.delay, loss, rate });
        }
        Ok(DirectionSpec { base, schedule, schedule_period_s: period })
    }

    fn reorder(&self, field: &str, r: toml::Spanned<Reorder>, delay: &Delay) -> Result<Reorder, ProfileError> {
        let at = r.span().start;
        let r = r.into_inner();
        if r.percent.value() > 0.0 && delay.ms.ms() == 0.0 {
            return Err(self.invalid(
                at,
                field,
                "reordering needs a delay (netem: \"reordering not possible without specifying some delay\")",
            ));
        }
        if r.gap == 0 {
            return Err(self.invalid(at, &format!("{field}.gap"), "expected a gap of at least 1"));
        }
        Ok(r)
    }

    fn rate(&self, field: &str, r: toml::Spanned<Rate>) -> Result<Rate, ProfileError> {
        let at = r.span().start;
        let r = r.into_inner();
        if !(r.kbit.is_finite() && r.kbit > 0.0) {
            return Err(self.invalid(at, &format!("{field}.kbit"), "expected a positive link rate in kbit/s"));
        }
        if r.queue_bytes == 0 {
            return Err(self.invalid(at, &format!("{field}.queue_bytes"), "expected a queue of at least one packet"));
        }
        if !(r.cross_traffic_kbit.is_finite() && r.cross_traffic_kbit >= 0.0 && r.cross_traffic_kbit < r.kbit) {
            return Err(self.invalid(
                at,
                &format!("{field}.cross_traffic_kbit"),
                "expected 0 <= cross_traffic_kbit < kbit (a greedier load would starve the call)",
            ));
        }
        Ok(r)
    }

    fn loss(&self, field: &str, spanned: toml::Spanned<RawLoss>) -> Result<Loss, ProfileError> {
        let at = spanned.span().start;
        let raw = spanned.into_inner();
        let (name, allowed, required): (&str, &[&str], &str) = match raw.model {
            LossModel::Random => ("random", &["percent", "correlation_percent"], "percent"),
            LossModel::Gemodel => {
                ("gemodel", &["p_percent", "r_percent", "one_minus_h_percent", "one_minus_k_percent"], "p_percent")
            }
            LossModel::State => ("state", &["p13", "p31", "p32", "p23", "p14"], "p13"),
            LossModel::Trace => ("trace", &["pattern", "file"], ""),
        };
        let present = raw.present();
        if let Some(extra) = present.iter().find(|f| !allowed.contains(f)) {
            return Err(self.invalid(
                at,
                &format!("{field}.{extra}"),
                &format!("not a field of loss model `{name}` (its fields: {})", allowed.join(", ")),
            ));
        }
        if !required.is_empty() && !present.contains(&required) {
            return Err(self.invalid(
                at,
                &format!("{field}.{required}"),
                &format!("loss model `{name}` needs `{required}`"),
            ));
        }
        let z = Percent::ZERO;
        let loss = match raw.model {
            LossModel::Random => Loss::Random {
                percent: raw.percent.unwrap_or(z),
                correlation_percent: raw.correlation_percent.unwrap_or(z),
            },
            LossModel::Gemodel => {
                let p = raw.p_percent.unwrap_or(z);
                if p.value() > 0.0 && raw.r_percent.is_some_and(|r| r.value() == 0.0) {
                    return Err(self.invalid(
                        at,
                        &format!("{field}.r_percent"),
                        "r = 0 never leaves the bad state; use a blackout segment instead",
                    ));
                }
                Loss::Gemodel {
                    p_percent: p,
                    r_percent: raw.r_percent,
                    one_minus_h_percent: raw.one_minus_h_percent.unwrap_or(Percent::HUNDRED),
                    one_minus_k_percent: raw.one_minus_k_percent.unwrap_or(z),
                }
            }
            LossModel::State => {
                let p13 = raw.p13.unwrap_or(z);
                let p14 = raw.p14.unwrap_or(z);
                if p13.value() + p14.value() > 100.0 {
                    return Err(self.invalid(at, &format!("{field}.p13"), "p13 + p14 must not exceed 100"));
                }
                let p32 = raw.p32.unwrap_or(z);
                let p31 = raw.p31.unwrap_or(Percent(100.0 - p13.value()));
                if p31.value() + p32.value() > 100.0 {
                    return Err(self.invalid(at, &format!("{field}.p31"), "p31 + p32 must not exceed 100"));
                }
                Loss::State { p13, p31: raw.p31, p32, p23: raw.p23.unwrap_or(Percent::HUNDRED), p14 }
            }
            LossModel::Trace => {
                let text = match (raw.pattern.as_deref(), raw.file.as_deref()) {
                    (Some(p), None) => p.to_string(),
                    (None, Some(f)) => {
                        let Some(dir) = self.base_dir else {
                            return Err(self.invalid(
                                at,
                                &format!("{field}.file"),
                                "trace files need a profile loaded from disk; inline the trace as `pattern`",
                            ));
                        };
                        let path = dir.join(f);
                        std::fs::read_to_string(&path).map_err(|e| {
                            self.invalid(at, &format!("{field}.file"), &format!("cannot read {}: {e}", path.display()))
                        })?
                    }
                    _ => return Err(self.invalid(at, field, "a trace needs exactly one of `pattern` or `file`")),
                };
                let drops = parse_trace(&text).map_err(|m| self.invalid(at, field, &m))?;
                Loss::Trace { pattern: raw.pattern, file: raw.file, drops }
            }
        };
        Ok(loss)
    }
}

/// Parses a trace of `0` (delivered) and `1` (lost); whitespace, `_` and `#` comments are ignored.
pub fn parse_trace(text: &str) -> Result<Vec<bool>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for c in line.chars() {
            match c {
                '0' => out.push(false),
                '1' => out.push(true),
                c if c.is_whitespace() || c == '_' => {}
                c => return Err(format!("trace line {}: expected only 0 and 1, found {c:?}", n + 1)),
            }
        }
    }
    if out.is_empty() {
        return Err("the trace is empty".into());
    }
    Ok(out)
}
