// The call directory's merge rules (actors/call_directory.hpp) driven directly: peers announce
// their calls' start, changes and end in any order and more than once; a snapshot on link-up
// replaces what was known; a lost node's calls end as "node lost"; this node's own calls are
// announced (by sid) only when what peers see of them changes.
#include "actors/call_directory.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using switchboard::actors::call_directory;
using switchboard::actors::call_state;
using switchboard::actors::call_view;
using switchboard::actors::remote_call_book;
using switchboard::actors::shared_call_view;

namespace {

const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

shared_call_view call(std::string sid, std::string state, std::uint64_t revision,
                      std::int64_t started_ms = 1'800'000'000'000) {
  shared_call_view view;
  view.identity.call_sid = std::move(sid);
  view.identity.stream_sid = "MZ" + view.identity.call_sid;
  view.direction = "inbound";
  view.state = std::move(state);
  view.started_at_ms = started_ms;
  view.revision = revision;
  return view;
}

shared_call_view ended(std::string sid, std::uint64_t revision, std::string reason,
                       std::int64_t ended_ms) {
  auto view = call(std::move(sid), "ended", revision);
  view.end_reason = std::move(reason);
  view.ended_at_ms = ended_ms;
  return view;
}

}  // namespace

TEST_CASE("call directory: a peer's call is live until announced ended, then recent",
          "[call_directory]") {
  remote_call_book book;
  CHECK(book.announced("id-b", "node-b", call("CA1", "live", 1)));
  REQUIRE(book.live().size() == 1);
  CHECK(book.live().front().node == "node-b");
  CHECK(book.node_of("CA1") == "id-b");
  CHECK(book.announced("id-b", "node-b", call("CA1", "ending", 2)));
  CHECK(book.live().front().state == call_state::ending);
  CHECK(book.node_of("CA1") == "id-b");  // still steerable there (its node decides)
  CHECK(book.announced("id-b", "node-b", ended("CA1", 3, "twilio stop", 1'800'000'060'000)));
  CHECK(book.live().empty());
  REQUIRE(book.recent().size() == 1);
  CHECK(book.recent().front().end_reason == "twilio stop");
  CHECK(book.recent().front().ended_at == t0 + 60s);
  CHECK_FALSE(book.node_of("CA1"));
  CHECK(book.find("CA1")->state == call_state::ended);
}

TEST_CASE("call directory: stale and repeated announcements change nothing", "[call_directory]") {
  remote_call_book book;
  CHECK(book.announced("id-b", "node-b", call("CA1", "ending", 2)));
  CHECK_FALSE(book.announced("id-b", "node-b", call("CA1", "live", 1)));    // older
  CHECK_FALSE(book.announced("id-b", "node-b", call("CA1", "ending", 2)));  // again
  CHECK(book.live().front().state == call_state::ending);
  CHECK(book.announced("id-b", "node-b", ended("CA1", 3, "hung up", 1'800'000'010'000)));
  CHECK_FALSE(book.announced("id-b", "node-b", ended("CA1", 3, "hung up", 1'800'000'010'000)));
  // A late start after the end does not bring the call back.
  CHECK_FALSE(book.announced("id-b", "node-b", call("CA1", "live", 1)));
  CHECK(book.live().empty());
  CHECK(book.recent().size() == 1);
  // An end never seen started is still listed as ended.
  CHECK(book.announced("id-b", "node-b", ended("CA2", 2, "twilio stop", 1'800'000'020'000)));
  CHECK(book.recent().front().identity.call_sid == "CA2");  // newest end first
  // A state that is not one of ours is hostile: dropped.
  CHECK_FALSE(book.announced("id-b", "node-b", call("CA3", "exploded", 1)));
  CHECK_FALSE(book.announced("id-b", "node-b", call("", "live", 1)));
}

TEST_CASE("call directory: a handed-over call's next part outranks its first part's end",
          "[call_directory]") {
  using switchboard::actors::part_revision_base;
  remote_call_book book;
  // Part 1 on node-a: started, a few changes, ended as handed over.
  CHECK(book.announced("id-a", "node-a", call("CA1", "live", 1)));
  CHECK(book.announced("id-a", "node-a", ended("CA1", 7, "handed over", 1'800'000'030'000)));
  // Part 2 on node-b begins at its part's base; its news count though part 1's end is newer in
  // plain numbers than part 2's first revisions would be.
  CHECK(book.announced("id-b", "node-b", call("CA1", "live", part_revision_base(2) + 1)));
  REQUIRE(book.live().size() == 1);
  CHECK(book.live().front().node == "node-b");
  CHECK(book.node_of("CA1") == "id-b");
  CHECK(
      book.announced("id-b", "node-b",
                     ended("CA1", part_revision_base(2) + 3, "caller hung up", 1'800'000'090'000)));
  CHECK(book.live().empty());
  REQUIRE(book.recent().size() == 1);
  CHECK(book.recent().front().end_reason == "caller hung up");
  CHECK(book.recent().front().node == "node-b");
  // Part 1's end arriving late (after part 2's) changes nothing.
  CHECK_FALSE(book.announced("id-a", "node-a", ended("CA1", 7, "handed over", 1'800'000'030'000)));
  CHECK(book.recent().front().end_reason == "caller hung up");
  CHECK(part_revision_base(1) == 0);
  CHECK(part_revision_base(3) == 2 * part_revision_base(2));
}

TEST_CASE("call directory: a snapshot on link-up replaces what was known of that node",
          "[call_directory]") {
  remote_call_book book;
  book.announced("id-b", "node-b", call("CA1", "live", 1));
  book.announced("id-c", "node-c", call("CC1", "live", 1));
  // b's snapshot: CA1 has ended meanwhile (not in it), CA2 and CA3 run.
  book.snapshot("id-b", "node-b", {call("CA2", "live", 1), call("CA3", "ending", 2)});
  CHECK_FALSE(book.node_of("CA1"));
  CHECK(book.node_of("CA2") == "id-b");
  CHECK(book.node_of("CA3") == "id-b");
  CHECK(book.node_of("CC1") == "id-c");  // another node's calls are not touched
  CHECK(book.live().size() == 3);
}

TEST_CASE("call directory: a lost node's live calls end as node lost, and it is not heard again",
          "[call_directory]") {
  remote_call_book book;
  book.announced("id-b", "node-b", call("CA1", "live", 1));
  book.announced("id-b", "node-b", call("CA2", "ending", 2));
  book.announced("id-c", "node-c", call("CC1", "live", 1));
  CHECK(book.node_lost("id-b", t0 + 5s) == 2);
  CHECK(book.live().size() == 1);
  REQUIRE(book.recent().size() == 2);
  for (const auto& view : book.recent()) {
    CHECK(view.state == call_state::ended);
    CHECK(view.end_reason == "node lost");
    CHECK(view.ended_at == t0 + 5s);
    CHECK(view.node == "node-b");
  }
  // A message of the lost process still in flight is ignored (a restart is a new node id).
  CHECK_FALSE(book.announced("id-b", "node-b", call("CA9", "live", 1)));
  CHECK(book.node_lost("id-b", t0 + 6s) == 0);
  // The same name under a new id (the restarted process) is heard.
  CHECK(book.announced("id-b2", "node-b", call("CA9", "live", 1)));
}

TEST_CASE("call directory: a node back from the dead under its id revives with its snapshot",
          "[call_directory]") {
  // A frozen node (SIGSTOP) is marked down, then continues: its link opens again and it
  // sends its snapshot; its calls that still run are live again.
  remote_call_book book;
  book.announced("id-b", "node-b", call("CA1", "live", 1));
  book.node_lost("id-b", t0 + 5s);
  book.snapshot("id-b", "node-b", {call("CA1", "live", 1)});
  CHECK(book.node_of("CA1") == "id-b");
  CHECK(book.recent().empty());
  CHECK(book.announced("id-b", "node-b", call("CA1", "ending", 2)));
}

TEST_CASE("call directory: the recent list is bounded, newest end first", "[call_directory]") {
  remote_call_book book;
  for (int i = 0; i < 60; ++i) {
    book.announced("id-b", "node-b",
                   ended("CA" + std::to_string(i), 1, "twilio stop", 1'800'000'000'000 + i));
  }
  CHECK(book.recent().size() == remote_call_book::recent_limit);
  CHECK(book.recent().front().identity.call_sid == "CA59");
}

TEST_CASE(
    "call directory: local calls are announced when what peers see changes, and merged "
    "with the peers' calls for the API",
    "[call_directory]") {
  call_directory directory;
  std::vector<std::string> announced;
  directory.join_cluster("node-a", [&](std::string sid) { announced.push_back(std::move(sid)); });
  call_view view;
  view.identity.call_sid = "CAlocal";
  view.started_at = t0 + 1s;
  directory.started({}, view);
  CHECK(announced == std::vector<std::string>{"CAlocal"});
  CHECK(directory.local_call("CAlocal", false)->revision == 1);
  // A transcript line is not the peers' business until they ask for the call.
  directory.update("CAlocal", [](call_view& v) {
    v.transcript.push_back({"caller", "i", "hi", 0});
  });
  CHECK(announced.size() == 1);
  CHECK(directory.local_call("CAlocal", true)->transcript.size() == 1);
  CHECK(directory.local_call("CAlocal", false)->transcript.empty());
  directory.update("CAlocal", [](call_view& v) { v.barge_ins = 1; });
  CHECK(announced.size() == 2);
  directory.update("CAlocal", [](call_view& v) {
    v.state = call_state::ending;
    v.end_reason = "hung up";
  });
  CHECK(announced.size() == 3);

  directory.peer_announced("id-b", "node-b", call("CAremote", "live", 1, 1'800'000'000'000));
  const auto live = directory.live();
  REQUIRE(live.size() == 2);
  CHECK(live[0].identity.call_sid == "CAremote");  // oldest first, across nodes
  CHECK(live[0].node == "node-b");
  CHECK(live[1].node == "node-a");
  CHECK(directory.peer_of("CAremote") == "id-b");
  CHECK_FALSE(directory.peer_of("CAlocal"));
  CHECK_FALSE(directory.find_local("CAremote"));
  CHECK(directory.find("CAremote"));

  directory.ended("CAlocal", "hung up", {}, {"call.json"}, t0 + 10s);
  CHECK(announced.size() == 4);
  CHECK(directory.local_call("CAlocal", false)->state == "ended");
  directory.peer_lost("id-b", t0 + 20s);
  const auto recent = directory.recent();
  REQUIRE(recent.size() == 2);
  CHECK(recent[0].identity.call_sid == "CAremote");
  CHECK(recent[0].end_reason == "node lost");
  CHECK(recent[1].identity.call_sid == "CAlocal");
  CHECK(directory.live().empty());
}

TEST_CASE("call directory: a call handed over from here is listed once as its last part ended",
          "[call_directory]") {
  using switchboard::actors::part_revision_base;
  call_directory directory;
  directory.join_cluster("node-a", [](std::string) {});
  call_view view;
  view.identity.call_sid = "CA1";
  directory.started({}, view);
  directory.ended("CA1", "handed over", {}, {"call.json"}, t0 + 30s);
  directory.peer_announced(
      "id-b", "node-b",
      ended("CA1", part_revision_base(2) + 4, "caller hung up", 1'800'000'090'000));
  directory.peer_announced("id-b", "node-b", ended("CA2", 3, "caller hung up", 1'800'000'050'000));
  const auto recent = directory.recent();
  REQUIRE(recent.size() == 2);
  CHECK(recent[0].identity.call_sid == "CA1");
  CHECK(recent[0].end_reason == "caller hung up");
  CHECK(recent[0].node == "node-b");
  CHECK(recent[1].identity.call_sid == "CA2");
  // This node's own part stays its own (its files are here).
  CHECK(directory.find_local("CA1")->end_reason == "handed over");
}

TEST_CASE("call directory: a handed-over part starts here past its part's base",
          "[call_directory]") {
  using switchboard::actors::part_revision_base;
  call_directory directory;
  directory.join_cluster("node-b", [](std::string) {});
  call_view view;
  view.identity.call_sid = "CA1";
  view.revision = part_revision_base(2);  // what the supervisor of part 2 sets
  directory.started({}, view);
  CHECK(directory.local_call("CA1", false)->revision == part_revision_base(2) + 1);
  directory.update("CA1", [](call_view& v) { v.barge_ins = 1; });
  CHECK(directory.local_call("CA1", false)->revision == part_revision_base(2) + 2);
  // What a third node makes of it, having heard part 1's end (revision 9) from node-a first.
  remote_call_book third;
  CHECK(third.announced("id-a", "node-a", ended("CA1", 9, "handed over", 1'800'000'030'000)));
  CHECK(third.announced("id-b", "node-b", *directory.local_call("CA1", false)));
  CHECK(third.node_of("CA1") == "id-b");
}

TEST_CASE("call directory: without a cluster nothing is announced and no node is named",
          "[call_directory]") {
  call_directory directory;
  call_view view;
  view.identity.call_sid = "CA1";
  directory.started({}, view);
  directory.update("CA1", [](call_view& v) { v.state = call_state::ending; });
  CHECK(directory.live().front().node.empty());
}

TEST_CASE("call directory: a call's next part may start here while its lost part still ends here",
          "[call_directory]") {
  using switchboard::actors::part_revision_base;
  call_directory directory;
  std::vector<std::string> announced;
  directory.join_cluster("node-a", [&](std::string sid) { announced.push_back(std::move(sid)); });
  call_view first;
  first.identity.call_sid = "CA1";
  directory.started({}, first, 1);
  directory.update(
      "CA1", [](call_view& v) { v.state = call_state::ending; }, 1);
  // Its stream broke; Twilio's action brought the call straight back to this node.
  call_view second = first;
  second.state = call_state::live;
  second.revision = part_revision_base(2);
  directory.started({}, second, 2);
  REQUIRE(directory.live().size() == 1);
  CHECK(directory.live().front().state == call_state::live);
  CHECK(directory.local_supervisors().size() == 2);  // a stop ends both
  const auto announced_before = announced.size();
  // The lost part's last changes and its end touch neither the live part nor the peers.
  directory.update(
      "CA1", [](call_view& v) { v.end_reason = "socket closed: connection lost"; }, 1);
  directory.ended("CA1", "socket closed: connection lost", {}, {"call.json"}, t0 + 10s, 1);
  CHECK(announced.size() == announced_before);
  REQUIRE(directory.live().size() == 1);
  CHECK(directory.find_local("CA1")->state == call_state::live);
  CHECK(directory.local_call("CA1", false)->revision == part_revision_base(2) + 1);
  CHECK(directory.local_supervisors().size() == 1);
  REQUIRE(directory.recent().size() == 1);
  CHECK(directory.recent().front().end_reason == "socket closed: connection lost");
  // The new part's own changes and end are the call's.
  directory.update(
      "CA1", [](call_view& v) { v.barge_ins = 1; }, 2);
  CHECK(directory.find_local("CA1")->barge_ins == 1);
  directory.ended("CA1", "caller hung up", {}, {"call.json"}, t0 + 60s, 2);
  CHECK(directory.live().empty());
  CHECK(directory.find_local("CA1")->end_reason == "caller hung up");
  CHECK(announced.size() == announced_before + 2);
}
