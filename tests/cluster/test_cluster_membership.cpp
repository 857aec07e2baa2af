// The membership table (actors/cluster_membership.hpp) driven with explicit times: peers join,
// report ready, go down by link loss or silence, rejoin under a new node id, and are forgotten.
#include "actors/cluster_membership.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace std::chrono_literals;
using switchboard::actors::cluster_member;
using switchboard::actors::cluster_membership;
using switchboard::actors::membership_change;
using switchboard::actors::node_report;
using switchboard::actors::node_state;

namespace {

const cluster_membership::clock::time_point t0{};

node_report report(std::string name, node_state state, std::string address = {}) {
  node_report out;
  out.name = std::move(name);
  out.state = state;
  out.address = std::move(address);
  return out;
}

cluster_membership table() {
  return cluster_membership("self-id", report("a", node_state::ready, "a:1"),
                            {.silence_limit = 4s, .forget_after = 60s});
}

const cluster_member* find(const std::vector<cluster_member>& members, const std::string& id) {
  auto it = std::find_if(members.begin(), members.end(), [&](auto& m) { return m.id == id; });
  return it == members.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("membership: a linked peer is joining until it reports ready", "[cluster_membership]") {
  auto nodes = table();
  CHECK(nodes.linked("b-id", t0) == membership_change::joined);
  CHECK(nodes.linked("b-id", t0 + 1s) == membership_change::none);
  auto members = nodes.members(t0 + 1s);
  REQUIRE(members.size() == 2);
  CHECK(members[0].self);
  CHECK(members[0].id == "self-id");
  REQUIRE(find(members, "b-id"));
  CHECK(find(members, "b-id")->state == node_state::joining);
  CHECK_FALSE(find(members, "b-id")->heartbeat_age);

  auto changes = nodes.heard("b-id", report("b", node_state::joining, "b:1"), t0 + 2s);
  CHECK(changes.empty());
  changes = nodes.heard("b-id", report("b", node_state::ready, "b:1"), t0 + 3s);
  CHECK(changes == std::vector{membership_change::ready});
  changes = nodes.heard("b-id", report("b", node_state::ready, "b:1"), t0 + 4s);
  CHECK(changes.empty());
  members = nodes.members(t0 + 4500ms);
  CHECK(find(members, "b-id")->state == node_state::ready);
  CHECK(find(members, "b-id")->heartbeat_age == 500ms);
  CHECK(nodes.live_addresses() == std::vector<std::string>{"b:1"});
  CHECK(nodes.counts().at(node_state::ready) == 2);
}

TEST_CASE("membership: a heartbeat from an unknown node links it", "[cluster_membership]") {
  auto nodes = table();
  auto changes = nodes.heard("c-id", report("c", node_state::ready), t0);
  CHECK(changes == std::vector{membership_change::joined, membership_change::ready});
  CHECK(nodes.is_live("c-id"));
}

TEST_CASE("membership: a lost link marks the peer down once", "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-id", report("b", node_state::ready, "b:1"), t0);
  CHECK(nodes.lost("b-id", t0 + 1s) == membership_change::lost);
  CHECK(nodes.lost("b-id", t0 + 2s) == membership_change::none);
  CHECK(nodes.lost("unknown", t0 + 2s) == membership_change::none);
  CHECK_FALSE(nodes.is_live("b-id"));
  CHECK(nodes.live_addresses().empty());
  CHECK(find(nodes.members(t0 + 2s), "b-id")->state == node_state::down);
  CHECK(nodes.counts().at(node_state::down) == 1);
}

TEST_CASE("membership: a silent peer is down at the silence limit, not before",
          "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-id", report("b", node_state::ready), t0);
  nodes.linked("never-heard", t0 + 1s);
  CHECK(nodes.expire(t0 + 3999ms).empty());
  CHECK(nodes.expire(t0 + 4s) == std::vector<std::string>{"b-id"});
  CHECK(nodes.is_live("never-heard"));
  CHECK(nodes.expire(t0 + 5s) == std::vector<std::string>{"never-heard"});
  CHECK(nodes.expire(t0 + 6s).empty());
}

TEST_CASE("membership: a heartbeat after down brings the same node back", "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-id", report("b", node_state::ready), t0);
  nodes.lost("b-id", t0 + 1s);
  auto changes = nodes.heard("b-id", report("b", node_state::ready), t0 + 2s);
  CHECK(changes == std::vector{membership_change::joined, membership_change::ready});
  CHECK(nodes.is_live("b-id"));
}

TEST_CASE("membership: a restarted node rejoins under a new id in the place of its down entry",
          "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-old", report("b", node_state::ready), t0);
  nodes.heard("c-id", report("c", node_state::ready), t0);
  nodes.lost("b-old", t0 + 1s);
  auto changes = nodes.heard("b-new", report("b", node_state::joining), t0 + 5s);
  CHECK(changes == std::vector{membership_change::joined, membership_change::rejoined});
  auto members = nodes.members(t0 + 5s);
  CHECK(members.size() == 3);
  CHECK_FALSE(find(members, "b-old"));
  CHECK(find(members, "b-new")->state == node_state::joining);
}

TEST_CASE("membership: a live namesake is not replaced", "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-one", report("b", node_state::ready), t0);
  auto changes = nodes.heard("b-two", report("b", node_state::ready), t0);
  CHECK(changes == std::vector{membership_change::joined, membership_change::ready});
  CHECK(nodes.members(t0).size() == 3);
}

TEST_CASE("membership: down nodes are forgotten after forget_after", "[cluster_membership]") {
  auto nodes = table();
  nodes.heard("b-id", report("b", node_state::ready), t0);
  nodes.lost("b-id", t0 + 1s);
  nodes.expire(t0 + 60s);
  CHECK(find(nodes.members(t0 + 60s), "b-id"));
  nodes.expire(t0 + 61s);
  CHECK_FALSE(find(nodes.members(t0 + 61s), "b-id"));
}

TEST_CASE("membership: this node never enters its own table, and no peer reports itself down",
          "[cluster_membership]") {
  auto nodes = table();
  CHECK(nodes.linked("self-id", t0) == membership_change::none);
  CHECK(nodes.heard("self-id", report("a", node_state::ready), t0).empty());
  CHECK(nodes.heard("b-id", report("b", node_state::down), t0).empty());
  CHECK(nodes.members(t0).size() == 1);
}

TEST_CASE("membership: reported states parse from their words only", "[cluster_membership]") {
  using switchboard::actors::parse_reported_state;
  CHECK(parse_reported_state("joining") == node_state::joining);
  CHECK(parse_reported_state("ready") == node_state::ready);
  CHECK(parse_reported_state("draining") == node_state::draining);
  CHECK_FALSE(parse_reported_state("down"));
  CHECK_FALSE(parse_reported_state("Ready"));
  CHECK_FALSE(parse_reported_state(""));
}
