//! Quality and latency metrics computed from audio and counters.
