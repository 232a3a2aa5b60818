//! `jitterbug-agent`: the reference voice agent as a standalone WHIP server.

use clap::Parser;
use jitterbug_agent::cli::AgentArgs;

#[derive(Debug, Parser)]
#[command(version, about = "Reference WebRTC voice agent for Jitterbug (WHIP over HTTPS)")]
struct Cli {
    #[command(flatten)]
    agent: AgentArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Cli::parse().agent.serve_until_ctrl_c().await
}
#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn preset_and_tls_flags_are_checked() {
        let parse = |extra: &[&str]| Cli::try_parse_from([&["jitterbug-agent", "--token", "t"], extra].concat());
        let err = parse(&["--preset", "nope"]).unwrap_err().to_string();
        assert!(err.contains("unknown preset \"nope\"") && err.contains("balanced-fec"), "{err}");
        assert!(parse(&["--cert", "c.pem"]).is_err(), "--cert needs --key");
        assert!(parse(&["--cert", "c.pem", "--key", "k.pem", "--ca-out", "ca.pem"]).is_err());
        let args = parse(&["--preset", "pcmu"]).expect("valid");
        assert_eq!(args.agent.preset.name, "pcmu");
    }
}
