//! Data compiled into the binary from the repository: `(name, file name, contents)`, and the
//! locked version of the webrtc crate the agent is built on.

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
