// /metrics over real calls: a scrape taken while calls are held open must agree with what the
// calls did (the autoscaler reads switchboard_active_calls), pass `promtool check metrics`, and
// move to its own listener with METRICS_PORT. JSON logs carry the call's ids on every call line.
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "metrics/logging.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <sstream>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

/// The value of the sample `name{labels...}` whose labels include all of `wanted`.
std::optional<double> sample(const std::string& scrape, std::string_view name,
                             const std::map<std::string, std::string>& wanted = {}) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name))
      continue;
    const auto rest = std::string_view(line).substr(name.size());
    if (rest.empty() || (rest.front() != '{' && rest.front() != ' '))
      continue;  // a longer name with this prefix
    const auto labels_end = rest.front() == '{' ? rest.find('}') : 0;
    const auto labels = rest.substr(0, labels_end + 1);
    const bool all = std::all_of(wanted.begin(), wanted.end(), [&](const auto& label) {
      return labels.find(label.first + "=\"" + label.second + "\"") != std::string_view::npos;
    });
    if (all)
      return std::stod(std::string(rest.substr(labels_end + 1)));
  }
  return std::nullopt;
}

double value(const std::string& scrape, std::string_view name,
             const std::map<std::string, std::string>& wanted = {}) {
  const auto found = sample(scrape, name, wanted);
  INFO(name);
  REQUIRE(found.has_value());
  return *found;
}

void check_with_promtool(const std::string& scrape) {
  const temporary_directory scratch;
  const auto file = scratch.write("scrape.txt", scrape);
  const auto lint = audio::test::run_command("promtool check metrics < " +
                                             audio::test::shell_quote(file.string()) + " 2>&1");
  INFO(lint.output);
  CHECK(lint.exit_status == 0);
}

/// Counts down on io threads; the test thread waits for zero.
class countdown {
 public:
  explicit countdown(int count) : left_(count) {}
  void arrive() {
    if (--left_ == 0)
      all_.set_value();
  }
  void wait() { all_.get_future().wait(); }

 private:
  std::atomic<int> left_;
  std::promise<void> all_;
};

}  // namespace

TEST_CASE("a scrape in the middle of calls agrees with what the calls did", "[metrics]") {
  constexpr int calls = 3;
  bridge_harness harness;
  std::promise<void> release;
  const auto released = release.get_future().share();
  countdown holding(calls);

  std::vector<std::future<sim::twilio_call_result>> running;
  for (int i = 0; i < calls; ++i) {
    running.push_back(harness.start(harness.call({
        sim::silence(200ms),
        sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
        sim::wait_for_agent_audio(200ms),
        sim::hold_until(released, [&holding] { holding.arrive(); }),
        sim::hangup(),
    })));
  }
  holding.wait();  // every call has streamed both ways and is still open

  const auto port = harness.server().port();
  const auto during = harness.get(port, "/metrics");
  REQUIRE(during.status == 200);
  const auto& live = during.body;
  CHECK(value(live, "switchboard_active_calls", {{"node", "harness-node"}}) == calls);
  CHECK(value(live, "switchboard_calls_started_total") == calls);
  CHECK(value(live, "switchboard_webhooks_total", {{"code", "200"}}) == calls);
  CHECK(value(live, "switchboard_websocket_connections_open", {{"peer", "twilio"}}) == calls);
  CHECK(value(live, "switchboard_websocket_connections_open", {{"peer", "model"}}) == calls);
  CHECK(value(live, "switchboard_model_connect_seconds_count") == calls);
  for (const auto& [actor, per_call] : std::map<std::string, int>{{"call_supervisor", 1},
                                                                  {"twilio_socket", 1},
                                                                  {"openai_session", 1},
                                                                  {"silence_clock", 1},
                                                                  {"recorder", 2}}) {
    INFO(actor);
    CHECK(value(live, "switchboard_actors_running", {{"actor", actor}}) == calls * per_call);
    CHECK(value(live, "switchboard_actor_messages_total", {{"actor", actor}}) > 0);
    CHECK(value(live, "switchboard_actor_handler_seconds_count", {{"actor", actor}}) > 0);
  }
  // Each call spoke 800 ms (40 frames) and heard at least 200 ms of the agent.
  CHECK(value(live, "switchboard_media_frames_total", {{"direction", "inbound"}}) >= calls * 40);
  CHECK(value(live, "switchboard_media_frames_total", {{"direction", "outbound"}}) >= calls * 10);
  CHECK(value(live, "switchboard_bridge_latency_seconds_count", {{"direction", "to_model"}}) > 0);
  CHECK(value(live, "switchboard_bridge_latency_seconds_count", {{"direction", "to_caller"}}) >=
        calls * 10);
  CHECK(value(live, "switchboard_first_audio_latency_seconds_count") >= calls);
  CHECK(value(live, "switchboard_recording_bytes_total", {{"track", "caller"}}) > 0);
  CHECK(value(live, "switchboard_calls_total", {{"outcome", "completed"}}) == 0);
  CHECK(value(live, "process_resident_memory_bytes") > 0);
  CHECK(value(live, "process_open_fds") > 0);
  check_with_promtool(live);

  release.set_value();
  for (auto& call : running)
    CHECK(call.get().ok());
  REQUIRE(harness.server().calls().wait_for_finished(calls, 30s).size() == calls);

  const auto after = harness.get(port, "/metrics").body;
  CHECK(value(after, "switchboard_active_calls") == 0);
  CHECK(value(after, "switchboard_calls_total", {{"outcome", "completed"}}) == calls);
  CHECK(value(after, "switchboard_call_duration_seconds_count") == calls);
  CHECK(value(after, "switchboard_recording_errors_total", {{"track", "agent"}}) == 0);
  CHECK(value(after, "switchboard_silence_frames_total") > 0);
  CHECK(value(after, "switchboard_malformed_frames_total", {{"source", "twilio"}}) == 0);
}

TEST_CASE("a barge-in is counted, timed to Twilio's clear, and its truncation confirmed",
          "[metrics]") {
  bridge_harness harness;
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 1200ms)),
      sim::wait_for_agent_audio(600ms),
      sim::speak(first(sim::speech_fixture::caller_interruption, 800ms)),
      sim::silence(200ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  REQUIRE(result.clears.size() == 1);
  REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);

  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(value(scrape, "switchboard_barge_ins_total") == 1);
  CHECK(value(scrape, "switchboard_barge_in_clear_seconds_count") == 1);
  CHECK(value(scrape, "switchboard_truncations_total", {{"result", "sent"}}) == 1);
  CHECK(value(scrape, "switchboard_truncations_total", {{"result", "confirmed"}}) == 1);
  // The interrupted response still reports its usage in response.done.
  CHECK(value(scrape, "switchboard_model_tokens_total", {{"kind", "output"}}) > 0);
  CHECK(value(scrape, "switchboard_mark_echo_delay_seconds_count") > 0);
  CHECK(value(scrape, "switchboard_model_errors_total", {{"code", "other"}}) == 0);
}

TEST_CASE("malformed frames and refused streams are counted by source and outcome", "[metrics]") {
  bridge_harness harness;
  const auto result = harness.place(harness.call({
      sim::silence(100ms),
      sim::send_raw("{not json"),
      sim::send_raw(R"({"event":"media"})"),
      sim::silence(100ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);
  auto refused = harness.call({sim::hangup()});
  refused.auth_token = "not-the-token";
  CHECK(harness.place(refused).webhook_status == 403);

  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(value(scrape, "switchboard_malformed_frames_total", {{"source", "twilio"}}) == 2);
  CHECK(value(scrape, "switchboard_webhooks_total", {{"code", "403"}}) == 1);
  CHECK(value(scrape, "switchboard_webhooks_total", {{"code", "200"}}) == 1);
}

TEST_CASE("METRICS_PORT moves /metrics off the public port, with the probes", "[metrics]") {
  bridge_harness::options options;
  options.metrics_port = 0;  // any free port
  bridge_harness harness(options);
  const auto public_port = harness.server().port();
  const auto metrics_port = harness.server().metrics_port();
  REQUIRE(metrics_port != public_port);

  CHECK(harness.get(public_port, "/metrics").status == 404);
  const auto scrape = harness.get(metrics_port, "/metrics");
  CHECK(scrape.status == 200);
  CHECK(value(scrape.body, "switchboard_active_calls", {{"node", "harness-node"}}) == 0);
  CHECK(value(scrape.body, "switchboard_build_info") == 1);
  CHECK(harness.get(metrics_port, "/healthz").status == 200);
  CHECK(harness.get(metrics_port, "/readyz").status == 200);
  CHECK(harness.get(metrics_port, "/incoming-call").status == 404);
  CHECK(harness.get(public_port, "/healthz").status == 200);
}

TEST_CASE("JSON logs: every line of a call carries its call and stream ids, and no secret",
          "[metrics][logs]") {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>(
      "switchboard", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_formatter(metrics::make_json_line_formatter());
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);

  std::string call_sid;
  std::string stream_sid;
  {
    bridge_harness harness;
    const auto result = harness.place(harness.call({
        sim::silence(200ms),
        sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
        sim::wait_for_agent_audio(200ms),
        sim::hangup(),
    }));
    REQUIRE(result.ok());
    REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);
    call_sid = result.call_sid;
    stream_sid = result.stream_sid;
  }
  spdlog::set_default_logger(previous);

  std::istringstream lines(captured.str());
  std::map<std::string, int> events;
  int call_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    const auto parsed = boost::json::parse(line).as_object();  // each line is one JSON object
    CHECK(parsed.contains("ts"));
    CHECK(parsed.contains("level"));
    const std::string message(parsed.at("msg").as_string());
    CHECK(line.find("sk-harness") == std::string::npos);          // the model's API key
    CHECK(line.find("harness-auth-token") == std::string::npos);  // Twilio's auth token
    if (!parsed.contains("call_sid"))
      continue;
    ++call_lines;
    CHECK(parsed.at("call_sid").as_string() == call_sid);
    CHECK(parsed.at("stream_sid").as_string() == stream_sid);
    CHECK(message.find("[call") == std::string::npos);  // lifted out of the message
    for (const auto* event : {"Twilio stream started", "model session ready",
                              "Twilio stream stopped", "recording finalised", "call ended ("}) {
      if (message.find(event) != std::string::npos)
        ++events[event];
    }
  }
  CHECK(call_lines >= 5);
  CHECK(events["Twilio stream started"] == 1);
  CHECK(events["model session ready"] == 1);
  CHECK(events["Twilio stream stopped"] == 1);
  CHECK(events["recording finalised"] == 2);
  CHECK(events["call ended ("] == 1);  // the call's summary line
}

TEST_CASE("a text log line shows control characters from the wire escaped, one line per message",
          "[metrics][logs][hostile]") {
  std::ostringstream captured;
  auto logger = std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  logger->set_formatter(metrics::make_text_line_formatter());
  // A From number as a hostile stream could name it: a forged second line.
  logger->info("Twilio stream started (from {} to {})",
               "+1415\n2026-12-06T00:00:00.000 info  [call CA1] call ended\r", "+1");
  const auto text = captured.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  CHECK(text.ends_with("\\x0a2026-12-06T00:00:00.000 info  [call CA1] call ended\\x0d to +1)\n"));
}
