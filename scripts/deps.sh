#!/usr/bin/env bash
# Installs what Jitterbug's builds and tests need, only when missing (idempotent).
# Runs as root on Debian 12; prints what it installs.
set -euo pipefail

need_debs=()
want_deb() {
    # want_deb PACKAGE COMMAND-OR-FILE: install PACKAGE unless the command/file is present.
    local pkg=$1 probe=$2
    if [[ $probe == /* ]]; then [[ -e $probe ]] && return 0; else command -v "$probe" >/dev/null 2>&1 && return 0; fi
    need_debs+=("$pkg")
}

want_deb build-essential cc
want_deb pkg-config pkg-config
want_deb cmake cmake            # builds the bundled libopus (opus crate)
want_deb chromium chromium      # renders reports in the browser suite
want_deb coturn turnserver      # TURN server for live calls through a relay (harness starts it on loopback)
want_deb chromium-driver chromedriver           # WebDriver for the Chromium suite
want_deb firefox-esr firefox-esr                # the Firefox suite
want_deb pulseaudio pulseaudio                  # Firefox needs a sound server for its AudioContext
want_deb webkit2gtk-driver WebKitWebDriver      # the WebKit row (reported unsupported: no WebRTC in Debian's build)
want_deb libwebkit2gtk-4.1-0 /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser
want_deb xvfb Xvfb                              # WebKitWebDriver needs a display
want_deb libnss3-tools certutil                 # puts the TURN/TLS test CA into a Firefox profile
want_deb nftables nft                           # netns backend: NAT rules in the router namespace
want_deb iptables iptables                      # netns backend: the NFQUEUE target (nft has no queue statement here)
want_deb conntrack conntrack                    # netns backend: reads the NAT mappings the router made

if ((${#need_debs[@]})); then
    echo "deps: installing ${need_debs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_debs[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "deps: cargo is missing; install the Rust toolchain (rustup) first" >&2
    exit 1
fi

# geckodriver is not packaged for Debian 12: build it once (about 5 minutes on 2 cores).
if ! command -v geckodriver >/dev/null 2>&1 && [[ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver" ]]; then
    echo "deps: cargo install geckodriver (once, ~5 min)" >&2
    cargo install geckodriver >/dev/null
fi
