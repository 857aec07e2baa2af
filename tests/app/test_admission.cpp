// Admission over real sockets: a signed stream that never sends `start` is closed and never
// counts; past MAX_CALLS the webhook answers FULL_MESSAGE and hangs up, /readyz reports full,
// and the refusal is counted; the event-loop lag is measured and exported.
#include "app/loop_lag_monitor.hpp"
#include "bridge_harness.hpp"
#include "cluster/process_support.hpp"
#include "net/twilio_signature.hpp"
#include "net/websocket_client.hpp"

#include <catch2/catch.hpp>

#include <future>
#include <sstream>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

/// The value of the first sample line of `name` (with all `labels`, given as k="v" text).
std::optional<double> sample(const std::string& scrape, std::string_view name,
                             std::string_view labels = {}) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name) || line.size() <= name.size() ||
        (line[name.size()] != '{' && line[name.size()] != ' '))
      continue;
    if (!labels.empty() && line.find(labels) == std::string::npos)
      continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return std::nullopt;
}

/// A media stream that says `connected`, as Twilio does first, and then nothing.
class silent_stream final : public net::websocket_handler {
 public:
  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    connection->send_text(R"({"event":"connected","protocol":"Call","version":"1.0.0"})");
    connection_ = connection;
    opened.set_value();
  }
  void on_message(std::string, bool) override {}
  void on_close(net::websocket_closed why) override {
    // The connection holds this handler: keeping it past the close would make a cycle that
    // neither side frees (LeakSanitizer's finding).
    connection_.reset();
    closed.set_value(why);
  }
  void on_connect_failed(net::websocket_connect_failure why) override {
    opened.set_exception(std::make_exception_ptr(std::runtime_error(why.reason)));
  }
  std::promise<void> opened;
  std::promise<net::websocket_closed> closed;

 private:
  std::shared_ptr<net::websocket_connection> connection_;  // kept open from our side
};

}  // namespace

TEST_CASE("a signed stream that never sends start is closed at START_TIMEOUT, the gauge unmoved",
          "[admission][end_to_end]") {
  bridge_harness::options options;
  options.configure = [](config::settings& settings) {
    settings.start_timeout_s = 1;
  };
  bridge_harness harness(options);
  const auto port = harness.server().port();
  const auto host = "127.0.0.1:" + std::to_string(port);
  // Signed as Twilio signs an upgrade: over the wss:// URL our TwiML names (no PUBLIC_URL here).
  const auto signature =
      net::compute_twilio_signature(harness.auth_token(), "wss://" + host + "/media-stream", {});
  auto stream = std::make_shared<silent_stream>();
  auto opened = stream->opened.get_future();
  auto closed = stream->closed.get_future();
  net::connect_websocket(
      harness.sim_io(),
      {.url = "ws://" + host + "/media-stream", .headers = {{"X-Twilio-Signature", signature}}},
      stream);
  REQUIRE(opened.wait_for(30s) == std::future_status::ready);
  opened.get();  // the upgrade was accepted

  const auto during = harness.get(port, "/metrics").body;
  CHECK(sample(during, "switchboard_active_calls") == 0);
  CHECK(sample(during, "switchboard_calls_started_total") == 0);
  CHECK(sample(during, "switchboard_websocket_connections_open", R"(peer="twilio")") == 1);

  REQUIRE(closed.wait_for(30s) == std::future_status::ready);
  const auto why = closed.get();
  CHECK(why.code == 1008);
  CHECK(why.reason.find("no start") != std::string::npos);

  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK_FALSE(finished[0].started);
  const auto after = harness.get(port, "/metrics").body;
  CHECK(sample(after, "switchboard_active_calls") == 0);
  CHECK(sample(after, "switchboard_calls_started_total") == 0);
  CHECK(sample(after, "switchboard_stream_start_timeouts_total") == 1);
  CHECK(sample(after, "switchboard_calls_total", R"(outcome="refused")") == 1);
  CHECK(harness.model().stats().sessions_opened == 0);
  CHECK(std::filesystem::directory_iterator(harness.recordings()) ==
        std::filesystem::directory_iterator());
}

TEST_CASE("past MAX_CALLS the webhook says FULL_MESSAGE and hangs up, and /readyz says full",
          "[admission][end_to_end]") {
  bridge_harness::options options;
  options.configure = [](config::settings& settings) {
    settings.max_calls = 1;
    settings.full_message = "All our agents are busy. Please call back soon.";
  };
  bridge_harness harness(options);
  const auto port = harness.server().port();
  CHECK(harness.get(port, "/readyz").status == 200);

  std::promise<void> release;
  std::promise<void> holding;
  auto first = harness.start(harness.call({
      sim::hold_until(release.get_future().share(), [&holding] { holding.set_value(); }),
      sim::hangup(),
  }));
  REQUIRE(holding.get_future().wait_for(30s) == std::future_status::ready);
  // The caller holds once it has sent `start`; the call counts once the server has read it.
  REQUIRE(switchboard::testing::cluster::eventually(
      [&] { return harness.server().calls().active_calls() == 1; }));

  const auto refused = harness.place(harness.call({sim::silence(100ms), sim::hangup()}));
  CHECK(refused.ok());  // a polite refusal is not an error
  CHECK(refused.webhook_status == 200);
  CHECK(refused.declined);
  CHECK(refused.declined_message == "All our agents are busy. Please call back soon.");
  CHECK(refused.upgrade_status == 0);  // no stream was opened

  const auto ready = harness.get(port, "/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.body.find("full") != std::string::npos);
  const auto scrape = harness.get(port, "/metrics").body;
  CHECK(sample(scrape, "switchboard_calls_refused_total", R"(reason="full",source="webhook")") ==
        1);
  CHECK(sample(scrape, "switchboard_active_calls") == 1);
  CHECK(sample(scrape, "switchboard_max_calls") == 1);

  release.set_value();
  const auto held = first.get();
  CHECK(held.ok());
  CHECK_FALSE(held.declined);
  REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);
  CHECK(harness.get(port, "/readyz").status == 200);
  // The refused call never reached the model: at most one session, the held call's.
  CHECK(harness.model().stats().sessions_opened <= 1);
}

TEST_CASE("the lag monitor samples how late its timer ran, tick after tick, until stopped",
          "[admission]") {
  boost::asio::io_context io;
  std::vector<std::chrono::microseconds> lags;
  std::optional<app::loop_lag_monitor> monitor;
  monitor.emplace(io, 1ms, [&](std::chrono::microseconds lag) {
    lags.push_back(lag);
    if (lags.size() == 3)
      monitor->stop();
  });
  monitor->start();
  io.run();  // returns once the monitor stops re-arming
  REQUIRE(lags.size() == 3);
  for (const auto lag : lags)
    CHECK(lag >= 0us);
}

TEST_CASE("the shards' lags reach admission once each: the worst since the last take",
          "[admission]") {
  app::shard_lags lags(2);
  CHECK(lags.take_worst() == 0us);  // nothing recorded yet

  // One late tick of shard 1 counts for one period only: admission trips on two in a row, so
  // reading it again at shard 0's next tick would trip a node that was late once.
  lags.record(1, 45ms);
  lags.record(0, 2ms);
  CHECK(lags.take_worst() == 45ms);
  lags.record(0, 3ms);
  CHECK(lags.take_worst() == 3ms);

  // Two ticks of one shard between takes: the worse is kept, whatever their order.
  lags.record(1, 30ms);
  lags.record(1, 5ms);
  CHECK(lags.take_worst() == 30ms);
  CHECK(lags.take_worst() == 0us);
}

TEST_CASE("the admission families are in a fresh node's scrape", "[admission][end_to_end]") {
  bridge_harness harness;
  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(sample(scrape, "switchboard_loop_lag_seconds_count").has_value());
  CHECK(sample(scrape, "switchboard_admitting") == 1);
  CHECK(sample(scrape, "switchboard_max_calls") == 0);
  CHECK(sample(scrape, "switchboard_stream_start_timeouts_total") == 0);
  for (const auto* labels :
       {R"(reason="full",source="webhook")", R"(reason="overloaded",source="webhook")",
        R"(reason="full",source="api")", R"(reason="overloaded",source="stream")"})
    CHECK(sample(scrape, "switchboard_calls_refused_total", labels) == 0);
}
