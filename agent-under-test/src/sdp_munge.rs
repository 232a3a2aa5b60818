//! The preset's codec settings written into the answer we send.
//!
//! webrtc 0.21 copies the offer's Opus fmtp into its answer and has no API for `a=ptime`
//! (shared notes, webrtc-rs defect 2), yet fmtp is a receiver preference: what we put in the
//! answer is what the far side's encoder uses towards us. webrtc-rs rejects a munged local
//! description, so only the copy sent to the caller is rewritten.

use jitterbug_core::codec::{Codec, CodecSettings};

/// The answer with the audio payload type's fmtp replaced by the preset's parameters and an
/// `a=ptime` for its frame size.
pub fn apply_preset(answer: &str, payload_type: u8, settings: &CodecSettings) -> String {
    let fmtp_prefix = format!("a=fmtp:{payload_type} ");
    let rtpmap_prefix = format!("a=rtpmap:{payload_type} ");
    let eol = if answer.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(answer.len() + 128);
    let mut wrote_fmtp = false;
    for line in answer.lines() {
        if line.starts_with("a=ptime:") || line.starts_with("a=maxptime:") {
            continue;
        }
        if line.starts_with(&fmtp_prefix) {
            if let Some(f) = fmtp(settings) {
                out.push_str(&format!("{fmtp_prefix}{f}{eol}"));
            }
            out.push_str(&format!("a=ptime:{}{eol}", settings.frame_ms.millis()));
            wrote_fmtp = true;
            continue;
        }
        out.push_str(line);
        out.push_str(eol);
        if line.starts_with(&rtpmap_prefix) && !answer.contains(&fmtp_prefix) && !wrote_fmtp {
            if let Some(f) = fmtp(settings) {
                out.push_str(&format!("{fmtp_prefix}{f}{eol}"));
            }
            out.push_str(&format!("a=ptime:{}{eol}", settings.frame_ms.millis()));
            wrote_fmtp = true;
        }
    }
    out
}

/// The answer with every host candidate's address replaced by `ip` (port preserved), as a
/// 1:1 NAT in front of the agent would present it. webrtc's own 1:1 NAT setting leaves
/// loopback candidates alone, and the relay in front of a loopback agent is exactly that case.
pub fn advertise(answer: &str, ip: std::net::IpAddr) -> String {
    let eol = if answer.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(answer.len());
    for line in answer.lines() {
        if line.starts_with("a=candidate:") && line.contains(" typ host") {
            let mut f: Vec<String> = line.split(' ').map(str::to_owned).collect();
            if f.len() > 4 {
                f[4] = ip.to_string();
            }
            out.push_str(&f.join(" "));
        } else {
            out.push_str(line);
        }
        out.push_str(eol);
    }
    out
}

/// RFC 7587 parameters for Opus; none for G.711.
fn fmtp(s: &CodecSettings) -> Option<String> {
    (s.codec == Codec::Opus).then(|| {
        format!(
            "minptime=10;useinbandfec={};usedtx={};stereo=0;sprop-stereo=0;maxaveragebitrate={}",
            u8::from(s.fec),
            u8::from(s.dtx),
            s.bitrate_bps
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jitterbug_core::codec::FrameMs;

    const ANSWER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=sendrecv\r\n";

    #[test]
    fn opus_fmtp_and_ptime_follow_the_preset() {
        let mut s = CodecSettings::new(Codec::Opus, FrameMs::Ms40);
        s.fec = false;
        s.dtx = true;
        s.bitrate_bps = 24_000;
        let out = apply_preset(ANSWER, 111, &s);
        assert!(out.contains(
            "a=fmtp:111 minptime=10;useinbandfec=0;usedtx=1;stereo=0;sprop-stereo=0;maxaveragebitrate=24000\r\na=ptime:40\r\n"
        ));
        assert_eq!(out.matches("a=fmtp:111").count(), 1);
        assert!(out.ends_with("a=sendrecv\r\n"));
    }

    #[test]
    fn host_candidates_are_advertised_at_the_given_address() {
        let a = "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n";
        let out = advertise(a, "127.0.0.2".parse().unwrap());
        assert_eq!(out, "a=candidate:1 1 udp 2130706431 127.0.0.2 40000 typ host\r\na=end-of-candidates\r\n");
    }

    #[test]
    fn g711_gets_ptime_only() {
        let s = CodecSettings::new(Codec::Pcmu, FrameMs::Ms20);
        let out = apply_preset("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n", 0, &s);
        assert_eq!(out, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n");
    }
}
