//! Settings presets: named combinations of codec settings and jitter-buffer configuration,
//! kept as data in `agent-under-test/presets/` (the agent, the simulator and the clients all
//! read the same files).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::codec::{CodecError, CodecSettings};
use crate::jitter_buffer::JitterBufferConfig;

/// A validated preset. Its name (the file stem) is part of the interface.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub codec: CodecSettings,
    pub jitter_buffer: JitterBufferConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    description: String,
    codec: CodecSettings,
    jitter_buffer: JitterBufferConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: [codec]: {source}")]
    Codec {
        file: PathBuf,
        #[source]
        source: CodecError,
    },
    #[error("{file}: [jitter_buffer]: {message}")]
    JitterBuffer { file: PathBuf, message: String },
}

impl Preset {
    pub fn load(path: &Path) -> Result<Preset, PresetError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| PresetError::Io { file: path.to_path_buf(), source })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("preset");
        Preset::parse(name, &text, path)
    }

    /// Parses preset text; `file` names it in errors.
    pub fn parse(name: &str, text: &str, file: &Path) -> Result<Preset, PresetError> {
        let raw: PresetFile = toml::from_str(text).map_err(|e| PresetError::Syntax {
            file: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        raw.codec.validate().map_err(|source| PresetError::Codec { file: file.to_path_buf(), source })?;
        let jb_err = |message: &str| PresetError::JitterBuffer { file: file.to_path_buf(), message: message.into() };
        match raw.jitter_buffer {
            JitterBufferConfig::Fixed { delay_ms } if !(delay_ms.is_finite() && delay_ms >= 0.0) => {
                return Err(jb_err("delay_ms: expected a non-negative number of milliseconds"));
            }
            JitterBufferConfig::Adaptive { min_delay_ms, max_delay_ms, .. }
                if !(min_delay_ms.is_finite()
                    && min_delay_ms >= 0.0
                    && max_delay_ms.is_none_or(|m| m.is_finite() && m >= min_delay_ms)) =>
            {
                return Err(jb_err("expected 0 <= min_delay_ms <= max_delay_ms (max_delay_ms may be left out)"));
            }
            _ => {}
        }
        if raw.description.trim().is_empty() {
            return Err(PresetError::Syntax {
                file: file.to_path_buf(),
                message: "description must say what the preset is for".into(),
            });
        }
        Ok(Preset {
            name: name.to_string(),
            description: raw.description.trim().to_string(),
            codec: raw.codec,
            jitter_buffer: raw.jitter_buffer,
        })
    }
}
