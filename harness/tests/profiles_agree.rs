//! Every shipped profile, sampled with 10^6 packets per direction, agrees with its analytic
//! configuration within the bounds (loss ±0.5 points, GE burst ±5 %, delay ±0.5 ms —
//! widened to 4 standard errors only where the measurement itself is noisier, which the
//! heavy-jitter profiles' p99 is).

use jitterbug::catalog::Profiles;
use jitterbug::profile_check::verify;
use jitterbug_core::results::Status;

#[test]
fn every_shipped_profile_agrees_with_its_configuration() {
    let profiles = Profiles::embedded().all().expect("shipped profiles load");
    assert!(profiles.len() >= 16);
    let mut failures = Vec::new();
    for p in &profiles {
        let s = verify(p, 1, 1_000_000);
        if let Status::Error { reason } = &s.status {
            failures.push(format!("{}: {reason}", p.name));
        }
        // A profile that configures loss must show it, and the counters must add up.
        for c in [&s.uplink, &s.downlink] {
            let k = &c.counters;
            assert_eq!(k.sent, k.delivered + k.lost_loss_model + k.lost_blackout + k.lost_queue_overflow);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
