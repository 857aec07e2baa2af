#include "metrics/bridge_metrics.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <sstream>

using namespace switchboard::metrics;

namespace {

std::set<std::string> family_names(const std::string& scrape) {
  std::set<std::string> names;
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      names.insert(name);
    }
  }
  return names;
}

}  // namespace

TEST_CASE("every family is registered at start-up, before any call, with the node label") {
  bridge_metrics metrics("node-a");
  const auto scrape = metrics.scrape();
  const auto names = family_names(scrape);
  for (const auto* name : {"switchboard_active_calls",
                           "switchboard_calls_started_total",
                           "switchboard_calls_total",
                           "switchboard_call_duration_seconds",
                           "switchboard_webhooks_total",
                           "switchboard_media_frames_total",
                           "switchboard_bridge_latency_seconds",
                           "switchboard_malformed_frames_total",
                           "switchboard_websocket_connections_total",
                           "switchboard_websocket_connections_open",
                           "switchboard_model_connect_seconds",
                           "switchboard_first_audio_latency_seconds",
                           "switchboard_model_errors_total",
                           "switchboard_model_reconnects_total",
                           "switchboard_model_link_failures_total",
                           "switchboard_model_outages_total",
                           "switchboard_model_tokens_total",
                           "switchboard_barge_ins_total",
                           "switchboard_truncations_total",
                           "switchboard_barge_in_clear_seconds",
                           "switchboard_mark_echo_delay_seconds",
                           "switchboard_silence_frames_total",
                           "switchboard_recording_bytes_total",
                           "switchboard_recording_errors_total",
                           "switchboard_uploads_total",
                           "switchboard_upload_bytes_total",
                           "switchboard_upload_queue",
                           "switchboard_upload_seconds",
                           "switchboard_actors_running",
                           "switchboard_actor_messages_total",
                           "switchboard_actor_handler_seconds",
                           "switchboard_actor_failures_total",
                           "switchboard_actor_mailbox_depth",
                           "switchboard_build_info",
                           "process_cpu_seconds_total",
                           "process_resident_memory_bytes",
                           "process_open_fds"}) {
    INFO(name);
    CHECK(names.contains(name));
  }
  // Every switchboard sample carries node="node-a"; no label is ever a call id.
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("switchboard_")) {
      INFO(line);
      CHECK(line.find("node=\"node-a\"") != std::string::npos);
      CHECK(line.find("CA") == std::string::npos);
    }
  }
  CHECK(scrape.find("switchboard_actors_running{node=\"node-a\",actor=\"recorder\"} 0") !=
        std::string::npos);
  for (const auto* result : {"ok", "retried", "failed"}) {
    INFO(result);
    CHECK(scrape.find("switchboard_uploads_total{node=\"node-a\",result=\"" + std::string(result) +
                      "\"} 0") != std::string::npos);
  }
}

TEST_CASE("label values stay bounded: unknown model error codes and HTTP statuses are `other`") {
  bridge_metrics metrics;
  metrics.model_errors("rate_limit_exceeded").Increment();
  metrics.model_errors("a_code_from_next_year").Increment();
  metrics.model_errors("another_new_code").Increment();
  metrics.webhooks(200).Increment();
  metrics.webhooks(418).Increment();
  const auto scrape = metrics.scrape();
  CHECK(
      scrape.find(R"(switchboard_model_errors_total{node="local",code="rate_limit_exceeded"} 1)") !=
      std::string::npos);
  CHECK(scrape.find(R"(switchboard_model_errors_total{node="local",code="other"} 2)") !=
        std::string::npos);
  CHECK(scrape.find("a_code_from_next_year") == std::string::npos);
  CHECK(scrape.find(R"(switchboard_webhooks_total{node="local",code="other"} 1)") !=
        std::string::npos);
  CHECK(scrape.find(R"(switchboard_webhooks_total{node="local",code="200"} 1)") !=
        std::string::npos);
}

TEST_CASE("model link failures and outages are shown at zero for every reason and result") {
  bridge_metrics metrics;
  metrics.model_link_failures(model_link_failure::silent).Increment();
  const auto scrape = metrics.scrape();
  const auto sample = [](std::string family, std::string label, std::string value, int count) {
    return family + "{node=\"local\"," + label + "=\"" + value + "\"} " + std::to_string(count);
  };
  for (const auto* reason : {"refused", "unreachable", "closed", "ready_timeout"}) {
    INFO(reason);
    CHECK(scrape.find(sample("switchboard_model_link_failures_total", "reason", reason, 0)) !=
          std::string::npos);
  }
  CHECK(scrape.find(sample("switchboard_model_link_failures_total", "reason", "silent", 1)) !=
        std::string::npos);
  for (const auto* result : {"recovered", "gave_up"}) {
    INFO(result);
    CHECK(scrape.find(sample("switchboard_model_outages_total", "result", result, 0)) !=
          std::string::npos);
  }
}

TEST_CASE("seconds between two steady-clock readings") {
  CHECK(seconds_between(1'000'000'000, 1'250'000'000) == Approx(0.25));
  const auto before = steady_now_ns();
  CHECK(steady_now_ns() >= before);
}
