#include "actors/stream_continuation.hpp"

#include "actors/call_recovery.hpp"

#include <algorithm>

namespace switchboard::actors {

bool lost_stream_end_reason(std::string_view end_reason) {
  // A hand-over whose next stream never began is lost too (Twilio asks the action of the
  // hand-over's TwiML when that stream cannot be opened); so is a part handed over while the
  // next one is not heard of yet, but that one is no dropped line (decide_after_stream).
  return end_reason == remote_call_book::lost_reason || end_reason == node_crashed_end_reason ||
         end_reason == stream_lost_end_reason || end_reason == handover_unclaimed_end_reason ||
         end_reason.starts_with("socket closed") || end_reason.starts_with("twilio_socket failed");
}

std::string_view to_string(after_stream verdict) {
  return verdict == after_stream::hang_up ? "hang up" : "continue";
}

after_stream decide_after_stream(const stream_end_facts& facts) {
  // Twilio's answer to a finished call is ignored anyway; say so plainly.
  static constexpr std::string_view over[] = {"completed", "canceled", "busy", "failed",
                                              "no-answer"};
  if (std::find(std::begin(over), std::end(over), facts.call_status) != std::end(over))
    return after_stream::hang_up;
  if (!facts.last_known)
    return after_stream::continue_call;  // no node knows it: it was lost with its node
  // Live: the stream is gone, and its node did not end the call (its socket broke and the
  // node has not seen it yet).
  if (facts.last_known->state == call_state::live)
    return after_stream::continue_call;
  const auto& reason = facts.last_known->end_reason;
  return lost_stream_end_reason(reason) || reason == handed_over_end_reason
             ? after_stream::continue_call
             : after_stream::hang_up;
}

std::uint32_t part_of(const call_view& view) {
  return static_cast<std::uint32_t>(view.revision >> 32) + 1;
}

call_handover_state continuation_state(const call_identity& from_action,
                                       const std::optional<call_view>& last_known,
                                       std::chrono::system_clock::time_point now) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  call_handover_state state;
  state.identity = last_known ? last_known->identity : from_action;
  if (state.identity.call_sid.empty())
    state.identity.call_sid = from_action.call_sid;
  if (state.identity.from.empty())
    state.identity.from = from_action.from;
  if (state.identity.to.empty())
    state.identity.to = from_action.to;
  if (state.identity.account_sid.empty())
    state.identity.account_sid = from_action.account_sid;
  state.identity.stream_sid.clear();  // the new stream brings its own
  const auto started_at = last_known ? last_known->started_at : now;
  state.started_at_ms = duration_cast<milliseconds>(started_at.time_since_epoch()).count();
  state.elapsed_ms = static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, duration_cast<milliseconds>(now - started_at).count()));
  if (last_known) {
    const bool ended = last_known->state != call_state::live && !last_known->end_reason.empty();
    state.parts.push_back({part_of(*last_known), last_known->node,
                           ended ? last_known->end_reason : std::string(stream_lost_end_reason)});
  } else {
    // Nothing known of the part that was lost: the next one is still the call's second.
    state.parts.push_back({1, {}, std::string(stream_lost_end_reason)});
  }
  return state;
}

bool continues_after_lost_part(const std::vector<call_part>& parts) {
  return !parts.empty() && lost_stream_end_reason(parts.back().end_reason);
}

}  // namespace switchboard::actors
