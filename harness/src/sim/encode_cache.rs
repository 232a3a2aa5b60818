//! Encoded frames per clip and codec settings, so a sweep encodes each pair once.

use std::collections::HashMap;
use std::sync::Arc;

use jitterbug_core::codec::{CodecError, CodecSettings, Encoded, Encoder};

use crate::clips::Clip;

/// Frames of a clip encoded with one set of settings; the last frame is zero-padded.
#[derive(Debug, Default)]
pub struct EncodeCache {
    frames: HashMap<(String, String), Arc<Vec<Encoded>>>,
}

impl EncodeCache {
    /// The encoded frames of `clip` (plus `tail_frames` of trailing silence) under `settings`.
    pub fn get(
        &mut self,
        clip: &Clip,
        settings: &CodecSettings,
        tail_frames: usize,
    ) -> Result<Arc<Vec<Encoded>>, CodecError> {
        let key = (format!("{}#{}#{tail_frames}", clip.name, clip.pcm.len()), format!("{settings:?}"));
        if let Some(f) = self.frames.get(&key) {
            return Ok(f.clone());
        }
        let n = settings.frame_samples();
        let mut enc = Encoder::new(settings)?;
        let mut pcm = clip.pcm.to_vec();
        pcm.resize(pcm.len().div_ceil(n) * n + tail_frames * n, 0);
        let frames = pcm.chunks_exact(n).map(|f| enc.encode(f)).collect::<Result<Vec<_>, _>>()?;
        let frames = Arc::new(frames);
        self.frames.insert(key, frames.clone());
        Ok(frames)
    }
}
