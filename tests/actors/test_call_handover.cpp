// A call handed over at the drain deadline (actors/call_handover.hpp) as plain data: the
// conversation survives the trip item for item (and replays the same into the peer's first
// model session), and the peer's book of waiting hand-overs gives each state once, to its call,
// before it expires, and holds a bounded number.
#include "actors/call_directory.hpp"
#include "actors/call_handover.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace switchboard::actors;
using namespace std::chrono_literals;

namespace {

conversation sample_talk() {
  conversation talk;
  talk.caller_started("item-caller-1");
  talk.caller_said("item-caller-1", "I'd like a table for two on Friday");
  talk.agent_audio("item-agent-1", 3000);
  talk.agent_said("item-agent-1", "Friday works. Shall I book it for seven in the evening?");
  talk.agent_cut("item-agent-1", 1500);
  talk.function_called("call-9", "check_tables", R"({"day":"friday"})");
  talk.function_answered("call-9", R"({"free":true})");
  talk.keypad_entry("42#");
  talk.say_requested("Please hold on.");
  return talk;
}

call_handover_state state_for(std::string call_sid) {
  call_handover_state handed;
  handed.identity.call_sid = std::move(call_sid);
  handed.identity.from = "+14155550100";
  return handed;
}

const handover_book::clock::time_point t0{std::chrono::hours(1)};

}  // namespace

TEST_CASE("a handed-over conversation replays exactly as the original", "[call_handover]") {
  const auto talk = sample_talk();
  const auto entries = conversation_entries(talk);
  REQUIRE(entries.size() == talk.items().size());
  // The cut agent turn keeps where it was cut: what the caller heard is what is replayed.
  const auto& agent = entries[1];
  CHECK(agent.what == static_cast<std::uint8_t>(conversation::kind::agent_turn));
  CHECK(agent.cut);
  CHECK(agent.heard_ms == 1500);
  CHECK(agent.audio_ms == 3000);

  const auto restored = restored_conversation(entries, 0);
  CHECK(restored.replay_events() == talk.replay_events());
  CHECK(restored.agent_heard("item-agent-1") == talk.agent_heard("item-agent-1"));
  CHECK(restored.items_dropped() == 0);
}

TEST_CASE("items lost before the hand-over or unknown to this node are noted in the replay",
          "[call_handover]") {
  auto entries = conversation_entries(sample_talk());
  conversation_entry unknown;
  unknown.what = 200;  // no kind of item this node knows
  unknown.text = "from a newer node";
  entries.push_back(unknown);
  const auto restored = restored_conversation(entries, 3);
  CHECK(restored.items().size() == entries.size() - 1);
  CHECK(restored.items_dropped() == 4);
  const auto events = restored.replay_events();
  REQUIRE_FALSE(events.empty());
  // The first event is the note that earlier items are missing.
  CHECK(events.front().find("4") != std::string::npos);
}

TEST_CASE("the hand-over book gives a state once to its own call", "[call_handover]") {
  handover_book book;
  const auto key = book.put(state_for("CA1"), t0);
  REQUIRE(key);
  CHECK(key->size() == 32);
  CHECK(book.waiting() == 1);
  // Another call's stream cannot take it, nor can a wrong key.
  CHECK_FALSE(book.take(*key, "CA2", t0));
  CHECK_FALSE(book.take("0123456789abcdef0123456789abcdef", "CA1", t0));
  const auto taken = book.take(*key, "CA1", t0 + 1s);
  REQUIRE(taken);
  CHECK(taken->identity.from == "+14155550100");
  // Once.
  CHECK_FALSE(book.take(*key, "CA1", t0 + 2s));
  CHECK(book.waiting() == 0);
}

TEST_CASE("the hand-over book forgets states not taken in time and holds a bounded number",
          "[call_handover]") {
  handover_book book({.max_waiting = 2, .hold = 60s});
  const auto first = book.put(state_for("CA1"), t0);
  const auto second = book.put(state_for("CA2"), t0 + 1s);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(*first != *second);
  CHECK_FALSE(book.put(state_for("CA3"), t0 + 2s));  // full
  // The first expires at t0 + 60 s: room again, and its key is no longer good.
  CHECK(book.put(state_for("CA3"), t0 + 60s));
  CHECK_FALSE(book.take(*first, "CA1", t0 + 60s));
  CHECK(book.take(*second, "CA2", t0 + 60s));
}

TEST_CASE("hand-overs whose stream never came are given back once to be recorded",
          "[call_handover]") {
  handover_book book({.max_waiting = 4, .hold = 60s});
  const auto taken = book.put(state_for("CA1"), t0);
  REQUIRE(book.put(state_for("CA2"), t0 + 1s));
  REQUIRE(book.put(state_for("CA3"), t0 + 30s));
  REQUIRE(taken);
  REQUIRE(book.take(*taken, "CA1", t0 + 2s));  // its stream came
  CHECK(book.take_expired(t0 + 60s).empty());
  // CA2's hold is over (whether a put, a take or this call notices first); CA3's is not.
  CHECK(book.put(state_for("CA4"), t0 + 61s).has_value());
  const auto expired = book.take_expired(t0 + 62s);
  REQUIRE(expired.size() == 1);
  CHECK(expired.front().identity.call_sid == "CA2");
  CHECK(book.take_expired(t0 + 62s).empty());  // once
  const auto later = book.take_expired(t0 + 121s);
  std::set<std::string> sids;
  for (const auto& state : later)
    sids.insert(state.identity.call_sid);
  CHECK(sids == std::set<std::string>{"CA3", "CA4"});
  CHECK(later.size() == 2);
  CHECK(book.waiting() == 0);
}

TEST_CASE("a hand-over that never arrived ends the call as its next part", "[call_handover]") {
  auto handed = state_for("CA1");
  handed.identity.dial_id = "dial-1";
  handed.started_at_ms = 1'800'000'000'000;
  handed.barge_ins = 2;
  handed.transcript.push_back({"caller", "item-1", "hello", 0});
  handed.parts.push_back({1, "node-a", "handed over"});
  handed.parts.push_back({2, "node-b", "handed over"});
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'100));
  const auto view = unclaimed_handover_view(handed, now);
  CHECK(view.identity.call_sid == "CA1");
  CHECK(view.direction == "outbound");
  CHECK(view.state == call_state::ended);
  CHECK(view.end_reason == handover_unclaimed_end_reason);
  CHECK(view.started_at ==
        std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
  CHECK(view.ended_at == now);
  CHECK(view.barge_ins == 2);
  CHECK(view.transcript.size() == 1);
  // Part 3's revisions: newer than anything parts 1 and 2 announced.
  CHECK(view.revision == part_revision_base(3));
}

TEST_CASE("hand-over keys are not repeated", "[call_handover]") {
  handover_book book({.max_waiting = 1000, .hold = 60s});
  std::set<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    const auto key = book.put(state_for("CA" + std::to_string(i)), t0);
    REQUIRE(key);
    keys.insert(*key);
  }
  CHECK(keys.size() == 200);
}
