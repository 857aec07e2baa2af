// The drain's hand-over (README "Drain", actors/call_handover.hpp) end to end: node A in this
// process (its counters readable after it stopped), node B a real `switchboard serve` child in
// A's cluster, the Twilio REST stand-in and the model stand-in in this process. A call placed
// on A is live at DRAIN_TIMEOUT: A sends its state to B, Twilio's call update ends A's stream
// and opens B's, the model session on B is given the conversation so far, and the call goes on
// there to its end. Without a peer, the call hears the goodbye instead. Every state is awaited
// through futures, the call registry or polling B's API with a bound for a broken test only.
#include "bridge_harness.hpp"
#include "cluster/process_support.hpp"
#include "net/twiml.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/running_io.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* api_token = "handover-token";
constexpr const char* callee = "+14155550102";

std::string stream_url_of(const std::string& name) {
  return "wss://" + name + ".handover.test/media-stream";
}

net::http_client_request api_post(std::string body = {}) {
  net::http_client_request post;
  post.method = "POST";
  post.headers = {{"Authorization", std::string("Bearer ") + api_token},
                  {"Content-Type", "application/json"}};
  post.body = std::move(body);
  return post;
}

std::size_t count_files(const std::filesystem::path& recordings, const std::string& name) {
  return static_cast<std::size_t>(
      std::count_if(std::filesystem::recursive_directory_iterator(recordings),
                    std::filesystem::recursive_directory_iterator(),
                    [&](const auto& entry) { return entry.path().filename() == name; }));
}

/// GET /cluster's rows at `port` (none when it does not answer).
std::vector<boost::json::object> cluster_rows(std::uint16_t port) {
  std::vector<boost::json::object> rows;
  const auto view = cluster::http_request(port, "GET", "/cluster", api_token);
  if (!view || view->status != 200)
    return rows;
  const auto parsed = view->json();
  for (const auto& row : parsed.at("nodes").as_array())
    rows.push_back(row.as_object());
  return rows;
}

bool sees_both_ready(std::uint16_t port) {
  const auto rows = cluster_rows(port);
  return rows.size() == 2 && std::all_of(rows.begin(), rows.end(), [](const auto& row) {
           return row.at("state") == "ready";
         });
}

/// The in-process node's cluster settings (node A, NODE_STREAM_URL, DRAIN_TIMEOUT 0: the
/// deadline at the drain's first look).
void join_as_node_a(config::settings& settings) {
  settings.api_token = api_token;
  settings.cluster_port = 0;
  settings.cluster_insecure = true;
  settings.node_stream_url = stream_url_of("node-a");
  settings.drain_timeout_s = 0;
}

/// Node B: `switchboard serve` in A's cluster, ready as A sees it and seeing A ready, with the
/// same Twilio auth token (call tokens verify on both) and A's model stand-in.
struct peer_node {
  peer_node(bridge_harness& a, const std::filesystem::path& dir) : recordings(dir / "recordings") {
    // A's node actor learns its own address by message once published: its row may not be
    // there at the first look.
    std::string a_address;
    REQUIRE(cluster::eventually([&] {
      for (const auto& row : cluster_rows(a.server().port())) {
        if (row.at("self").as_bool())
          a_address = std::string(row.at("address").as_string());
      }
      return !a_address.empty();
    }));
    sim::server_process_options options;
    options.executable = cluster::executable();
    options.arguments = {"serve"};
    options.working_directory = dir;
    options.environment = {"PORT=0",
                           "BIND_ADDRESS=127.0.0.1",
                           "IO_THREADS=1",
                           "NODE_NAME=node-b",
                           "NODE_STREAM_URL=" + stream_url_of("node-b"),
                           "CLUSTER_PORT=0",
                           "CLUSTER_INSECURE=true",
                           "CLUSTER_SEEDS=" + a_address,
                           std::string("API_TOKEN=") + api_token,
                           "TWILIO_AUTH_TOKEN=" + a.auth_token(),
                           std::string("TWILIO_ACCOUNT_SID=") + account_sid,
                           "OPENAI_API_KEY=sk-harness",
                           "OPENAI_REALTIME_URL=" + a.model().url() + "?model=gpt-realtime",
                           "MAX_LOOP_LAG_MS=0",
                           "RECORDINGS_DIR=" + recordings.string(),
                           "LOG_LEVEL=info"};
    auto spawned = sim::server_process::spawn(options);
    REQUIRE(spawned);
    process = std::move(*spawned);
    const auto listening = process->wait_for_port(30s);
    REQUIRE(listening);
    port = *listening;
    REQUIRE(cluster::eventually(
        [&] { return sees_both_ready(a.server().port()) && sees_both_ready(port); }));
  }

  std::filesystem::path recordings;
  std::unique_ptr<sim::server_process> process;
  std::uint16_t port = 0;
};

}  // namespace

TEST_CASE("at DRAIN_TIMEOUT a live call moves to the ready peer and goes on there to its end",
          "[handover][end_to_end]") {
  namespace metrics = switchboard::metrics;
  running_io twilio_io;
  sim::twilio_rest_server_options rest;
  rest.account_sid = account_sid;
  rest.auth_token = "harness-auth-token";  // both nodes' TWILIO_AUTH_TOKEN
  // On A: a turn with the agent, then on hold until the hand-over's update ends the stream.
  // On B (the stream the update opened): another turn, then the caller hangs up.
  std::promise<void> never;
  std::promise<void> holding;
  sim::callee_behaviour answering;
  answering.script = {sim::speak(sim::fixture_audio(sim::speech_fixture::caller_request)),
                      sim::wait_for_agent_audio(500ms),
                      sim::hold_until(
                          never.get_future().share(), [&] { holding.set_value(); }, 120s)};
  answering.script_after_redirect = {sim::speak(first(sim::speech_fixture::caller_request, 1500ms)),
                                     sim::wait_for_agent_audio(500ms), sim::hangup()};
  rest.callee_by_number[callee] = answering;
  auto twilio = sim::twilio_rest_server::start(twilio_io.io, rest);
  REQUIRE(twilio.has_value());

  temporary_directory b_dir;
  bridge_harness::options options;
  options.node_name = "node-a";
  options.configure = [&](config::settings& settings) {
    join_as_node_a(settings);
    settings.allowed_destinations = {"+1415"};
    settings.twilio_account_sid = account_sid;
    settings.twilio_phone_number = "+15005550006";
    settings.twilio_api_base = (*twilio)->base_url();
    settings.public_url = "http://127.0.0.1:9";  // status callbacks: a closed port
  };
  bridge_harness harness(options);
  const auto a_port = harness.server().port();
  peer_node b(harness, b_dir.path());
  (*twilio)->set_stream_connect_address_for("node-a.handover.test",
                                            "127.0.0.1:" + std::to_string(a_port));
  (*twilio)->set_stream_connect_address_for("node-b.handover.test",
                                            "127.0.0.1:" + std::to_string(b.port));

  // The call, placed on A (a tie between two idle nodes goes to the node that answers).
  const auto placed =
      harness.send(a_port, "/calls", api_post(R"({"to":")" + std::string(callee) + R"("})"));
  INFO(placed.body);
  REQUIRE(placed.status == 201);
  const auto call_sid =
      std::string(boost::json::parse(placed.body).as_object().at("call_sid").as_string());
  REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);

  // The drain, its deadline at once: the call is handed over.
  REQUIRE(harness.send(a_port, "/drain", api_post()).status == 202);
  auto finished = (*twilio)->when_finished(call_sid);
  REQUIRE(finished.wait_for(120s) == std::future_status::ready);
  const auto call = finished.get();

  // Twilio's view: A's stream, then B's, which ran its script to the caller's hang-up.
  REQUIRE(call.streams.size() == 2);
  CHECK(call.streams[0].stream_url == stream_url_of("node-a"));
  CHECK_FALSE(call.streams[0].script_completed);  // ended by the update, on hold
  CHECK(call.streams[1].stream_url == stream_url_of("node-b"));
  INFO(call.streams[1].error);
  CHECK(call.streams[1].ok());
  CHECK(call.streams[1].script_completed);
  CHECK(call.streams[1].agent_bytes_played > 0);
  REQUIRE(call.stream_gaps.size() == 1);
  std::cout << "hand-over gap (caller side, end of A's stream to the first frame on B's): "
            << call.stream_gaps.front().count() << " ms\n";

  // A: counted, its part ended as handed over, and it stopped by itself.
  harness.server().wait(false);
  auto& a_metrics = harness.server().metrics();
  CHECK(a_metrics.calls_handed_over(metrics::handover_result::handed_over).Value() == 1);
  CHECK(a_metrics.calls_handed_over(metrics::handover_result::failed).Value() == 0);
  const auto a_json_found = switchboard::testing::cluster::only_call_json(harness.recordings());
  REQUIRE(a_json_found);
  const auto& a_json = *a_json_found;
  CHECK(a_json.at("end_reason") == "handed over");
  CHECK(a_json.at("part") == 1);
  CHECK(count_files(harness.recordings(), "caller.wav") == 1);

  // The model session on B was told the call so far before any of the caller's new audio:
  // A's session was the first connection, B's the second.
  const auto stats = harness.model().stats();
  std::vector<sim::model_item_received> replayed;
  for (const auto& item : stats.items_received) {
    if (item.connection == 2 && item.appends_before == 0)
      replayed.push_back(item);
  }
  REQUIRE(replayed.size() >= 2);
  CHECK(replayed[0].role == "user");
  CHECK(std::any_of(replayed.begin(), replayed.end(),
                    [](const auto& item) { return item.role == "assistant"; }));

  // B: the call's second part, in one timeline with the first.
  REQUIRE(cluster::eventually([&] {
    return std::filesystem::exists(b.recordings) && count_files(b.recordings, "call.json") == 1;
  }));
  const auto b_json_found = switchboard::testing::cluster::only_call_json(b.recordings);
  REQUIRE(b_json_found);
  const auto& b_json = *b_json_found;
  CHECK(b_json.at("call_sid") == call_sid.c_str());
  CHECK(b_json.at("part") == 2);
  const auto& parts = b_json.at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("node") == "node-a");
  CHECK(parts[0].at("end_reason") == "handed over");
  CHECK(parts[1].at("node") == "node-b");
  CHECK(b_json.at("part_offset_ms").to_number<std::int64_t>() > 0);
  CHECK(count_files(b.recordings, "caller.wav") == 1);
  // A directory of its own, named for its part: part 1 is <CallSid> on A's disk, and the two
  // meet in a shared RECORDINGS_DIR or a bucket (README "Recordings in object storage").
  for (const auto& entry : std::filesystem::recursive_directory_iterator(b.recordings)) {
    if (entry.path().filename() == "call.json")
      CHECK(entry.path().parent_path().filename() == call_sid + "-part2");
  }
  CHECK(b.process->terminate() == 0);
}

TEST_CASE("at DRAIN_TIMEOUT with Twilio credentials and no peer the call hears the goodbye",
          "[handover]") {
  namespace metrics = switchboard::metrics;
  bridge_harness harness({.configure = [](auto& settings) {
    settings.api_token = api_token;
    settings.twilio_account_sid = account_sid;  // Twilio could be asked, but no peer is there
    settings.drain_timeout_s = 0;
    settings.drain_message = "Goodbye from the drain.";
  }});
  const auto port = harness.server().port();
  std::promise<void> holding;
  std::promise<void> never;
  auto call = harness.start(harness.call({sim::hold_until(
      never.get_future().share(), [&] { holding.set_value(); }, std::chrono::seconds(60))}));
  REQUIRE(holding.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  REQUIRE(harness.send(port, "/drain", api_post()).status == 202);
  const auto result = call.get();
  CHECK(result.server_closed_first);
  CHECK(result.agent_bytes_played > 0);
  const auto ended = harness.server().calls().wait_for_finished(1, std::chrono::seconds(30));
  REQUIRE(ended.size() == 1);
  CHECK(ended.front().end_reason == "drained");
  harness.server().wait(false);
  auto& node = harness.server().metrics();
  CHECK(node.calls_handed_over(metrics::handover_result::no_peer).Value() == 1);
  CHECK(node.calls_handed_over(metrics::handover_result::handed_over).Value() == 0);
}

TEST_CASE("when Twilio refuses the call update the call hears the goodbye and counts as failed",
          "[handover][end_to_end]") {
  namespace metrics = switchboard::metrics;
  // The REST stand-in knows no inbound call: it answers the update 404 (20404), as Twilio does
  // for a call that is not there.
  running_io twilio_io;
  sim::twilio_rest_server_options rest;
  rest.account_sid = account_sid;
  rest.auth_token = "harness-auth-token";
  auto twilio = sim::twilio_rest_server::start(twilio_io.io, rest);
  REQUIRE(twilio.has_value());
  temporary_directory b_dir;
  bridge_harness::options options;
  options.node_name = "node-a";
  options.configure = [&](config::settings& settings) {
    join_as_node_a(settings);
    settings.twilio_account_sid = account_sid;
    settings.twilio_api_base = (*twilio)->base_url();
    settings.drain_message = "Goodbye from the drain.";
  };
  bridge_harness harness(options);
  peer_node b(harness, b_dir.path());

  std::promise<void> holding;
  std::promise<void> never;
  auto call = harness.start(harness.call({sim::hold_until(
      never.get_future().share(), [&] { holding.set_value(); }, 60s)}));
  REQUIRE(holding.get_future().wait_for(30s) == std::future_status::ready);
  REQUIRE(harness.send(harness.server().port(), "/drain", api_post()).status == 202);
  const auto result = call.get();
  CHECK(result.server_closed_first);
  CHECK(result.agent_bytes_played > 0);  // the goodbye
  const auto ended = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(ended.size() == 1);
  CHECK(ended.front().end_reason == "drained");
  harness.server().wait(false);
  auto& node = harness.server().metrics();
  CHECK(node.calls_handed_over(metrics::handover_result::failed).Value() == 1);
  CHECK(node.calls_handed_over(metrics::handover_result::handed_over).Value() == 0);
  // The update was asked for, with the peer's stream, the key and a token.
  const auto requests = (*twilio)->requests();
  const auto update = std::find_if(requests.begin(), requests.end(), [](const auto& request) {
    return request.method == "POST" && request.target.find("/Calls/CA") != std::string::npos;
  });
  REQUIRE(update != requests.end());
  CHECK(update->status == 404);
  std::string twiml;
  for (const auto& param : update->params) {
    if (param.name == "Twiml")
      twiml = param.value;
  }
  const auto stream = net::parse_connect_stream_twiml(twiml);
  REQUIRE(stream.has_value());
  CHECK(stream->url == stream_url_of("node-b"));
  const auto named = [&](const std::string& name) {
    return std::any_of(
        stream->parameters.begin(), stream->parameters.end(),
        [&](const auto& param) { return param.name == name && !param.value.empty(); });
  };
  CHECK(named("handover"));
  CHECK(named("token"));
  CHECK(b.process->terminate() == 0);
}
