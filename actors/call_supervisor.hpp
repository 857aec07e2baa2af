#pragma once
// The call_supervisor actor: one per call. Spawns the call's five actors, wires them together
// (call_peers), and owns what spans them: the call's identity and counters, barge-in, the
// transcript, and the end of the call.
//
//   awaiting_start ──call_started (admitted)──▶ active ──call_stream_ended / model unavailable──▶
//   ending awaiting_start ──START_TIMEOUT, or call_started refused (full, overloaded)──▶ ending A
//   call counts (active_calls, the registry, admission) only from its admitted `start`: the model
//   session, the recordings and the live view begin there too. ending: close the model session,
//   stop the clock, pad and close both recordings, then a detached finaliser writes the mixes,
//   transcript.jsonl and call.json (RECORDINGS_DIR/<date>/<CallSid>/) and reports the outcome to
//   the call registry.
//
// Control: hangup_request (API, end_call, guards) closes the Twilio stream — after the agent's
// last audio has played when asked; say_request and keypad entries go to the model; guards
// (idle, maximum length) and the keypad pause run on one self-addressed guard_check.
//
// Drain: drain_call (the node's DRAIN_TIMEOUT passed) asks the model for the goodbye, hangs up
// once it has played (bounded), and the call ends with end_reason "drained" (outcome drained).
// Or the call is handed over to a peer (actors/call_handover.hpp): handover_atom gathers the
// call's state (the model session's conversation too); Twilio's `stop` then ends this part as
// "handed over". On the peer, a `start` carrying the hand-over key seeds the new call with it.
//
// Children: all five are linked (they die with the supervisor), and the supervisor traps their
// exits: a child that fails (an exception, a bug) is logged and counted, and the call goes on
// without it or ends cleanly — the Twilio socket, the model session or the clock failing ends
// the call (hang-up, then the usual end); a recorder failing loses its track only. Either way
// call.json is written, the registry and the active-calls gauge are right.
//
// Barge-in (input_audio_buffer.speech_started while agent audio is unplayed): the silence clock
// sends Twilio `clear` and cuts the playout; the supervisor sends conversation.item.truncate at
// the position the caller heard (clamped to what was sent for the item). Response state
// (cancel, late deltas, what is wanted) is the model session's alone (response_turns): the
// supervisor waits for its goodbye by the say_request's tag, which survives a reconnect.

#include "actors/bridge_environment.hpp"
#include "actors/call_summary.hpp"
#include "actors/frame_ingress.hpp"
#include "actors/interfaces.hpp"
#include "net/websocket.hpp"

#include <unordered_map>

namespace switchboard::actors {

/// The end reason of a call the node's drain ended (call.json, GET /calls, outcome "drained").
inline constexpr std::string_view drained_end_reason = "drained";

struct call_supervisor_state {
  static inline const char* name = "call_supervisor";

  bridge_environment_ptr env;
  call_peers peers;
  bool started = false;
  bool ending = false;
  std::chrono::steady_clock::time_point started_steady;
  std::filesystem::path directory;
  call_record record;

  // Transcript offsets: when each caller item started (the model's audio_start_ms) and when
  // each agent item's first audio reached the playout.
  std::unordered_map<std::string, std::uint64_t> caller_item_start_ms;
  std::unordered_map<std::string, std::uint64_t> agent_item_start_ms;

  std::size_t recordings_pending = 0;
  // The directory is made on the node's file thread (call_directory_made): the recorders get
  // their targets, and the call's end its recordings, once it is known.
  bool directory_pending = false;
  std::optional<std::uint64_t> finalize_when_directory_known;  // the call's length in samples
  // Children that failed (an exception, a bug), by kind: not asked anything again.
  std::set<std::string> failed_children;

  // Call control, tools and guards.
  std::optional<call_guards> guards;
  std::optional<keypad_gatherer> keypad;
  std::uint64_t guard_generation = 0;                     // of the latest guard_check scheduled
  std::optional<guard_clock::time_point> guard_check_at;  // when that check fires
  // A hang-up waiting for the agent's last words: set by end_call (after the audio already
  // sent) or by a guard (after the goodbye response it asked for).
  std::optional<std::string> hangup_after_playout;
  std::optional<std::string> hangup_after_response;  // when the goodbye's response finishes
  std::string hangup_reason;                         // ours, when the bridge ended the call
  bool drain_requested = false;                      // drain_call came: the goodbye is under way
  // A transfer asked of Twilio and not yet answered: Twilio may end the stream for it before
  // its answer to the redirect arrives.
  std::string transfer_pending_to;
  // The drain hands the call to a peer: its state went out, Twilio's `stop` (which may come
  // before its answer to the update) ends this part as "handed over". Cleared by the fallback.
  bool handover_pending = false;
  // A call handed over to this node: where this part starts on the call's timeline.
  std::uint64_t part_offset_ms = 0;
};

/// The supervisor of the call whose Twilio socket `twilio` serves (spawn_twilio_socket): on
/// the socket's node, or on a peer that hosts the call (host_call_request).
call_supervisor_actor::behavior_type call_supervisor(
    call_supervisor_actor::stateful_pointer<call_supervisor_state> self, bridge_environment_ptr env,
    twilio_socket_actor twilio);

/// A call on this node: its twilio_socket for `connection` and its supervisor.
call_supervisor_actor spawn_local_call(caf::actor_system& system, bridge_environment_ptr env,
                                       std::weak_ptr<net::websocket_connection> connection,
                                       std::shared_ptr<frame_ingress> ingress);

}  // namespace switchboard::actors
