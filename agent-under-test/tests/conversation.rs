//! Turn-taking in virtual time: the conversation core is told the time and fed 10 ms blocks,
//! so every timing here is exact.

use std::time::Duration;

use jitterbug_agent::conversation::{BARGE_IN_CONFIRM, Conversation, FalseEndCause};
use jitterbug_agent::pipeline::{Behaviour, ScriptedClip, StageBudgets};
use jitterbug_core::time::Timestamp;
use jitterbug_core::vad::VAD_BLOCK;

const HANGOVER: Duration = Duration::from_millis(600);

fn speech() -> Vec<i16> {
    (0..VAD_BLOCK).map(|i| ((i as f64 * 0.25).sin() * 9000.0) as i16).collect()
}

fn silence() -> Vec<i16> {
    vec![0; VAD_BLOCK]
}

/// Drives a conversation block by block; `user(ms)` says whether the user speaks at that
/// time and `concealed(ms)` whether the block was concealment. Collects what the agent sends
/// (20 ms frames) with their times.
struct Drive {
    c: Conversation,
    t_ms: u64,
    sent: Vec<(u64, bool)>,
}

impl Drive {
    fn new(behaviour: Behaviour) -> Drive {
        Drive { c: Conversation::new(behaviour, StageBudgets::default(), HANGOVER), t_ms: 0, sent: Vec::new() }
    }

    fn run(&mut self, until_ms: u64, user: impl Fn(u64) -> bool, concealed: impl Fn(u64) -> bool) {
        while self.t_ms < until_ms {
            self.t_ms += 10;
            let now = Timestamp::from_millis(self.t_ms);
            let block = if user(self.t_ms) { speech() } else { silence() };
            self.c.push_uplink(now, &block, concealed(self.t_ms));
            if self.t_ms.is_multiple_of(20) {
                let frame = self.c.next_frame(now, 960);
                self.sent.push((self.t_ms, frame.iter().any(|&s| s != 0)));
            }
        }
    }

    fn first_audio_after(&self, ms: u64) -> Option<u64> {
        self.sent.iter().find(|&&(t, loud)| t > ms && loud).map(|&(t, _)| t)
    }
}

#[test]
fn a_turn_ends_after_the_hangover_and_the_echo_follows_the_stage_budgets() {
    let mut d = Drive::new(Behaviour::Echo);
    // The user speaks from 100 to 1100 ms.
    d.run(4000, |t| (100..1100).contains(&t), |_| false);
    let turns = d.c.turns();
    assert_eq!(turns.len(), 1);
    let t = &turns[0];
    // VAD onset needs two loud blocks; the last loud block ends at 1090 ms.
    assert_eq!(t.speech_start_ms, 110.0);
    assert_eq!(t.speech_end_ms, 1090.0);
    assert_eq!(t.end_of_turn_ms, 1090.0 + 600.0);
    assert_eq!(t.asr.end_ms - t.asr.start_ms, 100.0);
    assert_eq!(t.agent.end_ms - t.agent.start_ms, 100.0);
    // 600 ms hangover + 100 ASR + 100 agent + 80 TTS after the last speech, then the next
    // 20 ms frame boundary of the sender.
    assert_eq!(t.tts.start_ms, 1090.0 + 800.0);
    assert_eq!(t.first_audio_out_ms, Some(1980.0));
    assert!(t.answered && t.false_end.is_none());
    let heard = d.first_audio_after(1100).unwrap();
    assert!((1970..=1990).contains(&heard), "echo started at {heard} ms");
    let counters = d.c.counters();
    assert_eq!((counters.turns, counters.answers_completed, counters.false_end_of_turn), (1, 1, 0));
}

#[test]
fn a_concealed_gap_longer_than_the_hangover_is_a_false_end_of_turn() {
    let mut d = Drive::new(Behaviour::Echo);
    // Speech 0–1000 ms, a 700 ms gap the jitter buffer concealed to near silence (a loss
    // burst), then the user carries on until 2500 ms.
    let talking = |t: u64| (10..1000).contains(&t) || (1700..2500).contains(&t);
    d.run(6000, talking, |t| (1000..1700).contains(&t));
    let turns = d.c.turns();
    assert_eq!(turns.len(), 2, "{turns:#?}");
    assert_eq!(turns[0].false_end, Some(FalseEndCause::Concealment));
    assert_eq!(turns[1].false_end, None);
    assert_eq!(d.c.counters().false_end_of_turn, 1);
    assert_eq!(d.c.counters().false_end_concealment, 1);
}

#[test]
fn a_plain_pause_longer_than_the_hangover_is_a_false_end_by_pause() {
    let mut d = Drive::new(Behaviour::Echo);
    d.run(6000, |t| (10..1000).contains(&t) || (1700..2500).contains(&t), |_| false);
    assert_eq!(d.c.turns()[0].false_end, Some(FalseEndCause::Pause));
    assert_eq!(d.c.counters().false_end_concealment, 0);
}

#[test]
fn barge_in_stops_the_agent_after_the_confirmation_time() {
    let clip = ScriptedClip { name: "long".into(), samples: speech().repeat(400) }; // 4 s answer
    let mut d = Drive::new(Behaviour::Scripted(vec![clip]));
    // User: 0–1000 ms; answer starts about 1880 ms; the user interrupts at 2500 ms.
    d.run(8000, |t| (10..1000).contains(&t) || (2500..3500).contains(&t), |_| false);
    let turns = d.c.turns();
    let stop = turns[0].barge_in_stop_ms.expect("barge-in recorded");
    assert_eq!(stop, BARGE_IN_CONFIRM.as_millis() as f64);
    assert!(!turns[0].answered, "an interrupted answer is not complete");
    assert_eq!(d.c.counters().barge_ins, 1);
    // Nothing from the first answer is sent after the stop (2510 + 200 ms).
    let loud_after: Vec<_> = d.sent.iter().filter(|&&(t, loud)| loud && (2720..3500).contains(&t)).collect();
    assert!(loud_after.is_empty(), "agent kept talking: {loud_after:?}");
}

#[test]
fn scripted_answers_rotate_through_the_list() {
    let a = ScriptedClip { name: "a".into(), samples: speech().repeat(10) };
    let b = ScriptedClip { name: "b".into(), samples: speech().repeat(20) };
    let mut d = Drive::new(Behaviour::Scripted(vec![a, b]));
    let talking = |t: u64| (10..500).contains(&t) || (3000..3500).contains(&t) || (6000..6500).contains(&t);
    d.run(9000, talking, |_| false);
    let lengths: Vec<f64> = d.c.turns().iter().map(|t| t.answer_ms).collect();
    assert_eq!(lengths, vec![100.0, 200.0, 100.0]);
    assert!(d.c.turns().iter().all(|t| t.answered));
}
