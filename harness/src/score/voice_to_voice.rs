//! Voice-to-voice latency as the user experiences it: from the end of each user turn to the
//! first speech heard back, found by the shared VAD on both sides' audio.

use jitterbug_core::vad::{VAD_BLOCK, Vad, VadConfig};

use super::agent_record::samples_48k;

/// Speech segments (start, end) of `pcm` in samples, by the shared VAD.
fn speech_segments(pcm: &[i16]) -> Vec<(usize, usize)> {
    let mut vad = Vad::new(VadConfig::default());
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for (k, block) in pcm.chunks_exact(VAD_BLOCK).enumerate() {
        let at = k * VAD_BLOCK;
        if vad.push(block) {
            current = Some(current.map_or((at, at + VAD_BLOCK), |(s, _)| (s, at + VAD_BLOCK)));
        } else if let Some((s, e)) = current
            && at - e >= 30 * VAD_BLOCK
        {
            // 300 ms of quiet closes a segment (pauses inside a sentence do not).
            out.push((s, e));
            current = None;
        }
    }
    out.extend(current);
    out
}

/// Per user turn: end of the user's speech (as sent) → onset of the next speech the user
/// heard, before the user's following turn; ms.
pub fn per_turn(script: &[i16], offset_ns: i128, heard: &[i16]) -> Vec<f64> {
    let offset = samples_48k(offset_ns);
    let user = speech_segments(script);
    let agent = speech_segments(heard);
    let mut out = Vec::new();
    for (i, &(_, end)) in user.iter().enumerate() {
        let end = end + offset;
        let next_turn = user.get(i + 1).map_or(usize::MAX, |&(s, _)| s + offset);
        if let Some(&(onset, _)) = agent.iter().find(|&&(s, _)| s > end && s < next_turn) {
            out.push((onset - end) as f64 / 48.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_to_voice_measures_from_speech_end_to_heard_onset() {
        let tone = |n: usize| (0..n).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect::<Vec<_>>();
        let mut script = tone(48_000);
        script.resize(48_000 * 4, 0);
        // Heard: silence, then the answer 900 ms after the user stopped (plus a 100 ms offset).
        let mut heard = vec![0i16; 48_000 + 48 * 1000];
        heard.extend(tone(48_000));
        let v = per_turn(&script, 100_000_000, &heard);
        assert_eq!(v.len(), 1);
        assert!((v[0] - 900.0).abs() <= 20.0, "{v:?}");
    }
}
