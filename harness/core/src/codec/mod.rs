//! Audio codecs: Opus (libopus) and G.711, all at 48 kHz PCM at the edges.
