// The drain's decisions (app/node_drain.hpp) with explicit times: the state machine SIGTERM and
// POST /drain drive, what happens at DRAIN_TIMEOUT, and which peer a draining node sends new
// calls to.
#include "app/node_drain.hpp"
#include "bridge_harness.hpp"

#include <catch2/catch.hpp>

#include <future>

using namespace std::chrono_literals;
using switchboard::actors::cluster_member;
using switchboard::actors::node_state;
using switchboard::app::choose_stream_peer;
using switchboard::app::drain_phase;
using switchboard::app::drain_state;
using switchboard::app::drain_trigger;
using outcome = drain_state::request_outcome;

namespace {

const drain_state::clock::time_point t0{std::chrono::hours(1)};

cluster_member peer(std::string name, node_state state, std::uint32_t active,
                    std::uint32_t capacity, std::string stream_url, double load = 0) {
  cluster_member member;
  member.id = name + "-id";
  member.report.name = std::move(name);
  member.report.state = state;
  member.state = state;
  member.report.active_calls = active;
  member.report.capacity = capacity;
  member.report.stream_url = std::move(stream_url);
  member.report.load = load;
  return member;
}

}  // namespace

TEST_CASE("a serving node does nothing until asked to drain", "[drain]") {
  drain_state drain(300s);
  CHECK(drain.phase() == drain_phase::serving);
  CHECK_FALSE(drain.draining());
  const auto step = drain.poll(t0 + 1h, 0);
  CHECK_FALSE(step.stop);
  CHECK_FALSE(step.end_calls);
  CHECK_FALSE(drain.deadline());
}

TEST_CASE("SIGTERM drains, and the node stops once no call remains, before the deadline",
          "[drain]") {
  drain_state drain(300s);
  CHECK(drain.request(drain_trigger::signal, t0) == outcome::started);
  CHECK(drain.phase() == drain_phase::draining);
  REQUIRE(drain.deadline());
  CHECK(*drain.deadline() == t0 + 300s);
  // Calls run on: nothing is due while they last and the deadline is ahead.
  auto step = drain.poll(t0 + 10s, 3);
  CHECK_FALSE(step.stop);
  CHECK_FALSE(step.end_calls);
  step = drain.poll(t0 + 299s, 1);
  CHECK_FALSE(step.end_calls);
  step = drain.poll(t0 + 299s, 0);
  CHECK(step.stop);
  CHECK(drain.phase() == drain_phase::done);
}

TEST_CASE("a node with no call when SIGTERM comes stops at the first poll", "[drain]") {
  drain_state drain(300s);
  REQUIRE(drain.request(drain_trigger::signal, t0) == outcome::started);
  CHECK(drain.poll(t0, 0).stop);
}

TEST_CASE("calls still live at DRAIN_TIMEOUT are ended, on every poll until none remains",
          "[drain]") {
  drain_state drain(5s);
  REQUIRE(drain.request(drain_trigger::api, t0) == outcome::started);
  CHECK_FALSE(drain.poll(t0 + 4s, 2).end_calls);
  auto step = drain.poll(t0 + 5s, 2);
  CHECK(step.end_calls);
  CHECK_FALSE(step.stop);
  CHECK(drain.phase() == drain_phase::ending_calls);
  // A call answered just before the deadline starts later: later polls still say so.
  step = drain.poll(t0 + 6s, 1);
  CHECK(step.end_calls);
  step = drain.poll(t0 + 7s, 0);
  CHECK(step.stop);
  CHECK_FALSE(step.end_calls);
}

TEST_CASE("DRAIN_TIMEOUT 0 ends the live calls at once", "[drain]") {
  drain_state drain(0s);
  REQUIRE(drain.request(drain_trigger::signal, t0) == outcome::started);
  CHECK(drain.poll(t0, 1).end_calls);
}

TEST_CASE("a second signal stops at once, a repeated POST /drain does not", "[drain]") {
  SECTION("two signals") {
    drain_state drain(300s);
    REQUIRE(drain.request(drain_trigger::signal, t0) == outcome::started);
    CHECK(drain.request(drain_trigger::signal, t0 + 1s) == outcome::stop_now);
    CHECK(drain.phase() == drain_phase::done);
    CHECK(drain.poll(t0 + 1s, 4).stop);
  }
  SECTION("POST /drain twice, then Kubernetes' SIGTERM, then a second SIGTERM") {
    drain_state drain(300s);
    REQUIRE(drain.request(drain_trigger::api, t0) == outcome::started);
    CHECK(drain.request(drain_trigger::api, t0 + 1s) == outcome::already_draining);
    // The operator drained first; the SIGTERM that follows is the first signal.
    CHECK(drain.request(drain_trigger::signal, t0 + 2s) == outcome::already_draining);
    CHECK(drain.phase() == drain_phase::draining);
    CHECK(*drain.deadline() == t0 + 300s);  // the first request set it
    CHECK(drain.request(drain_trigger::signal, t0 + 3s) == outcome::stop_now);
  }
}

TEST_CASE("the drain deadline's decision: hand over to a peer when Twilio can be asked",
          "[drain]") {
  using switchboard::app::disposition_at_deadline;
  using switchboard::app::drain_disposition;
  const std::string peer_url = "wss://node-b.example.com/media-stream";
  // A peer and Twilio credentials: the call moves.
  CHECK(disposition_at_deadline({peer_url, true}) == drain_disposition::hand_over);
  // No peer, or no credentials to update the call with, or a peer with no stream: goodbye.
  CHECK(disposition_at_deadline({}) == drain_disposition::goodbye);
  CHECK(disposition_at_deadline({std::nullopt, true}) == drain_disposition::goodbye);
  CHECK(disposition_at_deadline({peer_url, false}) == drain_disposition::goodbye);
  CHECK(disposition_at_deadline({std::string(), true}) == drain_disposition::goodbye);
}

TEST_CASE("the hand-over peer is placement's choice and names its node", "[drain]") {
  using switchboard::app::choose_handover_peer;
  cluster_member self = peer("a", node_state::draining, 1, 0, "wss://a.example.com/media-stream");
  self.self = true;
  CHECK_FALSE(choose_handover_peer({self}));
  const auto chosen = choose_handover_peer(
      {self, peer("b", node_state::ready, 0, 0, "wss://b.example.com/media-stream")});
  REQUIRE(chosen);
  CHECK(chosen->node_id == "b-id");
  CHECK(chosen->stream_url == "wss://b.example.com/media-stream");
}

TEST_CASE("a draining node sends new calls to the least loaded ready peer with room", "[drain]") {
  const std::string a = "wss://a.example.com/media-stream";
  const std::string b = "wss://b.example.com/media-stream";
  const std::string c = "wss://c.example.com/media-stream";

  SECTION("alone, or with no peer that can take a call: none") {
    auto self = peer("self", node_state::draining, 3, 0, "wss://self.example.com/media-stream");
    self.self = true;
    CHECK_FALSE(choose_stream_peer({self}));
    CHECK_FALSE(choose_stream_peer({
        self,
        peer("joining", node_state::joining, 0, 0, a),
        peer("draining", node_state::draining, 0, 0, b),
        peer("down", node_state::down, 0, 0, c),
        peer("no-url", node_state::ready, 0, 0, ""),
        peer("full", node_state::ready, 10, 10, a),
    }));
  }
  SECTION("a ready node that is this one is never chosen") {
    auto self = peer("self", node_state::ready, 0, 0, a);
    self.self = true;
    CHECK(choose_stream_peer({self, peer("b", node_state::ready, 5, 0, b)}) == b);
  }
  SECTION("the smallest share of its capacity first") {
    CHECK(choose_stream_peer({peer("a", node_state::ready, 50, 100, a),
                              peer("b", node_state::ready, 30, 40, b),
                              peer("c", node_state::ready, 10, 100, c)}) == c);
  }
  SECTION("then the fewest live calls, the lower CPU load, the name") {
    CHECK(choose_stream_peer(
              {peer("a", node_state::ready, 7, 0, a), peer("b", node_state::ready, 3, 0, b)}) == b);
    CHECK(choose_stream_peer({peer("a", node_state::ready, 3, 0, a, 0.5),
                              peer("b", node_state::ready, 3, 0, b, 0.2)}) == b);
    CHECK(choose_stream_peer(
              {peer("b", node_state::ready, 3, 0, b), peer("a", node_state::ready, 3, 0, a)}) == a);
  }
}

TEST_CASE("POST /drain in process: the goodbye at DRAIN_TIMEOUT is counted and ends as drained",
          "[drain]") {
  namespace metrics = switchboard::metrics;
  switchboard::testing::bridge_harness harness({.configure = [](auto& settings) {
    settings.api_token = "drain-token";
    settings.drain_timeout_s = 0;
    settings.drain_message = "Goodbye from the drain.";
  }});
  const auto port = harness.server().port();
  std::promise<void> holding;
  std::promise<void> never;
  auto call = harness.start(harness.call({switchboard::sim::hold_until(
      never.get_future().share(), [&] { holding.set_value(); }, std::chrono::seconds(60))}));
  REQUIRE(holding.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK_FALSE(harness.server().draining());
  CHECK(harness.server().metrics().draining().Value() == 0);

  switchboard::net::http_client_request drain;
  drain.method = "POST";
  drain.headers = {{"Authorization", "Bearer drain-token"}};
  CHECK(harness.send(port, "/drain", drain).status == 202);
  CHECK(harness.server().draining());
  CHECK(harness.server().metrics().draining().Value() == 1);

  const auto result = call.get();
  CHECK(result.server_closed_first);
  CHECK(result.agent_bytes_played == result.agent_bytes_received);
  const auto ended = harness.server().calls().wait_for_finished(1, std::chrono::seconds(30));
  REQUIRE(ended.size() == 1);
  CHECK(ended.front().end_reason == "drained");
  auto& node = harness.server().metrics();
  CHECK(node.calls_handed_over(metrics::handover_result::goodbye).Value() == 1);
  CHECK(node.calls_ended(metrics::call_end::drained).Value() == 1);
  CHECK(node.calls_ended(metrics::call_end::completed).Value() == 0);
  // The node stops by itself once the call's files are written: wait() returns.
  harness.server().wait(false);
}

TEST_CASE("after the last call the drain waits for the uploads up to its bound", "[drain]") {
  using switchboard::app::upload_drain;
  upload_drain uploads(25s);
  // Nothing to upload: the exit is not held.
  CHECK_FALSE(uploads.keep_waiting(t0, 0));
  CHECK_FALSE(uploads.since());
  // Files waiting: held from the first poll that sees them, until done or the bound.
  CHECK(uploads.keep_waiting(t0 + 1s, 3));
  CHECK(uploads.since() == t0 + 1s);
  CHECK(uploads.keep_waiting(t0 + 25s, 2));
  CHECK_FALSE(uploads.keep_waiting(t0 + 26s, 2));  // left behind, marked for the next start
  upload_drain done(25s);
  CHECK(done.keep_waiting(t0, 1));
  CHECK_FALSE(done.keep_waiting(t0 + 100ms, 0));
}
