// A node killed mid-call (kill -9, as the OOM killer does) on a real `switchboard serve`
// process: restarted under the same NODE_NAME and RECORDINGS_DIR, it finishes the call the dead
// process left: its tracks open in sox with the length the call had (less at most the 200 ms the
// writer had not checkpointed), call.json says "node crashed", GET /calls lists it as recent.
// The simulated caller and the model stand-in run in this process; each node is reaped by the
// test, and every wait polls the node's answers with a limit that only bounds a broken test.
#include "cluster/process_support.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::sim::server_process;

namespace {

constexpr const char* api_token = "crash-test-token";

using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::executable;
using switchboard::testing::cluster::http_answer;
using switchboard::testing::cluster::http_request;
using switchboard::testing::cluster::serve_options;
using switchboard::testing::cluster::start_listening;

/// One HTTP/1.0 GET to 127.0.0.1:`port`: the body of a 200, else nullopt.
std::optional<std::string> get(std::uint16_t port, const std::string& path) {
  const auto answer = http_request(port, "GET", path, api_token);
  if (!answer || answer->status != 200)
    return std::nullopt;
  return answer->body;
}

/// A counter or gauge of `/metrics`, by its name and labels as written; nullopt if absent.
std::optional<double> metric(std::uint16_t port, const std::string& series) {
  const auto body = get(port, "/metrics");
  if (!body)
    return std::nullopt;
  const auto at = body->find(series + " ");
  if (at == std::string::npos)
    return std::nullopt;
  return std::stod(body->substr(at + series.size() + 1));
}

std::string run(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr)
    output += buffer;
  status = ::pclose(pipe);
  return output;
}

/// Samples of a WAV as sox reads it (its header and its data must agree for sox to say so);
/// nullopt when sox cannot read it.
std::optional<std::uint64_t> sox_samples(const std::filesystem::path& wav) {
  int status = 0;
  // `sox FILE -n` decodes the whole file: a header that overstates the data fails here.
  run("sox '" + wav.string() + "' -n 2>&1", status);
  if (status != 0)
    return std::nullopt;
  const auto samples = run("soxi -s '" + wav.string() + "'", status);
  if (status != 0 || samples.empty())
    return std::nullopt;
  return std::stoull(samples);
}

/// The model stand-in and the simulated callers, on one io thread of this process.
struct simulation : switchboard::testing::cluster::model_simulation {
  simulation() : model_simulation("sk-crash") {}
};

/// One `switchboard serve` process of node `name`.
std::unique_ptr<server_process> start_node(simulation& sim, const std::string& name,
                                           const std::filesystem::path& dir,
                                           const std::filesystem::path& recordings,
                                           std::uint16_t& port) {
  auto options = serve_options(dir, name);
  options.environment.insert(
      options.environment.end(),
      {std::string("API_TOKEN=") + api_token, "ALLOW_UNSIGNED_TWILIO=true",
       "OPENAI_API_KEY=sk-crash",
       "OPENAI_REALTIME_URL=" + sim.model().url() + "?model=gpt-realtime", "MAX_LOOP_LAG_MS=0",
       "RECORDINGS_DIR=" + recordings.string(), "LOG_LEVEL=info"});
  return start_listening(options, name, port);
}

/// kill -9 of a node: it dies of the signal (it does not exit by itself) and is reaped.
void kill_hard(server_process& node) {
  ::kill(node.pid(), SIGKILL);
  const auto status = node.wait_for_exit(60s);
  REQUIRE(status.has_value());
  CHECK(WIFSIGNALED(*status));
}

std::vector<std::filesystem::path> call_directories(const std::filesystem::path& recordings) {
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(recordings)) {
    if (entry.is_regular_file() && entry.path().filename() == "caller.wav")
      found.push_back(entry.path().parent_path());
  }
  return found;
}

}  // namespace

TEST_CASE("kill -9 mid-call: the restarted node finishes the call its earlier process left",
          "[crash_processes]") {
  switchboard::testing::temporary_directory dir;
  const auto recordings = dir.path() / "recordings";
  simulation sim;
  std::uint16_t port = 0;
  auto node = start_node(sim, "node-a", dir.path(), recordings, port);

  // The caller speaks, then stays on the line (silence frames, as Twilio streams them) until
  // the node dies under it.
  using namespace switchboard::sim;
  std::promise<void> never;
  std::promise<void> holding;
  switchboard::sim::twilio_caller_options call;
  call.webhook_url = "http://127.0.0.1:" + std::to_string(port) + "/incoming-call";
  call.stream_connect_address = "127.0.0.1:" + std::to_string(port);
  call.script = {speak(fixture_audio(speech_fixture::caller_request)),
                 hold_until(
                     never.get_future().share(), [&] { holding.set_value(); }, 120s)};
  auto result = twilio_caller::run(sim.io(), std::move(call));
  REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);

  // The node has read a good part of the call (the speech and more) before it dies.
  const std::string frames_in =
      "switchboard_media_frames_total{node=\"node-a\",direction=\"inbound\"}";
  double frames_read = 0;
  REQUIRE(eventually([&] {
    frames_read = metric(port, frames_in).value_or(0);
    return frames_read >= 150;  // 3 s of caller audio
  }));
  REQUIRE(call_directories(recordings).size() == 1);
  const auto call_dir = call_directories(recordings).front();
  CHECK(std::filesystem::exists(call_dir / "call.running"));

  kill_hard(*node);
  REQUIRE(result.wait_for(60s) == std::future_status::ready);
  const auto caller = result.get();
  CHECK_FALSE(std::filesystem::exists(call_dir / "call.json"));

  // The same node again: it finds the call it left and finishes it.
  node = start_node(sim, "node-a", dir.path(), recordings, port);
  std::optional<boost::json::object> recent_call;
  REQUIRE(eventually([&] {
    const auto body = get(port, "/calls");
    if (!body)
      return false;
    const auto calls = boost::json::parse(*body).as_object();
    for (const auto& listed : calls.at("recent").as_array()) {
      if (listed.at("call_sid") == caller.call_sid.c_str())
        recent_call = listed.as_object();
    }
    return recent_call.has_value();
  }));
  CHECK(recent_call->at("end_reason") == "node crashed");

  std::ifstream in(call_dir / "call.json");
  std::stringstream text;
  text << in.rdbuf();
  const auto summary = boost::json::parse(text.str()).as_object();
  CHECK(summary.at("end_reason") == "node crashed");
  CHECK(summary.at("call_sid") == caller.call_sid.c_str());
  CHECK_FALSE(std::filesystem::exists(call_dir / "call.running"));

  // The tracks hold the call as far as the node had read it, less at most the 200 ms the writer
  // had not yet checkpointed (one 20 ms frame more of slack: the metric is read before the
  // kill), and never more than the caller sent.
  const auto caller_samples = sox_samples(call_dir / "caller.wav");
  const auto agent_samples = sox_samples(call_dir / "agent.wav");
  REQUIRE(caller_samples.has_value());
  REQUIRE(agent_samples.has_value());
  const auto read_ms = static_cast<std::uint64_t>(frames_read) * 20;
  const auto caller_ms = *caller_samples / 8;
  INFO("frames read before the kill: " << frames_read << ", sent: " << caller.media_frames_sent
                                       << ", caller.wav: " << caller_ms
                                       << " ms, agent.wav: " << *agent_samples / 8 << " ms");
  CHECK(caller_ms + 200 + 20 >= read_ms);
  CHECK(caller_ms <= caller.media_frames_sent * 20);
  CHECK(sox_samples(call_dir / "stereo.wav").has_value());
  CHECK(sox_samples(call_dir / "mono.wav").has_value());
  CHECK(summary.at("duration_ms").as_int64() >= static_cast<std::int64_t>(caller_ms));

  const auto stopped = node->terminate();
  CHECK(WIFEXITED(stopped));
}

namespace {

constexpr const char* continuation_auth_token = "continuation-auth-token";
constexpr const char* public_host = "voice.continuation.test";

/// A cluster node for the continuation tests: signed like Twilio's, PUBLIC_URL the cluster's
/// shared address (routed by the test to a node, as an ingress would), its own stream URL
/// unless `own_stream_url` is false (an ingress without per-node routes).
std::unique_ptr<server_process> start_cluster_node(simulation& sim, const std::string& name,
                                                   unsigned max_calls,
                                                   const std::filesystem::path& dir,
                                                   const std::string& seed, std::uint16_t& port,
                                                   bool own_stream_url = true) {
  auto options = serve_options(dir, name);
  if (own_stream_url)
    options.environment.push_back("NODE_STREAM_URL=ws://" + name +
                                  ".continuation.test/media-stream");
  options.environment.insert(
      options.environment.end(),
      {std::string("PUBLIC_URL=http://") + public_host, "MAX_CALLS=" + std::to_string(max_calls),
       "CLUSTER_PORT=0", "CLUSTER_INSECURE=true",
       std::string("TWILIO_AUTH_TOKEN=") + continuation_auth_token,
       std::string("API_TOKEN=") + api_token, "OPENAI_API_KEY=sk-crash",
       "OPENAI_REALTIME_URL=" + sim.model().url() + "?model=gpt-realtime", "MAX_LOOP_LAG_MS=0",
       "RECORDINGS_DIR=" + (dir / name).string(), "LOG_LEVEL=info"});
  if (!seed.empty())
    options.environment.push_back("CLUSTER_SEEDS=" + seed);
  return start_listening(options, name, port);
}

std::vector<boost::json::object> cluster_rows(std::uint16_t port) {
  std::vector<boost::json::object> rows;
  const auto body = get(port, "/cluster");
  if (!body)
    return rows;
  const auto view = boost::json::parse(*body);
  for (const auto& row : view.at("nodes").as_array())
    rows.push_back(row.as_object());
  return rows;
}

/// The node GET /calls on `port` lists the live call `call_sid` on ("" when not live).
std::string live_on(std::uint16_t port, const std::string& call_sid) {
  const auto body = get(port, "/calls");
  if (!body)
    return {};
  const auto listed = boost::json::parse(*body);
  for (const auto& call : listed.at("calls").as_array()) {
    if (call.at("call_sid") == call_sid.c_str())
      return std::string(call.at("node").as_string());
  }
  return {};
}

/// node-a, then node-b seeded with node-a's address, until each sees both ready.
struct node_pair {
  std::unique_ptr<server_process> a;
  std::unique_ptr<server_process> b;
  std::uint16_t port_a = 0;
  std::uint16_t port_b = 0;

  node_pair(simulation& sim, const std::filesystem::path& dir, unsigned max_calls_a,
            unsigned max_calls_b, bool own_stream_urls) {
    a = start_cluster_node(sim, "node-a", max_calls_a, dir, {}, port_a, own_stream_urls);
    std::string address_a;
    for (const auto& row : cluster_rows(port_a)) {
      if (row.at("self").as_bool())
        address_a = std::string(row.at("address").as_string());
    }
    REQUIRE_FALSE(address_a.empty());
    b = start_cluster_node(sim, "node-b", max_calls_b, dir, address_a, port_b, own_stream_urls);
    const auto sees_both_ready = [](std::uint16_t port) {
      const auto rows = cluster_rows(port);
      return rows.size() == 2 && std::all_of(rows.begin(), rows.end(), [](const auto& row) {
               return row.at("state") == "ready";
             });
    };
    REQUIRE(eventually([&] { return sees_both_ready(port_a) && sees_both_ready(port_b); }));
  }
};

/// A call on hold that keeps a node's place taken until the test releases it.
struct filler_call {
  std::promise<void> release;
  std::promise<void> holding;
  std::future<switchboard::sim::twilio_call_result> result;

  filler_call(simulation& sim, switchboard::sim::twilio_caller_options call) {
    call.script = {switchboard::sim::hold_until(
                       release.get_future().share(), [this] { holding.set_value(); }, 120s),
                   switchboard::sim::hangup()};
    result = switchboard::sim::twilio_caller::run(sim.io(), std::move(call));
    REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);
  }
  /// Releases the hold; the caller hangs up.
  switchboard::sim::twilio_call_result released() {
    release.set_value();
    REQUIRE(result.wait_for(60s) == std::future_status::ready);
    return result.get();
  }
};

/// The agent's lines in the live call's transcript that the model said (not the bridge's
/// bracketed notes), as `port` shows them.
std::size_t agent_lines(std::uint16_t port, const std::string& call_sid) {
  const auto body = get(port, "/calls/" + call_sid);
  if (!body)
    return 0;
  std::size_t lines = 0;
  const auto call = boost::json::parse(*body);
  for (const auto& line : call.at("transcript").as_array()) {
    const std::string text(line.at("text").as_string());
    lines += line.at("speaker") == "agent" && !text.starts_with("[") ? 1 : 0;
  }
  return lines;
}

}  // namespace

TEST_CASE("kill -9 of the node holding a call: Twilio's Connect action continues it on a peer",
          "[crash_processes][continuation]") {
  using namespace switchboard::sim;
  switchboard::testing::temporary_directory dir;
  simulation sim;
  // node-a has room for the call; node-b, where the webhook and the action arrive, holds one
  // call: the filler keeps it full, so that placement sends the call to node-a.
  node_pair nodes(sim, dir.path(), 2, 1, true);
  const auto port_a = nodes.port_a;
  const auto port_b = nodes.port_b;
  auto& node_a = nodes.a;
  auto& node_b = nodes.b;

  const auto caller_options = [&](std::string call_sid, std::vector<caller_step> script) {
    twilio_caller_options call;
    call.webhook_url = std::string("http://") + public_host + "/incoming-call";
    call.auth_token = continuation_auth_token;
    call.call_sid = std::move(call_sid);
    // What the ingress does: the shared address to node-b (the survivor), each node's stream
    // URL to that node.
    call.http_connect_by_host[public_host] = "127.0.0.1:" + std::to_string(port_b);
    call.stream_connect_by_host["node-a.continuation.test"] = "127.0.0.1:" + std::to_string(port_a);
    call.stream_connect_by_host["node-b.continuation.test"] = "127.0.0.1:" + std::to_string(port_b);
    call.keep_heard_audio = false;
    call.script = std::move(script);
    return call;
  };

  const std::string filler_sid = "CA00000000000000000000000000000001";
  filler_call filler(sim, caller_options(filler_sid, {}));
  REQUIRE(eventually([&] { return live_on(port_b, filler_sid) == "node-b"; }));

  std::promise<void> release;
  std::promise<void> holding;
  const std::string call_sid = "CA00000000000000000000000000000002";
  auto result = twilio_caller::run(
      sim.io(), caller_options(call_sid, {speak(fixture_audio(speech_fixture::caller_request)),
                                          hold_until(
                                              release.get_future().share(),
                                              [&] { holding.set_value(); }, 120s),
                                          hangup()}));
  REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);
  REQUIRE(eventually([&] { return live_on(port_b, call_sid) == "node-a"; }));

  // node-b gets room again; then node-a dies under the call.
  const auto filler_result = filler.released();
  CHECK(filler_result.ok());
  CHECK(filler_result.actions.empty());  // the caller hung up: Twilio asks no action
  REQUIRE(eventually([&] { return live_on(port_b, filler_sid).empty(); }));

  kill_hard(*node_a);

  // The action reached node-b, which took the call itself (the only node left with room): the
  // call goes on there, and its agent speaks first, to say the line dropped.
  REQUIRE(eventually([&] { return live_on(port_b, call_sid) == "node-b"; }));
  REQUIRE(eventually([&] { return agent_lines(port_b, call_sid) > 0; }));
  release.set_value();
  REQUIRE(result.wait_for(60s) == std::future_status::ready);
  const auto caller = result.get();
  INFO("caller error: " << caller.error << " action error: " << caller.action_error);
  CHECK(caller.ok());
  CHECK(caller.action_error.empty());
  CHECK(caller.streams == 2);
  REQUIRE(caller.stream_sids.size() == 2);
  CHECK(caller.stream_sids[0] != caller.stream_sids[1]);
  REQUIRE(caller.actions.size() == 1);
  CHECK(caller.actions[0].outcome == connect_action_outcome::connect);
  CHECK(caller.actions[0].url == std::string("http://") + public_host + "/connect-action");
  REQUIRE(caller.actions[0].audible_gap.has_value());
  std::cout << "continuation after kill -9: the caller heard "
            << std::chrono::duration_cast<std::chrono::milliseconds>(*caller.actions[0].audible_gap)
                   .count()
            << " ms of silence\n";
  // The new part's model session was told first that the line dropped.
  const auto model_stats = sim.model().stats();
  CHECK(std::any_of(model_stats.response_instructions.begin(),
                    model_stats.response_instructions.end(), [](const std::string& text) {
                      return text.find("The phone line dropped") != std::string::npos;
                    }));

  // The second part is recorded on node-b, its call.json naming both parts and the gap.
  std::optional<boost::json::object> summary;
  std::filesystem::path part_dir;
  REQUIRE(eventually([&] {
    std::error_code walked;
    for (std::filesystem::recursive_directory_iterator entry(dir.path() / "node-b", walked), end;
         !walked && entry != end; entry.increment(walked)) {
      if (entry->path().filename() == "call.json" &&
          entry->path().parent_path().filename() == call_sid + "-part2") {
        part_dir = entry->path().parent_path();
        summary = switchboard::testing::cluster::json_object_file(entry->path());
      }
    }
    return summary.has_value();
  }));
  CHECK(summary->at("part") == 2);
  const auto& parts = summary->at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("part") == 1);
  CHECK(parts[0].at("node") == "node-a");
  const std::string lost(parts[0].at("end_reason").as_string());
  CHECK((lost == "node lost" || lost == "stream lost"));
  CHECK(parts[1].at("node") == "node-b");
  CHECK(parts[1].as_object().contains("gap_ms"));
  std::cout << "continuation after kill -9: call.json gap_ms " << parts[1].at("gap_ms") << "\n";
  CHECK(sox_samples(part_dir / "caller.wav").value_or(0) > 0);
  std::ifstream transcript(part_dir / "transcript.jsonl");
  std::stringstream lines;
  lines << transcript.rdbuf();
  CHECK(lines.str().find("[the line dropped: the call goes on, part 2 on node-b]") !=
        std::string::npos);
  CHECK(metric(port_b, "switchboard_connect_actions_total{node=\"node-b\",result=\"continued\"}") ==
        1.0);

  const auto stopped = node_b->terminate();
  CHECK(WIFEXITED(stopped));
}

TEST_CASE(
    "kill -9 of the node hosting a call whose stream landed elsewhere: the landing node "
    "closes the stream and the Connect action continues the call there",
    "[crash_processes][continuation][remote_spawn]") {
  using namespace switchboard::sim;
  switchboard::testing::temporary_directory dir;
  simulation sim;
  // An ingress without per-node routes: neither node has a stream URL of its own, and every
  // stream and request to the shared address goes where the test says.
  node_pair nodes(sim, dir.path(), 1, 2, false);
  const auto port_a = nodes.port_a;
  const auto port_b = nodes.port_b;
  auto& node_a = nodes.a;
  auto& node_b = nodes.b;
  const auto to_a = "127.0.0.1:" + std::to_string(port_a);
  const auto caller_options = [&](std::string call_sid, std::vector<caller_step> script) {
    twilio_caller_options call;
    call.webhook_url = std::string("http://") + public_host + "/incoming-call";
    call.auth_token = continuation_auth_token;
    call.call_sid = std::move(call_sid);
    call.http_connect_by_host[public_host] = to_a;
    call.stream_connect_by_host[public_host] = to_a;
    call.keep_heard_audio = false;
    call.script = std::move(script);
    return call;
  };

  // node-a's one place: a call on hold.
  const std::string filler_sid = "CA00000000000000000000000000000011";
  filler_call filler(sim, caller_options(filler_sid, {}));
  REQUIRE(eventually([&] { return live_on(port_a, filler_sid) == "node-a"; }));

  // The call's webhook reaches node-b (which keeps it: it has room and no stream URL to be
  // named by), and its stream reaches node-a, full: node-b hosts it.
  const std::string call_sid = "CA00000000000000000000000000000012";
  auto caller = caller_options(call_sid, {});
  const std::vector<switchboard::net::form_parameter> voice_request = {
      {"AccountSid",
       caller.account_sid.empty() ? "AC00000000000000000000000000000000" : caller.account_sid},
      {"CallSid", call_sid},
      {"CallStatus", "ringing"},
      {"Direction", "inbound"},
      {"From", caller.from},
      {"To", caller.to}};
  caller.account_sid = voice_request[0].value;
  auto webhook =
      signed_twilio_request("POST", caller.webhook_url, voice_request, continuation_auth_token);
  webhook.headers.emplace_back("Host", public_host);
  webhook.url = "http://127.0.0.1:" + std::to_string(port_b) + "/incoming-call";
  std::promise<switchboard::net::http_client_result> answered;
  switchboard::net::http_request_async(
      sim.io(), std::move(webhook),
      [&](switchboard::net::http_client_result answer) { answered.set_value(std::move(answer)); });
  auto twiml = answered.get_future().get();
  REQUIRE(twiml.has_value());
  REQUIRE(twiml->status == 200);
  caller.twiml = twiml->body;
  std::promise<void> release;
  std::promise<void> holding;
  caller.script = {speak(fixture_audio(speech_fixture::caller_request)),
                   hold_until(
                       release.get_future().share(), [&] { holding.set_value(); }, 120s),
                   hangup()};
  auto result = twilio_caller::run(sim.io(), caller);
  REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);
  REQUIRE(eventually([&] { return live_on(port_a, call_sid) == "node-b"; }));
  CHECK(get(port_a, "/metrics")
            ->find(R"(switchboard_calls_placed_total{node="node-a",where="remote_spawn"} 1)") !=
        std::string::npos);

  // node-a gets room again; then node-b, the host, dies under the call.
  CHECK(filler.released().ok());
  REQUIRE(eventually([&] { return live_on(port_a, filler_sid).empty(); }));
  kill_hard(*node_b);

  // node-a closed the stream as the link went; the action reached node-a, which continues the
  // call itself, its agent speaking first.
  REQUIRE(eventually([&] { return live_on(port_a, call_sid) == "node-a"; }));
  REQUIRE(eventually([&] { return agent_lines(port_a, call_sid) > 0; }));
  release.set_value();
  REQUIRE(result.wait_for(60s) == std::future_status::ready);
  const auto ended = result.get();
  INFO("caller error: " << ended.error << " action error: " << ended.action_error);
  CHECK(ended.ok());
  CHECK(ended.streams == 2);
  REQUIRE(ended.actions.size() == 1);
  CHECK(ended.actions[0].outcome == connect_action_outcome::connect);
  REQUIRE(ended.actions[0].audible_gap.has_value());
  std::cout << "continuation after the host's kill -9: the caller heard "
            << std::chrono::duration_cast<std::chrono::milliseconds>(*ended.actions[0].audible_gap)
                   .count()
            << " ms of silence\n";
  CHECK(WIFEXITED(node_a->terminate()));
}
