// A call hosted by a peer (README "Cluster", placement) on real `switchboard serve` processes:
// a stream that lands on a node whose every place is taken (an ingress without per-node routes)
// keeps its socket there, while a peer with room spawns the call's supervisor, model session,
// silence clock and recorders. The call must behave as one on a single node: the same barge-in,
// and the same recordings of what was heard, checked with sox. The model stand-in and the
// simulated callers run in this process; each state is awaited by polling the nodes' APIs with
// a limit that only bounds a broken test.
#include "audio_test_support.hpp"
#include "cluster/process_support.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::sim::server_process;

namespace {

constexpr const char* api_token = "remote-spawn-token";

using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::http_answer;
using switchboard::testing::cluster::http_request;
using switchboard::testing::cluster::json_object_file;
using switchboard::testing::cluster::serve_options;

/// The model stand-in and the simulated callers, on one io thread of this process.
struct simulation : switchboard::testing::cluster::model_simulation {
  simulation() : model_simulation("sk-remote-spawn") {}
};

/// One cluster node: no NODE_STREAM_URL (it keeps what lands on it while it has room).
class node_process {
 public:
  node_process(simulation& sim, const std::string& name, unsigned max_calls,
               const std::filesystem::path& dir, const std::vector<std::string>& extra = {})
      : recordings_(dir / name) {
    auto options = serve_options(dir, name);
    options.environment.insert(
        options.environment.end(),
        {"MAX_CALLS=" + std::to_string(max_calls), "CLUSTER_PORT=0", "CLUSTER_INSECURE=true",
         std::string("API_TOKEN=") + api_token, "ALLOW_UNSIGNED_TWILIO=true",
         "OPENAI_API_KEY=sk-remote-spawn",
         "OPENAI_REALTIME_URL=" + sim.model().url() + "?model=gpt-realtime", "MAX_LOOP_LAG_MS=0",
         "RECORDINGS_DIR=" + recordings_.string(), "LOG_LEVEL=info"});
    options.environment.insert(options.environment.end(), extra.begin(), extra.end());
    process_ = switchboard::testing::cluster::start_listening(options, name, port_);
  }

  std::uint16_t port() const { return port_; }
  const std::filesystem::path& recordings() const { return recordings_; }
  void signal(int number) const { ::kill(process_->pid(), number); }
  /// The exit status once the node has exited by itself; fails the test if it does not.
  int exit_status() {
    const auto status = process_->wait_for_exit(120s);
    REQUIRE(status.has_value());
    return *status;
  }
  std::string get(const std::string& path) const {
    return http_request(port_, "GET", path, api_token).value_or(http_answer{}).body;
  }
  /// This node's cluster address, or its view of `name`'s state ("" when not listed).
  std::string cluster_field(const std::string& name, const char* field) const {
    boost::system::error_code ec;
    const auto view = boost::json::parse(get("/cluster"), ec);
    if (ec || !view.is_object())
      return {};
    for (const auto& row : view.at("nodes").as_array()) {
      if (row.at("name") == name.c_str() && row.at(field).is_string())
        return std::string(row.at(field).as_string());
    }
    return {};
  }
  bool has_metric(const std::string& series_and_value) const {
    return get("/metrics").find(series_and_value) != std::string::npos;
  }

  /// A call whose webhook `answering` answers and whose stream lands on this node (an ingress
  /// that routes every stream to any node).
  switchboard::sim::twilio_caller_options call_landing_here(
      const node_process& answering, std::vector<switchboard::sim::caller_step> script) const {
    switchboard::sim::twilio_caller_options call;
    call.webhook_url = "http://127.0.0.1:" + std::to_string(answering.port()) + "/incoming-call";
    call.stream_connect_address = "127.0.0.1:" + std::to_string(port_);
    call.max_connect_actions = 0;
    call.script = std::move(script);
    return call;
  }

 private:
  std::filesystem::path recordings_;
  std::unique_ptr<server_process> process_;
  std::uint16_t port_ = 0;
};

/// node-a and node-b list each other ready.
bool see_each_other_ready(const node_process& a, const node_process& b) {
  return a.cluster_field("node-b", "state") == "ready" &&
         b.cluster_field("node-a", "state") == "ready";
}

/// The directory of `call_sid` under `recordings` once its call.json is written; empty if none.
std::filesystem::path call_directory(const std::filesystem::path& recordings,
                                     const std::string& call_sid) {
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(recordings, error), end;
       !error && it != end; it.increment(error)) {
    if (it->path().filename() == call_sid && std::filesystem::exists(it->path() / "call.json"))
      return it->path();
  }
  return {};
}

/// The first `duration` of a speech fixture.
std::span<const std::uint8_t> opening(switchboard::sim::speech_fixture fixture,
                                      std::chrono::milliseconds duration) {
  const auto audio = switchboard::sim::fixture_audio(fixture);
  return audio.first(
      std::min<std::size_t>(audio.size(), static_cast<std::size_t>(duration.count()) * 8));
}

std::size_t not_silent(std::span<const std::uint8_t> audio) {
  return static_cast<std::size_t>(
      std::count_if(audio.begin(), audio.end(), [](std::uint8_t b) { return b != 0xFF; }));
}

/// What a barge-in call left: its two tracks as sox reads them and the agent's audio.
struct barge_in_recording {
  double caller_s = 0;
  double agent_s = 0;
  std::size_t agent_heard_bytes = 0;  // not silent on the agent track
};

/// Checks the recordings of one barge-in call as the single-node end-to-end test does, and
/// returns what to compare with another.
barge_in_recording check_barge_in_recording(const std::filesystem::path& dir,
                                            const switchboard::sim::twilio_call_result& result) {
  INFO(dir);
  barge_in_recording found;
  const auto summary = json_object_file(dir / "call.json");
  REQUIRE(summary.has_value());
  CHECK(summary->at("barge_ins").to_number<int>() == 1);
  CHECK(summary->at("frames").at("malformed").to_number<int>() == 0);
  const auto caller = switchboard::audio::test::run_soxi((dir / "caller.wav").string());
  const auto agent = switchboard::audio::test::run_soxi((dir / "agent.wav").string());
  REQUIRE(caller.has_value());
  REQUIRE(agent.has_value());
  for (const auto* track : {&*caller, &*agent}) {
    CHECK(track->encoding == "u-law");
    CHECK(track->sample_rate == 8000);
    CHECK(track->channels == 1);
  }
  // Both tracks as long as the call (20 ms per frame the caller sent), within 40 ms.
  const double call_s = static_cast<double>(result.media_frames_sent) * 0.020;
  CHECK(std::abs(caller->duration_s - call_s) <= 0.040);
  CHECK(std::abs(agent->duration_s - call_s) <= 0.040);
  found.caller_s = caller->duration_s;
  found.agent_s = agent->duration_s;

  // The agent track: silent during the caller's first turn, the agent's own audio, and silent
  // again from the clear on.
  const auto agent_audio = switchboard::audio::test::wav_data((dir / "agent.wav").string());
  REQUIRE(agent_audio.has_value());
  const auto& audio = *agent_audio;
  const std::size_t first_turn_end = (300 + 1500) * 8;
  REQUIRE(audio.size() > first_turn_end);
  CHECK(not_silent(std::span(audio).first(first_turn_end)) == 0);
  const auto greeting =
      switchboard::sim::fixture_audio(switchboard::sim::speech_fixture::agent_greeting);
  const auto speech_start = static_cast<std::size_t>(
      std::find_if(greeting.begin(), greeting.end(), [](std::uint8_t b) { return b != 0xFF; }) -
      greeting.begin());
  const auto excerpt = greeting.subspan(speech_start, 4000);
  CHECK(std::search(audio.begin(), audio.end(), excerpt.begin(), excerpt.end()) != audio.end());
  REQUIRE_FALSE(result.clears.empty());
  const auto clear_at =
      static_cast<std::size_t>(result.clears[0].since_stream_start.count() + 100) * 8;
  REQUIRE(clear_at < audio.size());
  CHECK(not_silent(std::span(audio).subspan(clear_at)) == 0);
  found.agent_heard_bytes = not_silent(audio);
  return found;
}

std::vector<switchboard::sim::caller_step> barge_in_script() {
  using namespace switchboard::sim;
  return {
      silence(300ms),
      speak(opening(speech_fixture::caller_request, 1500ms)),
      wait_for_agent_audio(1000ms),
      speak(opening(speech_fixture::caller_interruption, 1000ms)),
      // Shorter than the model's 500 ms end-of-turn silence: no second answer starts.
      silence(300ms),
      hangup(),
  };
}

}  // namespace

TEST_CASE("a stream that lands on a full node is hosted by a peer and records as a local call",
          "[remote_spawn]") {
  switchboard::testing::temporary_directory dir;
  simulation sim;
  node_process a(sim, "node-a", 1, dir.path());
  node_process b(sim, "node-b", 4, dir.path(),
                 {"CLUSTER_SEEDS=" + a.cluster_field("node-a", "address")});
  REQUIRE(eventually([&] { return see_each_other_ready(a, b); }));

  // a's one place: a call on hold until the end.
  std::promise<void> release;
  std::promise<void> holding;
  auto held = switchboard::sim::twilio_caller::run(
      sim.io(),
      a.call_landing_here(a, {switchboard::sim::hold_until(
                                  release.get_future().share(), [&] { holding.set_value(); }, 120s),
                              switchboard::sim::hangup()}));
  REQUIRE(holding.get_future().wait_for(60s) == std::future_status::ready);
  REQUIRE(eventually([&] { return a.has_metric("switchboard_active_calls{node=\"node-a\"} 1"); }));

  // Answered by b, streamed to a (full): b hosts the call, a keeps its socket.
  auto remote =
      switchboard::sim::twilio_caller::run(sim.io(), a.call_landing_here(b, barge_in_script()));
  REQUIRE(remote.wait_for(120s) == std::future_status::ready);
  const auto hosted = remote.get();
  INFO(hosted.error);
  REQUIRE(hosted.ok());
  CHECK(hosted.clears_received >= 1);
  CHECK(hosted.agent_bytes_played >= 1000 * 8);
  CHECK(a.has_metric("switchboard_calls_placed_total{node=\"node-a\",where=\"remote_spawn\"} 1"));

  // The same call on b alone, for comparison.
  auto local =
      switchboard::sim::twilio_caller::run(sim.io(), b.call_landing_here(b, barge_in_script()));
  REQUIRE(local.wait_for(120s) == std::future_status::ready);
  const auto kept = local.get();
  INFO(kept.error);
  REQUIRE(kept.ok());
  CHECK(b.has_metric("switchboard_calls_placed_total{node=\"node-b\",where=\"remote_spawn\"} 0"));

  release.set_value();
  REQUIRE(held.wait_for(120s) == std::future_status::ready);
  CHECK(held.get().ok());

  // The hosted call's files are on b, where its recorders ran; a has only its own call.
  std::filesystem::path hosted_dir, kept_dir;
  REQUIRE(eventually([&] {
    hosted_dir = call_directory(b.recordings(), hosted.call_sid);
    kept_dir = call_directory(b.recordings(), kept.call_sid);
    return !hosted_dir.empty() && !kept_dir.empty();
  }));
  CHECK(call_directory(a.recordings(), hosted.call_sid).empty());

  const auto from_peer = check_barge_in_recording(hosted_dir, hosted);
  const auto from_local = check_barge_in_recording(kept_dir, kept);
  // The same script gives the same recordings, to a frame's jitter: the hop changes nothing.
  CHECK(std::abs(from_peer.caller_s - from_local.caller_s) <= 0.040);
  CHECK(std::abs(from_peer.agent_s - from_local.agent_s) <= 0.040);
  const auto heard_difference = static_cast<double>(from_peer.agent_heard_bytes) -
                                static_cast<double>(from_local.agent_heard_bytes);
  CHECK(std::abs(heard_difference) <= 100 * 8);  // within 100 ms of the agent's audio heard
}

TEST_CASE(
    "a draining node keeps the streams of calls its peers host until their hosts say the "
    "goodbye",
    "[remote_spawn]") {
  switchboard::testing::temporary_directory dir;
  simulation sim;
  node_process a(sim, "node-a", 1, dir.path(),
                 {"DRAIN_TIMEOUT=1", "DRAIN_MESSAGE=The hosted drain test says goodbye."});
  node_process b(sim, "node-b", 4, dir.path(),
                 {"CLUSTER_SEEDS=" + a.cluster_field("node-a", "address")});
  REQUIRE(eventually([&] { return see_each_other_ready(a, b); }));
  // Two calls on hold that only the bridge ends: a's own, then one a lands and b hosts.
  std::promise<void> never;
  const auto never_released = never.get_future().share();
  const auto on_hold = [&](const node_process& answering) {
    auto holding = std::make_shared<std::promise<void>>();
    auto call = switchboard::sim::twilio_caller::run(
        sim.io(), a.call_landing_here(
                      answering, {switchboard::sim::hold_until(
                                     never_released, [holding] { holding->set_value(); }, 120s)}));
    REQUIRE(holding->get_future().wait_for(60s) == std::future_status::ready);
    return call;
  };
  auto own = on_hold(a);
  REQUIRE(eventually([&] { return a.has_metric("switchboard_active_calls{node=\"node-a\"} 1"); }));
  auto hosted = on_hold(b);
  REQUIRE(eventually([&] { return b.has_metric("switchboard_active_calls{node=\"node-b\"} 1"); }));
  CHECK(a.has_metric(R"(switchboard_calls_placed_total{node="node-a",where="remote_spawn"} 1)"));

  a.signal(SIGTERM);
  for (auto* call : {&own, &hosted}) {
    REQUIRE(call->wait_for(120s) == std::future_status::ready);
    const auto result = call->get();
    INFO(result.error);
    CHECK(result.ok());
    CHECK(result.server_closed_first);
    // The goodbye played whole before the hang-up: a kept the hosted call's socket until then.
    CHECK(result.agent_bytes_received > 0);
    CHECK(result.agent_bytes_played == result.agent_bytes_received);
  }
  const auto status = a.exit_status();
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  const auto asked = sim.model().stats().response_instructions;
  CHECK(std::count_if(asked.begin(), asked.end(), [](const std::string& instructions) {
          return instructions.find("The hosted drain test says goodbye.") != std::string::npos;
        }) == 2);
  // The hosted call ended on b as drained, recorded there.
  std::optional<boost::json::object> summary;
  REQUIRE(eventually([&] {
    const auto found = switchboard::testing::cluster::only_call_json(b.recordings());
    summary = found;
    return found.has_value();
  }));
  CHECK(summary->at("end_reason") == "drained");
}
