//! The page's recording: a 2-channel 16-bit 48 kHz WAV, ch0 what was sent, ch1 what came
//! back, both on the page's AudioContext clock.

use std::io::Cursor;

use crate::clips::RATE;

/// The two channels of the page's WAV, or why it is not the format the page writes.
pub fn split(wav: &[u8]) -> Result<(Vec<i16>, Vec<i16>), String> {
    let reader = hound::WavReader::new(Cursor::new(wav)).map_err(|e| format!("not a WAV file: {e}"))?;
    let spec = reader.spec();
    let expected =
        hound::WavSpec { channels: 2, sample_rate: RATE, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    if spec != expected {
        return Err(format!("{spec:?}, expected {expected:?}"));
    }
    let samples =
        reader.into_samples::<i16>().collect::<Result<Vec<i16>, _>>().map_err(|e| format!("truncated WAV: {e}"))?;
    let sent = samples.iter().step_by(2).copied().collect();
    let received = samples.iter().skip(1).step_by(2).copied().collect();
    Ok((sent, received))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(spec: hound::WavSpec, samples: &[i16]) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for &s in samples {
            writer.write_sample(s).unwrap();
        }
        writer.finalize().unwrap();
        bytes.into_inner()
    }

    #[test]
    fn splits_interleaved_channels() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let (sent, received) = split(&wav(spec, &[1, -1, 2, -2, 3, -3])).unwrap();
        assert_eq!(sent, [1, 2, 3]);
        assert_eq!(received, [-1, -2, -3]);
    }

    #[test]
    fn rejects_mono_and_other_rates() {
        let mono = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        assert!(split(&wav(mono, &[1, 2])).unwrap_err().contains("expected"));
        let slow = hound::WavSpec { sample_rate: 44_100, channels: 2, ..mono };
        assert!(split(&wav(slow, &[1, 2])).is_err());
        assert!(split(b"RIFF").is_err());
    }
}
