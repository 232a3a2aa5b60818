//! Voice activity detection on 10 ms blocks: an energy detector with an adaptive noise floor
//! and onset/offset hysteresis. Enough to find where speech starts and stops in clean or
//! concealed speech (what turn detection and voice-to-voice latency need); not a
//! noise-robust classifier.

/// 10 ms at 48 kHz.
pub const VAD_BLOCK: usize = 480;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// A block is loud when its level is this far above the noise floor…
    pub margin_db: f64,
    /// …and above this absolute level (dBFS).
    pub floor_dbfs: f64,
    /// Loud blocks in a row that start speech (rejects clicks).
    pub onset_blocks: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig { margin_db: 12.0, floor_dbfs: -45.0, onset_blocks: 2 }
    }
}

#[derive(Debug, Clone)]
pub struct Vad {
    config: VadConfig,
    noise_db: f64,
    loud_run: u32,
    speaking: bool,
}

impl Vad {
    pub fn new(config: VadConfig) -> Vad {
        Vad { config, noise_db: -70.0, loud_run: 0, speaking: false }
    }

    /// Classifies one block; true while speech is active (from onset until the first quiet
    /// block: the caller's hangover decides when a pause ends a turn).
    pub fn push(&mut self, block: &[i16]) -> bool {
        let level = level_dbfs(block);
        let loud = level > self.config.floor_dbfs && level > self.noise_db + self.config.margin_db;
        if loud {
            self.loud_run += 1;
        } else {
            self.loud_run = 0;
            // Track the floor quickly downwards and slowly upwards (about 1 dB per second).
            let rate = if level < self.noise_db { 0.3 } else { 0.001 };
            self.noise_db += rate * (level - self.noise_db);
        }
        self.speaking = if self.speaking { loud } else { self.loud_run >= self.config.onset_blocks };
        self.speaking
    }
}

/// RMS level of a block in dBFS (−100 for digital silence).
pub fn level_dbfs(block: &[i16]) -> f64 {
    if block.is_empty() {
        return -100.0;
    }
    let energy: f64 = block.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / block.len() as f64;
    if energy <= 0.0 { -100.0 } else { (10.0 * (energy / (32768.0 * 32768.0)).log10()).max(-100.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amplitude: f64) -> Vec<i16> {
        (0..VAD_BLOCK).map(|i| (amplitude * (i as f64 * 0.2).sin()) as i16).collect()
    }

    #[test]
    fn speech_needs_an_onset_run_and_ends_at_the_first_quiet_block() {
        let mut v = Vad::new(VadConfig::default());
        let quiet = tone(10.0);
        let loud = tone(8000.0);
        for _ in 0..20 {
            assert!(!v.push(&quiet));
        }
        assert!(!v.push(&loud), "one loud block is a click, not speech");
        assert!(v.push(&loud));
        assert!(v.push(&loud));
        assert!(!v.push(&quiet));
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbfs(&[0; VAD_BLOCK]), -100.0);
        let full = vec![i16::MAX; VAD_BLOCK];
        assert!(level_dbfs(&full).abs() < 0.01);
    }
}
