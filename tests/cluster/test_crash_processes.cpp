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

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
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

/// The model stand-in and the simulated caller, on one io thread of this process.
class simulation {
 public:
  simulation() {
    thread_ = std::thread([this] { io_.run(); });
    switchboard::sim::model_options options;
    options.expected_api_key = "sk-crash";
    auto model = switchboard::sim::realtime_model_server::start(io_, options);
    REQUIRE(model.has_value());
    model_ = std::move(*model);
  }
  ~simulation() {
    model_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& io() { return io_; }
  switchboard::sim::realtime_model_server& model() { return *model_; }

 private:
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      boost::asio::make_work_guard(io_)};
  std::thread thread_;
  std::unique_ptr<switchboard::sim::realtime_model_server> model_;
};

/// One `switchboard serve` process of node `name`.
std::unique_ptr<server_process> start_node(simulation& sim, const std::string& name,
                                           const std::filesystem::path& dir,
                                           const std::filesystem::path& recordings,
                                           std::uint16_t& port) {
  switchboard::sim::server_process_options options;
  options.executable = executable();
  options.arguments = {"serve"};
  options.working_directory = dir;
  options.environment = {"PORT=0",
                         "BIND_ADDRESS=127.0.0.1",
                         "IO_THREADS=1",
                         "NODE_NAME=" + name,
                         std::string("API_TOKEN=") + api_token,
                         "ALLOW_UNSIGNED_TWILIO=true",
                         "OPENAI_API_KEY=sk-crash",
                         "OPENAI_REALTIME_URL=" + sim.model().url() + "?model=gpt-realtime",
                         "MAX_LOOP_LAG_MS=0",
                         "RECORDINGS_DIR=" + recordings.string(),
                         "LOG_LEVEL=info"};
  auto spawned = server_process::spawn(options);
  if (!spawned)
    FAIL("cannot start node " << name << ": " << spawned.error());
  auto process = std::move(*spawned);
  auto listening = process->wait_for_port(30s);
  if (!listening)
    FAIL("node " << name << ": " << listening.error());
  port = *listening;
  return process;
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

  ::kill(node->pid(), SIGKILL);
  const auto status = node->wait_for_exit(60s);
  REQUIRE(status.has_value());
  CHECK(WIFSIGNALED(*status));
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
