#pragma once
// The openai_session actor: the call's Realtime session.
//
//   idle ──connect──▶ connecting ──opened──▶ ready ──link lost──▶ reconnecting ──opened──▶ ready
//                        └─ refused/failing × max_attempts ──▶ unavailable (the call ends)
//   any ──close──▶ closed
//
// On every (re)connect it sends session.update (audio/pcmu both ways, voice, instructions, turn
// detection, transcription), then the caller audio that arrived while it was not ready
// (bounded), then live audio. Server events become messages to the supervisor; an `error`
// event is logged and counted and the call goes on. Conversation state is not carried across a
// reconnect (replay comes with the model-reconnect work).
//
// The agent acts: GREETING and say_request become a response.create whose instructions carry
// the words; keypad entries a user message; the model's function calls go to the supervisor
// (end_call, transfer_call) or to the user's tools (call_actions), whose results return as
// function_call_output. Each response we ask for waits until the model has none active.

#include "actors/bridge_environment.hpp"
#include "actors/interfaces.hpp"
#include "metrics/call_log.hpp"

#include <deque>
#include <random>

namespace switchboard::actors {

struct openai_session_state {
  static inline const char* name = "openai_session";

  bridge_environment_ptr env;
  net::realtime_session_config session;  // the node's, with this call's overrides
  std::optional<call_peers> peers;
  std::shared_ptr<model_link> link;
  std::uint32_t link_id = 0;
  bool ready = false;
  bool closing = false;
  bool ever_connected = false;
  unsigned attempts = 0;  // failed attempts in the current outage
  std::uint64_t reconnects = 0;
  std::deque<std::string> held_audio;  // base64 frames waiting for a ready session
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
  // Responses we ask for (say, greeting, keypad, tool results): the model runs one at a time,
  // so each waits until none is active. An entry holds the response's instructions (empty:
  // the session's).
  bool response_active = false;
  std::deque<std::string> responses_wanted;
  std::deque<std::string> held_items;  // conversation items waiting for a ready session
  bool greeted = false;
};

openai_session_actor::behavior_type openai_session(
    openai_session_actor::stateful_pointer<openai_session_state> self, bridge_environment_ptr env);

/// Backoff before attempt `attempt` (1-based): first_delay × 2^(attempt-1), capped, ± jitter.
std::chrono::milliseconds reconnect_delay(const reconnect_policy& policy, unsigned attempt,
                                          double unit_random);

}  // namespace switchboard::actors
