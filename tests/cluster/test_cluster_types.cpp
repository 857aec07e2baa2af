// Every type that crosses nodes (actors/cluster_message_types.cpp) goes to a second process and
// back intact. The second process is this test binary again, run as the hidden "echo peer"
// test: it registers the types as every node does, publishes an actor that answers each
// message with itself, and waits to be ended. A type missing from the registration on either
// side is dropped without an error in CAF 0.17.6: its round trip then times out here.
#include "actors/call_handover.hpp"
#include "actors/interfaces.hpp"
#include "actors/messages.hpp"
#include "app/cluster_node.hpp"
#include "sim/server_process.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

using namespace std::chrono_literals;
namespace actors = switchboard::actors;

namespace {

constexpr const char* echo_peer_test = "cluster types: the echo peer (run by the round trip)";

/// A call with every field set (and a transcript), as a show answer carries it.
actors::shared_call_view full_call() {
  actors::shared_call_view call;
  call.identity = {"CA0123456789abcdef0123456789abcdef",
                   "MZ0123456789abcdef0123456789abcdef",
                   "AC0123456789abcdef0123456789abcdef",
                   "+14155550100",
                   "+14155550199",
                   "dial-7"};
  call.direction = "outbound";
  call.state = "ended";
  call.started_at_ms = 1'800'000'000'123;
  call.ended_at_ms = 1'800'000'060'456;
  call.barge_ins = 3;
  call.end_reason = "hung up through the API";
  call.files = {"caller.wav", "call.json"};
  call.transcript = {{"caller", "item-1", "Hello, wörld", 1200},
                     {"agent", "item-2", "Hi! Your table", 2400, "is booked"}};
  call.revision = 7;
  return call;
}

/// A call's state at a hand-over with every field set: each kind of conversation item, a cut
/// agent turn, the transcript, the counters, the parts so far.
actors::call_handover_state full_handover() {
  actors::call_handover_state handed;
  handed.identity = full_call().identity;
  handed.instructions = "You book tables. Be brief.";
  handed.voice = "cedar";
  handed.metadata_json = R"({"customer":"4711"})";
  handed.conversation = {
      {0, "item-1", "I'd like a table for two", "", "", 0, false, 0, false},
      {1, "item-2", "Sure! Which day would suit you?", "", "", 2400, true, 1200, true},
      {2, "", R"({"day":"friday"})", "check_tables", "call-9", 0, false, 0, false},
      {3, "", R"({"free":true})", "", "call-9", 0, false, 0, false},
      {4, "", "42#", "", "", 0, false, 0, false},
      {5, "", "Please hold on.", "", "", 0, false, 0, false}};
  handed.conversation_items_dropped = 2;
  handed.transcript = full_call().transcript;
  handed.started_at_ms = 1'800'000'000'123;
  handed.elapsed_ms = 301'000;
  handed.barge_ins = 3;
  handed.truncations = 2;
  handed.responses = 9;
  handed.model_reconnects = 1;
  handed.parts = {{1, "node-a", "handed over"}};
  return handed;
}

}  // namespace

TEST_CASE("cluster types: the echo peer (run by the round trip)", "[.cluster_echo_peer]") {
  if (std::getenv("SWITCHBOARD_ECHO_PEER") == nullptr)
    return;
  caf::actor_system_config config;
  switchboard::app::configure_cluster(config);
  caf::actor_system system(config);
  // One (unused) argument: CAF 0.17 spawns an actor without arguments by dereferencing an
  // empty shared_ptr<std::tuple<>> (init_fun_factory), which UndefinedBehaviorSanitizer stops.
  auto echo = system.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {
            [](actors::node_heartbeat& x) { return x; },
            [](actors::call_announcement& x) { return x; },
            [](actors::call_snapshot& x) { return x; },
            [](actors::remote_call_request& x) { return x; },
            [](actors::remote_call_answer& x) { return x; },
            [](actors::call_token_claim& x) { return x; },
            [](actors::call_token_verdict& x) { return x; },
            [](actors::place_request& x) { return x; },
            [](actors::place_verdict& x) { return x; },
            [](actors::dial_budget_request& x) { return x; },
            [](actors::call_handover_offer& x) { return x; },
            [](actors::call_handover_answer& x) { return x; },
            [](actors::recording_chunk_request& x) { return x; },
            [](actors::recording_chunk& x) { return x; },
            [](actors::host_call_request& x) { return x; },
            [](actors::call_peers& x) { return x; },
            [](actors::call_started& x) { return x; },
            [](actors::call_stream_ended& x) { return x; },
            [](actors::caller_audio& x) { return x; },
            [](actors::caller_audio_batch& x) { return x; },
            [](actors::caller_keypress& x) { return x; },
            [](actors::mark_echoed& x) { return x; },
            [](actors::play_to_caller& x) { return x; },
            [](actors::close_stream& x) { return x; },
            [](actors::drain_call& x) { return x; },
        };
      },
      0);
  auto port = caf::io::publish(echo, 0, "127.0.0.1");
  REQUIRE(port);
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  ::pause();  // until the round trip's SIGTERM ends this process
}

TEST_CASE("cluster types: every cross-node type reaches another process and comes back intact",
          "[cluster_types]") {
  switchboard::sim::server_process_options options;
  options.executable = std::filesystem::read_symlink("/proc/self/exe");
  options.arguments = {echo_peer_test};
  options.environment = {"SWITCHBOARD_ECHO_PEER=1"};
  options.working_directory = std::filesystem::current_path();
  auto peer = switchboard::sim::server_process::spawn(options);
  REQUIRE(peer);
  auto port = (*peer)->wait_for_port(30s);
  REQUIRE(port);

  caf::actor_system_config config;
  switchboard::app::configure_cluster(config);
  caf::actor_system system(config);
  auto remote = system.middleman().remote_actor("127.0.0.1", *port);
  REQUIRE(remote);
  caf::scoped_actor self(system);
  const auto round_trip = [&](auto sent) {
    using type = decltype(sent);
    std::optional<type> back;
    self->request(*remote, 10s, sent)
        .receive([&](type& answer) { back = std::move(answer); },
                 [&](caf::error& error) { FAIL_CHECK(system.render(error)); });
    REQUIRE(back);
    CHECK(caf::deep_to_string(*back) == caf::deep_to_string(sent));
    return *back;
  };

  round_trip(actors::node_heartbeat{"node-a",
                                    "ready",
                                    12,
                                    3,
                                    100,
                                    0.75,
                                    "wss://voice.example.com/nodes/a/media-stream",
                                    "10.0.0.1:4000",
                                    {"10.0.0.2:4000", "10.0.0.3:4000"}});
  round_trip(actors::call_announcement{"node-a", full_call()});
  round_trip(actors::call_snapshot{"node-b", {full_call(), full_call()}});
  const auto request = round_trip(
      actors::remote_call_request{actors::remote_call_request::action::say, "0123456789ABCDEF#42",
                                  full_call().identity.call_sid, "Hello from another node."});
  CHECK(request.what == actors::remote_call_request::action::say);  // enums print as nothing
  round_trip(actors::remote_call_answer{409, "the call is already ending", full_call()});
  round_trip(actors::call_token_claim{"1800000300.bWFj.0123456789ABCDEF#42", "0123456789ABCDEF#42",
                                      1'800'000'300, "CA0123456789abcdef0123456789abcdef"});
  round_trip(actors::call_token_verdict{false, "call token already used by another stream"});
  round_trip(actors::place_request{"0123456789ABCDEF#42", "dial:0123456789abcdef", 30});
  round_trip(actors::place_verdict{false, "full (MAX_CALLS 4)"});
  round_trip(actors::dial_budget_request{"0123456789ABCDEF#42"});
  const auto offer =
      round_trip(actors::call_handover_offer{"0123456789ABCDEF#42", full_handover()});
  // deep_to_string prints what the inspectors see; the numbers and flags are checked too.
  REQUIRE(offer.state.conversation.size() == 6);
  CHECK(offer.state.conversation[1].cut);
  CHECK(offer.state.conversation[1].heard_ms == 1200);
  CHECK(offer.state.conversation[5].what == 5);
  CHECK(offer.state.elapsed_ms == 301'000);
  CHECK(offer.state.parts.front().node == "node-a");
  round_trip(actors::call_handover_answer{true, "00112233445566778899aabbccddeeff", {}});
  round_trip(actors::recording_chunk_request{"0123456789ABCDEF#42",
                                             "CA0123456789abcdef0123456789abcdef", "stereo.wav",
                                             3 * actors::recording_chunk_bytes});
  // A whole chunk of every byte value: what a WAV holds.
  std::string bytes(actors::recording_chunk_bytes, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i % 256);
  const auto chunk = round_trip(actors::recording_chunk{200, {}, 5 * bytes.size(), bytes});
  CHECK(chunk.bytes == bytes);
  CHECK(chunk.total == 5 * bytes.size());
  // A call hosted by a peer: the request, and everything between its twilio_socket and the
  // actors on the host. The handles go out and come back as this process's own actors.
  const auto socket = caf::actor_cast<actors::twilio_socket_actor>(self);
  const auto hosted = round_trip(actors::host_call_request{"0123456789ABCDEF#42", socket});
  CHECK(hosted.twilio == socket);
  actors::call_peers peers;
  peers.supervisor = caf::actor_cast<actors::call_supervisor_actor>(self);
  peers.twilio = socket;
  peers.model = caf::actor_cast<actors::openai_session_actor>(self);
  peers.clock = caf::actor_cast<actors::silence_clock_actor>(self);
  peers.caller_recorder = caf::actor_cast<actors::recorder_actor>(self);
  peers.agent_recorder = caf::actor_cast<actors::recorder_actor>(self);
  const auto peers_back = round_trip(peers);
  CHECK(peers_back.supervisor == peers.supervisor);
  CHECK(peers_back.agent_recorder == peers.agent_recorder);
  const auto started =
      round_trip(actors::call_started{full_call().identity,
                                      "00112233445566778899aabbccddeeff",
                                      {"You book tables.", "cedar", R"({"customer":"Ada"})"}});
  CHECK(started.overrides.voice == "cedar");
  const auto ended = round_trip(actors::call_stream_ended{"socket closed: connection lost", false,
                                                          true, 61'020, 3051, 2400, 2, 120});
  CHECK(ended.stopped);
  CHECK(ended.frames_in == 3051);
  round_trip(actors::caller_audio{61'000, "//////////8=", 0});
  const auto batch = round_trip(
      actors::caller_audio_batch{{{61'020, "//////////8=", 0}, {61'040, "f39/fw==", 0}}});
  REQUIRE(batch.frames.size() == 2);
  CHECK(batch.frames[1].timestamp_ms == 61'040);
  CHECK(batch.frames[1].payload_base64 == "f39/fw==");
  round_trip(actors::caller_keypress{'#'});
  round_trip(actors::mark_echoed{"item-2:41"});
  round_trip(actors::play_to_caller{"f39/fw==", "item-2:42", 0});
  const auto closed = round_trip(actors::close_stream{1013, "node full"});
  CHECK(closed.code == 1013);
  const auto drained = round_trip(actors::drain_call{"We are moving lines, goodbye.", 7'000});
  CHECK(drained.goodbye_bound_ms == 7'000);
  CHECK((*peer)->terminate() != 0);  // ended by SIGTERM
}
