//! Encoded frames per clip and codec settings, shared by every worker of a sweep, so each
//! pair is encoded once (twice at worst, when two workers ask at the same moment).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jitterbug_core::codec::{CodecError, CodecSettings, Encoded, Encoder};

use crate::clips::Clip;

type Frames = Arc<Vec<Encoded>>;

/// Frames of a clip encoded with one set of settings; the last frame is zero-padded.
#[derive(Debug, Default)]
pub struct EncodeCache {
    frames: Mutex<HashMap<(String, String), Frames>>,
}

impl EncodeCache {
    /// The encoded frames of `clip` (plus `tail_frames` of trailing silence) under `settings`.
    pub fn get(&self, clip: &Clip, settings: &CodecSettings, tail_frames: usize) -> Result<Frames, CodecError> {
        let key = (format!("{}#{}#{tail_frames}", clip.name, clip.pcm.len()), format!("{settings:?}"));
        let cached = self.frames.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        if let Some(f) = cached {
            return Ok(f);
        }
        let n = settings.frame_samples();
        let mut enc = Encoder::new(settings)?;
        let mut pcm = clip.pcm.to_vec();
        pcm.resize(pcm.len().div_ceil(n) * n + tail_frames * n, 0);
        let frames = Arc::new(pcm.chunks_exact(n).map(|f| enc.encode(f)).collect::<Result<Vec<_>, _>>()?);
        Ok(self.frames.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(frames).clone())
    }
}
