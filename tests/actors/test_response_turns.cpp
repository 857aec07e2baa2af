// The one owner of response state: one response at a time, a refused duplicate asked again,
// a barge-in's late deltas dropped, a tag back when its response ends, and what a dropped link
// leaves for the next session.
#include "actors/response_turns.hpp"

#include <catch2/catch.hpp>

using namespace switchboard::actors;

TEST_CASE("response turns: one at a time, each tag back with its own response", "[turns]") {
  response_turns turns;
  turns.want({"Say hello", "greeting", "hello"});
  turns.want({"Say goodbye", "goodbye", "goodbye"});
  const auto first = turns.next_to_request();
  REQUIRE(first);
  CHECK(first->tag == "greeting");
  CHECK_FALSE(turns.next_to_request());  // requested, not yet created: still one at a time
  const auto* request = turns.created("resp_1");
  REQUIRE(request != nullptr);
  CHECK(request->say_text == "hello");
  CHECK(turns.audio("resp_1"));
  CHECK_FALSE(turns.next_to_request());
  CHECK(turns.done("resp_1").tag == "greeting");
  const auto second = turns.next_to_request();
  REQUIRE(second);
  turns.created("resp_2");
  CHECK(turns.done("resp_2").tag == "goodbye");
  CHECK_FALSE(turns.active());
}

TEST_CASE("response turns: the server's own response crossing ours: ours is asked again after",
          "[turns]") {
  response_turns turns;
  turns.want({"Say goodbye", "goodbye", "goodbye"});
  REQUIRE(turns.next_to_request());
  // The server's turn-detection response is created before it reads our response.create...
  CHECK(turns.created("resp_server") != nullptr);
  // ...and refuses ours: the active one is the server's, not our goodbye.
  turns.refused_as_duplicate();
  CHECK_FALSE(turns.next_to_request());
  CHECK(turns.done("resp_server").tag.empty());
  const auto again = turns.next_to_request();
  REQUIRE(again);
  CHECK(again->tag == "goodbye");
  turns.created("resp_goodbye");
  CHECK(turns.done("resp_goodbye").tag == "goodbye");
}

TEST_CASE("response turns: a barge-in cancels once and drops the late deltas", "[turns]") {
  response_turns turns;
  CHECK_FALSE(turns.interrupt());  // nothing active: no response.cancel
  turns.created("resp_1");         // the server's own answer
  CHECK(turns.audio("resp_1"));
  CHECK(turns.interrupt());
  CHECK_FALSE(turns.interrupt());  // sent once
  CHECK_FALSE(turns.audio("resp_1"));
  CHECK_FALSE(turns.audio("resp_1"));
  const auto finished = turns.done("resp_1");
  CHECK(finished.interrupted);
  CHECK(finished.late_deltas_dropped == 2);
  turns.created("resp_2");
  CHECK(turns.audio("resp_2"));  // the next response plays
}

TEST_CASE("response turns: a lost link leaves what was requested or active to the caller",
          "[turns]") {
  SECTION("requested, never started") {
    response_turns turns;
    turns.want({"Say goodbye", "goodbye", "goodbye"});
    REQUIRE(turns.next_to_request());
    const auto lost = turns.link_lost();
    REQUIRE(lost);
    REQUIRE(lost->request);
    CHECK(lost->request->tag == "goodbye");
    CHECK_FALSE(lost->spoke);
    CHECK(lost->response_id.empty());
    CHECK_FALSE(turns.active());  // the next session has no response running
  }
  SECTION("active and speaking") {
    response_turns turns;
    turns.want({"Say goodbye", "goodbye", "goodbye"});
    REQUIRE(turns.next_to_request());
    turns.created("resp_1");
    turns.audio("resp_1");
    const auto lost = turns.link_lost();
    REQUIRE(lost);
    CHECK(lost->spoke);
    CHECK(lost->response_id == "resp_1");
    CHECK_FALSE(turns.link_lost());  // once
    // A late response.done of the lost session is no one's.
    CHECK(turns.done("resp_1").tag.empty());
  }
  SECTION("the wanted queue survives") {
    response_turns turns;
    turns.want({"a", "", ""});
    turns.want({"b", "", ""});
    REQUIRE(turns.next_to_request());
    turns.link_lost();
    CHECK(turns.wanted() == 1);
  }
}

TEST_CASE("response turns: a plain request refused as a duplicate is not asked twice", "[turns]") {
  response_turns turns;
  turns.want({});  // a keypad entry's answer
  REQUIRE(turns.next_to_request());
  turns.refused_as_duplicate();
  turns.created("resp_server");
  turns.done("resp_server");
  CHECK_FALSE(turns.next_to_request());
}
