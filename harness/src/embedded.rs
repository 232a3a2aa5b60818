//! Data compiled into the binary from the repository: `(name, file name, contents)`.

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
