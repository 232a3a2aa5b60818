//! Who made a call and where it ran: typed, and written as the strings results, baselines and
//! the command line have always used (`native`, `chromium`, …; `sim`, `live`, …).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a scenario ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// The media path in virtual time.
    Sim,
    /// The real webrtc-rs stack (ICE, DTLS, SRTP, RTCP) in virtual time.
    SimFullStack,
    /// Real UDP on loopback through the userspace relay.
    Live,
    /// Network namespaces with real Linux NAT and NFQUEUE impairment.
    Netns,
}

impl BackendKind {
    pub const ALL: [BackendKind; 4] =
        [BackendKind::Sim, BackendKind::SimFullStack, BackendKind::Live, BackendKind::Netns];

    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Sim => "sim",
            BackendKind::SimFullStack => "sim-full-stack",
            BackendKind::Live => "live",
            BackendKind::Netns => "netns",
        }
    }

    /// Calls in real time between real endpoints: setup, TURN usage, disconnects and the
    /// other live KPIs apply.
    pub const fn is_real_time(self) -> bool {
        matches!(self, BackendKind::Live | BackendKind::Netns)
    }
}

/// A browser that calls over WebDriver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Browser {
    Chromium,
    Firefox,
    /// WebKitGTK's MiniBrowser (Debian's build has no WebRTC).
    Webkit,
    /// Safari, through a `safaridriver` on a Mac.
    Safari,
}

impl Browser {
    pub const ALL: [Browser; 4] = [Browser::Chromium, Browser::Firefox, Browser::Webkit, Browser::Safari];

    pub const fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
            Browser::Webkit => "webkit",
            Browser::Safari => "safari",
        }
    }
}

/// Who calls the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Client {
    /// Jitterbug's own client on the webrtc-rs `rtc` core (the simulator's peer).
    Native,
    Browser(Browser),
}

impl Client {
    pub const fn name(self) -> &'static str {
        match self {
            Client::Native => "native",
            Client::Browser(b) => b.name(),
        }
    }

    pub const fn browser(self) -> Option<Browser> {
        match self {
            Client::Native => None,
            Client::Browser(b) => Some(b),
        }
    }
}

/// A name that is none of the kind's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{got}`; expected one of: {expected}")]
pub struct UnknownName {
    what: &'static str,
    got: String,
    expected: String,
}

fn parse<T: Copy>(what: &'static str, s: &str, all: &[T], name: fn(T) -> &'static str) -> Result<T, UnknownName> {
    all.iter().copied().find(|&v| name(v) == s).ok_or_else(|| UnknownName {
        what,
        got: s.to_owned(),
        expected: all.iter().map(|&v| name(v)).collect::<Vec<_>>().join(", "),
    })
}

impl FromStr for BackendKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse("backend", s, &BackendKind::ALL, BackendKind::name)
    }
}

impl FromStr for Browser {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        parse("browser", s, &Browser::ALL, Browser::name)
    }
}

impl FromStr for Client {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let all: Vec<Client> = std::iter::once(Client::Native).chain(Browser::ALL.map(Client::Browser)).collect();
        parse("client", s, &all, Client::name)
    }
}

macro_rules! as_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

as_name!(BackendKind, Browser, Client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_say_what_is_expected() {
        for b in BackendKind::ALL {
            assert_eq!(b.name().parse::<BackendKind>(), Ok(b));
        }
        assert_eq!("firefox".parse::<Client>(), Ok(Client::Browser(Browser::Firefox)));
        assert_eq!(serde_json::to_string(&Client::Native).unwrap(), "\"native\"");
        assert_eq!(serde_json::from_str::<BackendKind>("\"sim-full-stack\"").unwrap(), BackendKind::SimFullStack);
        let e = "opera".parse::<Client>().unwrap_err().to_string();
        assert_eq!(e, "unknown client `opera`; expected one of: native, chromium, firefox, webkit, safari");
    }
}
