// Placement's choice (app/placement.hpp) on tables with explicit times: where a new call goes.
#include "app/placement.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using switchboard::actors::cluster_member;
using switchboard::actors::node_state;
using switchboard::app::local_node_status;
using switchboard::app::placement_order;
using switchboard::app::placement_tally;
using switchboard::app::placement_target;

namespace {

const placement_tally::clock::time_point t0{std::chrono::hours(1)};

cluster_member peer(const std::string& name, std::uint32_t active, std::uint32_t capacity,
                    node_state state = node_state::ready, std::uint32_t promised = 0,
                    double load = 0) {
  cluster_member member;
  member.id = name + "-id";
  member.report.name = name;
  member.report.state = state;
  member.state = state;
  member.report.active_calls = active;
  member.report.promised_calls = promised;
  member.report.capacity = capacity;
  member.report.stream_url = "wss://" + name + ".example.com/media-stream";
  member.report.load = load;
  member.heartbeat_age = 500ms;
  return member;
}

local_node_status here(std::uint32_t occupied, std::uint32_t capacity, bool stream_url = true) {
  local_node_status self;
  self.id = "self-id";
  self.name = "self";
  self.has_stream_url = stream_url;
  self.occupied = occupied;
  self.capacity = capacity;
  return self;
}

std::vector<std::string> names(const std::vector<placement_target>& order) {
  std::vector<std::string> out;
  for (const auto& target : order)
    out.push_back(target.name);
  return out;
}

}  // namespace

TEST_CASE("placement: the least loaded node with room first and this node among them",
          "[placement]") {
  const std::vector<cluster_member> members{peer("a", 3, 4), peer("b", 1, 4), peer("c", 2, 4)};
  CHECK(names(placement_order(members, here(2, 4), nullptr, t0)) ==
        std::vector<std::string>{"b", "self", "c", "a"});
  // A peer's target carries its stream URL; this node's none (its own TwiML).
  const auto order = placement_order(members, here(2, 4), nullptr, t0);
  CHECK(order.front().stream_url == "wss://b.example.com/media-stream");
  CHECK(order.front().node_id == "b-id");
  CHECK(order[1].self);
  CHECK(order[1].stream_url.empty());
}

TEST_CASE("placement: share of capacity then calls then this node then load then name",
          "[placement]") {
  // 2 of 10 beats 1 of 4.
  CHECK(names(placement_order({peer("a", 1, 4), peer("b", 2, 10)}, here(9, 10), nullptr, t0)) ==
        std::vector<std::string>{"b", "a", "self"});
  // Unlimited capacity is no share; then the fewest calls.
  CHECK(names(placement_order({peer("a", 5, 0), peer("b", 3, 0)}, here(4, 0), nullptr, t0)) ==
        std::vector<std::string>{"b", "self", "a"});
  // A tie with this node: this node (its stream needs no claim elsewhere).
  CHECK(names(placement_order({peer("a", 2, 4)}, here(2, 4), nullptr, t0)).front() == "self");
  // Then CPU load, then the name.
  CHECK(
      names(placement_order(
          {peer("b", 1, 0, node_state::ready, 0, 0.2), peer("a", 1, 0, node_state::ready, 0, 0.5)},
          here(3, 0), nullptr, t0)) == std::vector<std::string>{"b", "a", "self"});
  CHECK(names(placement_order({peer("b", 1, 0), peer("a", 1, 0)}, here(3, 0), nullptr, t0)) ==
        std::vector<std::string>{"a", "b", "self"});
}

TEST_CASE(
    "placement: a full node or a joining or draining or down one or one without a stream URL: "
    "never chosen",
    "[placement]") {
  auto no_url = peer("no-url", 0, 4);
  no_url.report.stream_url.clear();
  const std::vector<cluster_member> members{
      peer("full", 4, 4),
      peer("promised-full", 2, 4, node_state::ready, 2),
      peer("joining", 0, 4, node_state::joining),
      peer("draining", 0, 4, node_state::draining),
      peer("down", 0, 4, node_state::down),
      no_url,
      peer("ok", 3, 4),
  };
  CHECK(names(placement_order(members, here(4, 4), nullptr, t0)) == std::vector<std::string>{"ok"});
  // Every node full: nowhere (the webhook answers FULL_MESSAGE).
  CHECK(placement_order({peer("full", 4, 4)}, here(4, 4), nullptr, t0).empty());
}

TEST_CASE("placement: promises count whether in the heartbeat or not reported yet", "[placement]") {
  placement_tally tally;
  // b reported 1 call and 0 promised half a second ago; this node has since placed two calls
  // there: b now counts 3, a with 2 goes first.
  const std::vector<cluster_member> members{peer("a", 2, 10), peer("b", 1, 10)};
  CHECK(names(placement_order(members, here(5, 10), &tally, t0)).front() == "b");
  tally.placed("b-id", t0 - 100ms);
  tally.placed("b-id", t0 - 50ms);
  CHECK(names(placement_order(members, here(5, 10), &tally, t0)).front() == "a");
  // A placement before b's heartbeat is in it already: not counted twice.
  placement_tally earlier;
  earlier.placed("b-id", t0 - 2s);
  earlier.placed("b-id", t0 - 2s);
  CHECK(names(placement_order(members, here(5, 10), &earlier, t0)).front() == "b");
  // The heartbeat's own promises count too.
  CHECK(names(placement_order({peer("a", 2, 10), peer("b", 1, 10, node_state::ready, 2)},
                              here(5, 10), nullptr, t0))
            .front() == "a");
}

TEST_CASE("placement: the tally spreads a burst that no heartbeat has shown yet", "[placement]") {
  // Three nodes of 10, all empty; 30 calls in one instant at this node: 10 each.
  placement_tally tally;
  std::vector<cluster_member> members{peer("a", 0, 10), peer("b", 0, 10)};
  std::uint32_t here_occupied = 0;
  std::map<std::string, int> placed;
  for (int call = 0; call < 30; ++call) {
    const auto order = placement_order(members, here(here_occupied, 10), &tally, t0);
    REQUIRE_FALSE(order.empty());
    const auto& target = order.front();
    ++placed[target.name];
    if (target.self)
      ++here_occupied;
    else
      tally.placed(target.node_id, t0);
  }
  CHECK(placed == std::map<std::string, int>{{"a", 10}, {"b", 10}, {"self", 10}});
  // Full by the tally, not yet by their heartbeats: still asked (last), their answer decides.
  CHECK(names(placement_order(members, here(here_occupied, 10), &tally, t0)) ==
        std::vector<std::string>{"a", "b"});
}

TEST_CASE(
    "placement: without NODE_STREAM_URL this node keeps what lands on it and draining it is "
    "the last resort",
    "[placement]") {
  const std::vector<cluster_member> members{peer("a", 0, 10)};
  CHECK(names(placement_order(members, here(5, 10, false), nullptr, t0)) ==
        std::vector<std::string>{"self", "a"});
  // Full: a peer with room takes it.
  CHECK(names(placement_order(members, here(10, 10, false), nullptr, t0)) ==
        std::vector<std::string>{"a"});
  auto draining = here(0, 10);
  draining.draining = true;
  CHECK(names(placement_order({peer("a", 9, 10)}, draining, nullptr, t0)) ==
        std::vector<std::string>{"a", "self"});
  // Alone (no cluster): this node, when it has room.
  CHECK(names(placement_order({}, here(0, 1), nullptr, t0)) == std::vector<std::string>{"self"});
  CHECK(placement_order({}, here(1, 1), nullptr, t0).empty());
}

TEST_CASE("the cluster's dial budget is kept by the live node with the lowest id", "[placement]") {
  using switchboard::app::dial_budget_keeper;
  auto self = peer("self", 0, 0);
  self.self = true;
  auto a = peer("a", 0, 0);
  a.id = "0A#1";
  auto b = peer("b", 0, 0, node_state::draining);
  b.id = "0B#2";
  self.id = "0C#3";
  CHECK(dial_budget_keeper({self, a, b}) == "0A#1");
  // Down nodes keep nothing; joining and draining ones still do (they answer).
  a.state = node_state::down;
  CHECK(dial_budget_keeper({self, a, b}) == "0B#2");
  CHECK(dial_budget_keeper({self}) == "0C#3");
}
