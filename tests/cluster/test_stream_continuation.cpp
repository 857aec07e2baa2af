// What a node answers Twilio's <Connect action> (actors/stream_continuation.hpp): <Hangup/> for
// a call ended on purpose or over, the call's next part for a stream that was lost, and the
// state that part starts from.
#include "actors/call_recovery.hpp"
#include "actors/stream_continuation.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace std::chrono_literals;
namespace actors = switchboard::actors;
using actors::after_stream;
using actors::call_state;
using actors::call_view;
using actors::decide_after_stream;

namespace {

const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

call_view view_of(call_state state, std::string end_reason, std::uint32_t part = 1) {
  call_view view;
  view.identity = {"CA1", "MZ1", "AC1", "+14155550100", "+14155550199", "d1"};
  view.state = state;
  view.end_reason = std::move(end_reason);
  view.started_at = t0;
  view.node = "node-b";
  view.revision = actors::part_revision_base(part) + 7;
  return view;
}

after_stream decide(std::optional<call_view> view, std::string call_status = "in-progress") {
  return decide_after_stream({std::move(call_status), std::move(view)});
}

}  // namespace

TEST_CASE("connect action: a call ended on purpose hangs up", "[stream_continuation]") {
  for (const char* reason :
       {"hung up by the bridge", "hung up through the API", "max call duration reached", "drained",
        "transferred to +14155550111", "twilio stop"}) {
    INFO(reason);
    CHECK(decide(view_of(call_state::ending, reason)) == after_stream::hang_up);
    CHECK(decide(view_of(call_state::ended, reason)) == after_stream::hang_up);
  }
}

TEST_CASE("connect action: a lost stream goes on", "[stream_continuation]") {
  for (const char* reason :
       {"node lost", "node crashed", "stream lost", "socket closed: end of stream",
        "twilio_socket failed: boom", "handed over"}) {
    INFO(reason);
    CHECK(decide(view_of(call_state::ended, reason)) == after_stream::continue_call);
  }
  // Live on its node: the stream is gone but nobody ended the call (its socket broke).
  CHECK(decide(view_of(call_state::live, "")) == after_stream::continue_call);
  // Nobody knows the call: its node died with it before anyone heard of it.
  CHECK(decide(std::nullopt) == after_stream::continue_call);
}

TEST_CASE("connect action: a call Twilio reports over hangs up whatever is known",
          "[stream_continuation]") {
  for (const char* status : {"completed", "canceled", "busy", "failed", "no-answer"}) {
    INFO(status);
    CHECK(decide(std::nullopt, status) == after_stream::hang_up);
    CHECK(decide(view_of(call_state::live, ""), status) == after_stream::hang_up);
  }
}

TEST_CASE("connect action: the next part starts from the lost part's node and the call's time zero",
          "[stream_continuation]") {
  const actors::call_identity from_action{"CA1", "", "AC1", "+14155550100", "+14155550199", ""};
  const auto lost = view_of(call_state::ended, "node lost", 2);
  const auto state = actors::continuation_state(from_action, lost, t0 + 95s);
  CHECK(state.identity.call_sid == "CA1");
  CHECK(state.identity.dial_id == "d1");  // as the call's node knew it
  CHECK(state.identity.stream_sid.empty());
  CHECK(state.started_at_ms == 1'800'000'000'000);
  CHECK(state.elapsed_ms == 95'000);
  REQUIRE(state.parts.size() == 1);
  CHECK(state.parts[0].number == 2);
  CHECK(state.parts[0].node == "node-b");
  CHECK(state.parts[0].end_reason == "node lost");
  CHECK(actors::continues_after_lost_part(state.parts));
  CHECK(state.conversation.empty());  // nothing survives a node's death but what peers knew

  // Still live on its node: the part's end is recorded as a lost stream.
  const auto live = actors::continuation_state(from_action, view_of(call_state::live, ""), t0 + 5s);
  REQUIRE(live.parts.size() == 1);
  CHECK(live.parts[0].end_reason == actors::stream_lost_end_reason);

  // Nothing known: the action's identity, time zero now, the lost part counted as the first.
  const auto unknown = actors::continuation_state(from_action, std::nullopt, t0);
  CHECK(unknown.identity.from == "+14155550100");
  CHECK(unknown.elapsed_ms == 0);
  REQUIRE(unknown.parts.size() == 1);
  CHECK(unknown.parts[0].number == 1);
  CHECK(actors::continues_after_lost_part(unknown.parts));
}

TEST_CASE("connect action: a drain's hand-over is not a dropped line", "[stream_continuation]") {
  CHECK_FALSE(actors::continues_after_lost_part({{1, "node-a", "handed over"}}));
  CHECK_FALSE(actors::continues_after_lost_part({}));
  CHECK(actors::continues_after_lost_part(
      {{1, "node-a", "handed over"}, {2, "node-b", std::string(actors::node_crashed_end_reason)}}));
}
