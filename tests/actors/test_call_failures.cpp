// A child of a call that fails (an exception, a bug) must not take the call's bookkeeping with
// it: under CAF's deterministic scheduler each kind of child is killed in turn, mid-call, and the
// call still ends cleanly — call.json written (naming the failure), the registry told, the
// active-calls gauge back to zero, the call among the recent ones, its marker gone.
#include "actor_test_fixture.hpp"
#include "actors/call_recovery.hpp"
#include "actors/call_supervisor.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"
#include "wire_json.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace switchboard;
using namespace switchboard::actors;
using namespace switchboard::actors::testing;
using namespace std::chrono_literals;
using switchboard::testing::read_text;

namespace {

using supervisor_pointer = call_supervisor_actor::stateful_pointer<call_supervisor_state>;

/// The children of a running call, read from its supervisor's state (the test coordinator runs
/// nothing while the test reads it).
const call_peers& children_of(const call_supervisor_actor& supervisor) {
  auto* actor = caf::actor_cast<caf::abstract_actor*>(supervisor);
  return dynamic_cast<supervisor_pointer>(actor)->state.peers;
}

caf::actor_addr child_of_kind(const call_peers& peers, std::string_view kind) {
  if (kind == "twilio_socket")
    return caf::actor_cast<caf::actor_addr>(peers.twilio);
  if (kind == "openai_session")
    return caf::actor_cast<caf::actor_addr>(peers.model);
  if (kind == "silence_clock")
    return caf::actor_cast<caf::actor_addr>(peers.clock);
  if (kind == "caller recorder")
    return caf::actor_cast<caf::actor_addr>(peers.caller_recorder);
  return caf::actor_cast<caf::actor_addr>(peers.agent_recorder);
}

metrics::actor_kind metric_kind(std::string_view kind) {
  if (kind == "twilio_socket")
    return metrics::actor_kind::twilio_socket;
  if (kind == "openai_session")
    return metrics::actor_kind::openai_session;
  if (kind == "silence_clock")
    return metrics::actor_kind::silence_clock;
  return metrics::actor_kind::recorder;
}

}  // namespace

TEST_CASE("a call whose child fails still ends with call.json the registry and the gauge right",
          "[call_supervisor][child_failure]") {
  const std::string kind = GENERATE(as<std::string>{}, "twilio_socket", "openai_session",
                                    "silence_clock", "caller recorder", "agent recorder");
  CAPTURE(kind);
  actor_fixture fixture;
  temporary_directory recordings;
  auto model = std::make_shared<fake_model_links>();
  auto env = std::make_shared<bridge_environment>();
  env->model_links = model;
  env->recordings_dir = recordings.path();
  auto twilio = std::make_shared<recording_connection>();
  auto ingress = std::make_shared<frame_ingress>();
  const std::string call_sid = "CA00000000000000000000000000000013";
  const std::string stream_sid = "MZ00000000000000000000000000000013";
  std::uint64_t sequence = 1;
  net::twilio_start start;
  start.sequence_number = sequence++;
  start.stream_sid = stream_sid;
  start.account_sid = "AC00000000000000000000000000000013";
  start.call_sid = call_sid;
  start.tracks = {"inbound"};
  start.media_format = {"audio/x-mulaw", 8000, 1};
  ingress->deliver({twilio_json(start), true});
  const auto supervisor =
      spawn_local_call(fixture.system, bridge_environment_ptr(env),
                       std::weak_ptr<net::websocket_connection>(twilio), ingress);
  fixture.run();
  model->connection_event(realtime_link_event::kind::opened);
  model->server_sends(model_json(net::realtime_session_updated{"ev0", {}}));
  fixture.run();
  std::uint64_t caller_ms = 0;
  const auto caller_speaks = [&](int frames) {
    for (int i = 0; i < frames; ++i) {
      ingress->deliver(
          {twilio_json(net::twilio_media{sequence++, stream_sid, "inbound", sequence, caller_ms,
                                         net::encode_base64(std::vector<std::uint8_t>(160, 0x22))}),
           true});
      caller_ms += 20;
      fixture.advance(20ms);
    }
  };
  caller_speaks(10);
  REQUIRE(env->metrics->active_calls().Value() == 1);
  const auto live = env->directory->live();
  REQUIRE(live.size() == 1);

  // The child fails as an uncaught exception would end it.
  const auto failures_before = env->metrics->actor(metric_kind(kind)).failures->Value();
  caf::anon_send_exit(child_of_kind(children_of(supervisor), kind),
                      caf::exit_reason::unhandled_exception);
  fixture.run();

  const bool recorder_failed = kind.ends_with("recorder");
  if (recorder_failed) {
    // A failed recording must not drop the bridge: the call goes on, then Twilio stops it.
    CHECK_FALSE(twilio->closed());
    CHECK(env->calls->finished_calls() == 0);
    caller_speaks(5);
    ingress->deliver(
        {twilio_json(net::twilio_stop{sequence++, stream_sid, start.account_sid, call_sid}), true});
    fixture.run();
  } else {
    // The caller would hear nothing more: the bridge closes the stream itself.
    CHECK(twilio->closed());
  }

  const auto finished = env->calls->wait_for_finished(1, 10s);
  REQUIRE(finished.size() == 1);
  const auto& outcome = finished[0];
  CHECK(outcome.started);
  CHECK(env->calls->active_calls() == 0);
  CHECK(env->metrics->active_calls().Value() == 0);
  CHECK(env->metrics->actor(metric_kind(kind)).failures->Value() == failures_before + 1);
  CHECK(env->directory->live().empty());
  const auto recent = env->directory->recent();
  REQUIRE(recent.size() == 1);
  CHECK(recent[0].identity.call_sid == call_sid);
  if (!recorder_failed)
    CHECK(outcome.end_reason == kind + " failed: exit_reason(unhandled_exception)");

  REQUIRE_FALSE(outcome.directory.empty());
  const auto call_json = boost::json::parse(read_text(outcome.directory / "call.json"));
  bool problem_named = false;
  for (const auto& problem : call_json.at("problems").as_array())
    problem_named = problem_named || problem.as_string().starts_with(kind + " failed");
  CHECK(problem_named);
  CHECK_FALSE(std::filesystem::exists(outcome.directory / call_marker_name));
  // The surviving track is whole; the failed recorder's track keeps what reached its file.
  if (kind != "caller recorder")
    CHECK(std::filesystem::exists(outcome.directory / "caller.wav"));
}
