#pragma once
// The openai_session actor: the call's Realtime session.
//
//   idle ──connect──▶ connecting ──opened──▶ configuring ──session.updated──▶ ready
//                        ▲                        │ MODEL_READY_TIMEOUT            │ lost, or
//                        │                        ▼                                │ silent
//                        └─── backoff ─── reconnecting ◀───────────────────────────┘
//   reconnecting × max_attempts (refused, unreachable, closed, not ready in time, silent)
//     ──▶ unavailable: the supervisor plays the apology prompt and ends the call
//   any ──close──▶ closed
//   ready, 55 min into a session (MAX_CALL_DURATION 0 or above 60 min): a standby link opens and
//     is configured; at the next turn boundary the call switches to it (the conversation
//     replayed first) and the old one is closed; if the old one ends first, the standby takes
//     over at once.
//
// On every (re)connect it sends session.update (audio/pcmu both ways, voice, instructions, turn
// detection, transcription) and holds the caller's audio (bounded) until the model answers
// with session.updated; then the held audio, then live audio. A link is watched
// (model_link_watch): one that accepts the upgrade and never answers the configuration, or that
// goes quiet while the caller talks and does not answer a probe, is closed and counts as lost
// — an open socket is not a working model. Server events become messages to the supervisor; an
// `error` event is logged and counted and the call goes on.
//
// The conversation is the call's (actors/conversation.hpp), not the link's: every session, the
// first and each one after a reconnect, gets session.update, then the conversation so far as
// conversation.item.create events, then the caller's audio held while no session was ready —
// so nothing the caller says meanwhile is committed before the model knows the call. A response
// the drop cut off is not asked again from its start: the next session is asked to continue it
// from the words the caller heard (a say request: to say the rest of its words).
//
// Response state has one owner, response_turns: what is asked for, active, interrupted (its
// late deltas are dropped here), and wanted; a barge-in cancels the active response from here.
//
// The agent acts: GREETING and say_request become a response.create whose instructions carry
// the words; keypad entries a user message; the model's function calls go to the supervisor
// (end_call, transfer_call) or to the user's tools (call_actions), whose results return as
// function_call_output. Each response we ask for waits until the model has none active.

#include "actors/bridge_environment.hpp"
#include "actors/conversation.hpp"
#include "actors/interfaces.hpp"
#include "actors/model_link_watch.hpp"
#include "actors/response_turns.hpp"
#include "metrics/call_log.hpp"

#include <caf/actor_clock.hpp>

#include <deque>
#include <optional>
#include <random>
#include <set>

namespace switchboard::actors {

struct openai_session_state {
  static inline const char* name = "openai_session";

  bridge_environment_ptr env;
  net::realtime_session_config session;  // the node's, with this call's overrides
  std::optional<call_peers> peers;
  std::shared_ptr<model_link> link;
  std::uint32_t link_id = 0;       // the current link's; events of any other are old news
  std::uint32_t last_link_id = 0;  // the last one given to a link
  bool ready = false;              // configured: session.updated came back on the current link
  bool closing = false;
  bool ever_ready = false;
  unsigned attempts = 0;  // failed attempts in the current outage
  bool outage = false;    // a link failed and no new one is ready yet
  model_link_watch watch;
  std::uint64_t watch_generation = 0;                          // of the latest check scheduled
  std::optional<caf::actor_clock::time_point> watch_check_at;  // when that check fires
  std::uint64_t reconnects = 0;
  std::deque<std::string> held_audio;  // base64 frames waiting for a ready session
  // Frames sent of the caller's turn in progress, not yet committed by the model: a session
  // lost mid-turn takes them with it, so they are sent again to the next one. Between turns
  // only the last few are kept (the turn detector's prefix padding).
  std::deque<std::string> uncommitted_audio;
  std::uint64_t dropped_audio_frames = 0;
  std::string outbound;  // reused serialisation buffer
  std::minstd_rand jitter{std::random_device{}()};
  metrics::call_ids ids;                // for logs
  std::int64_t connect_started_ns = 0;  // the current connection attempt (model connect time)
  // When the model heard the caller stop (speech_stopped), until its next audio: the time to
  // first audio, the wait a caller feels.
  std::optional<std::int64_t> speech_stopped_ns;
  call_identity identity;     // for the context of tool calls
  std::string metadata_json;  // an outbound call's POST /calls metadata, for its tools
  response_turns turns;       // the one owner of response state
  conversation talk;          // the call's conversation, replayed into every new session
  std::set<std::string> agent_items_here;  // the agent items of the current session
  std::string open_agent_item;  // the agent item being generated (no transcript.done yet)
  std::uint64_t replays = 0;    // sessions that were given the conversation
  // The next session, opened before the current one reaches the API's lifetime and switched to
  // at a turn boundary (nothing asked for or being said, the caller not speaking).
  std::shared_ptr<model_link> standby;
  std::uint32_t standby_id = 0;
  bool standby_ready = false;  // it answered its session.update
  std::uint64_t renewal_generation = 0;
  std::uint64_t session_switches = 0;
  bool caller_speaking = false;  // between speech_started and speech_stopped
  bool greeted = false;
};

openai_session_actor::behavior_type openai_session(
    openai_session_actor::stateful_pointer<openai_session_state> self, bridge_environment_ptr env);

/// Backoff before attempt `attempt` (1-based): first_delay × 2^(attempt-1), capped, ± jitter.
std::chrono::milliseconds reconnect_delay(const reconnect_policy& policy, unsigned attempt,
                                          double unit_random);

}  // namespace switchboard::actors
