#pragma once
// The silence_clock actor: the 20 ms playout clock of one call.
//
//   idle ──call_started──▶ ticking ──stop──▶ stopped
//
// Agent audio goes out to Twilio through here, so that every chunk enters the playout timeline
// (and gets its mark) in the order Twilio will play it. Each tick plays the next 20 ms of the
// timeline into the agent recorder — μ-law silence when the agent is quiet — so the agent track
// is what the caller heard, on the same timeline as the caller track. Ticks follow absolute
// deadlines (start + n × 20 ms): a late tick catches up instead of drifting. The clock wakes
// every 100 ms and plays the slots due; events play the slots due before them first.

#include "actors/bridge_environment.hpp"
#include "actors/interfaces.hpp"
#include "actors/playout_timeline.hpp"
#include "metrics/call_log.hpp"

#include <caf/actor_clock.hpp>
#include <caf/typed_response_promise.hpp>

#include <deque>
#include <vector>

namespace switchboard::actors {

struct silence_clock_state {
  static inline const char* name = "silence_clock";

  std::optional<call_peers> peers;
  bridge_environment_ptr env;
  metrics::call_ids ids;
  playout_timeline timeline;
  // Marks sent to Twilio and not yet echoed, oldest first, with when they were sent (ns,
  // steady clock): the echo delay is how far Twilio's playout lags.
  std::deque<std::pair<std::string, std::int64_t>> marks_in_flight;
  bool ticking = false;
  caf::actor_clock::time_point started_at;
  playout_totals totals;
  bool audio_since_drained = false;  // audio was taken since the last playout_drained
  // drained_atom's askers, answered once everything sent has played.
  std::vector<caf::typed_response_promise<playout_drained>> drain_waiters;
  caf::actor_clock::time_point last_drain_report;  // when playout_drained was last sent
  std::vector<std::uint8_t> decoded;               // reused base64 decode buffer
  std::vector<std::uint8_t> heard_pending;         // slots played, not yet sent to the recorder
};

/// Ticks played at most per wake-up when the scheduler was late (1 s): beyond that the clock
/// resynchronises rather than flooding the recorder.
constexpr std::uint64_t max_catch_up_ticks = 50;

silence_clock_actor::behavior_type silence_clock(
    silence_clock_actor::stateful_pointer<silence_clock_state> self, bridge_environment_ptr env);

}  // namespace switchboard::actors
