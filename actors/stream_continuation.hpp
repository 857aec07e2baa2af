#pragma once
// A call whose media stream ended without anyone ending the call (README "Reliability").
//
// Every <Connect> switchboard issues names an action URL on PUBLIC_URL. When a stream ends,
// Twilio requests it (net/twilio_webhook.hpp, app/connect_action.hpp), and any node answers:
//
//   the bridge or the agent ended the call (a hang-up, a guard, a drain's goodbye)
//       ──▶ <Hangup/>
//   the stream was lost: its node died (kill -9, OOM: "node lost" in the cluster's view, "node
//   crashed" once it restarted), its socket broke ("socket closed: …"), or nothing is known
//       ──▶ a new <Connect><Stream> to a ready node, which continues the call as its next part:
//           a fresh model session told that the line dropped, the call's identity, its
//           parts so far and its time zero (the gap is measured from the action's arrival).
//
// The node that ends a call on purpose marks it ending (with why) before it closes the
// socket, so that its answer to "how did this call end" is right even when the action arrives
// before the socket's close has been handled.
//
// Pure logic: the decision and the state the next part starts from; unit-tested directly.

#include "actors/call_directory.hpp"
#include "actors/call_handover.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

/// How the lost part of a call ended when nothing better is known: its node said nothing.
inline constexpr std::string_view stream_lost_end_reason = "stream lost";

/// True for an end reason that says the stream was lost rather than ended by anyone: the call
/// goes on after it, and its next part says the line dropped.
bool lost_stream_end_reason(std::string_view end_reason);

enum class after_stream { hang_up, continue_call };
std::string_view to_string(after_stream verdict);

/// What the node answering the action knows when it decides.
struct stream_end_facts {
  std::string call_status;              // the action request's CallStatus
  std::optional<call_view> last_known;  // the call's node's own view, else the cluster's
};

/// <Hangup/> when the call is over or was ended on purpose; else the call goes on (also after a
/// part "handed over", when no later part is known: its stream did not come).
after_stream decide_after_stream(const stream_end_facts& facts);

/// The part a view of the call belongs to (its revisions' base, call_directory.hpp).
std::uint32_t part_of(const call_view& view);

/// What the next part of a call starts from: the identity as known (else the action's
/// CallSid, From and To), the part that was lost with how it ended, the call's time zero, and
/// how long it had run when the action came.
call_handover_state continuation_state(const call_identity& from_action,
                                       const std::optional<call_view>& last_known,
                                       std::chrono::system_clock::time_point now);

/// True when the parts end with one that was lost rather than handed over: the part starting
/// now continues after a dropped line.
bool continues_after_lost_part(const std::vector<call_part>& parts);

/// What the model session of such a part is asked to do first, instead of a greeting.
inline constexpr std::string_view line_dropped_instructions =
    "The phone line dropped for a moment and the caller has just been reconnected to you. "
    "Apologise briefly for the interruption, then continue the conversation where it left off; "
    "if you do not know where that was, ask how you can help.";

}  // namespace switchboard::actors
