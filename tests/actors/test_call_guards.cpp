// The guards of a call (idle timeout, maximum length) and the keypad gatherer, driven by hand
// on a fake timeline.
#include "actors/call_guards.hpp"

#include <catch2/catch.hpp>

using namespace switchboard::actors;
using namespace std::chrono_literals;

namespace {
const guard_clock::time_point t0 = guard_clock::time_point{} + 1h;
}

TEST_CASE("guards that are off never fire", "[guards]") {
  call_guards guards({}, t0);
  CHECK_FALSE(guards.next_deadline().has_value());
  CHECK(guards.due(t0 + 24h) == guard_action::none);
}

TEST_CASE("idle: ask once after the timeout, end after as long again", "[guards]") {
  call_guards guards({.idle_timeout = 10s}, t0);
  REQUIRE(guards.next_deadline() == t0 + 10s);
  CHECK(guards.due(t0 + 9s) == guard_action::none);
  CHECK(guards.due(t0 + 10s) == guard_action::ask_if_still_there);
  // The question itself plays for 2 s: the caller gets the full timeout after it.
  guards.agent_activity(t0 + 12s);
  CHECK(guards.next_deadline() == t0 + 22s);
  CHECK(guards.due(t0 + 21s) == guard_action::none);
  CHECK(guards.due(t0 + 22s) == guard_action::end_for_silence);
  CHECK_FALSE(guards.next_deadline().has_value());  // nothing after the end
  CHECK(guards.due(t0 + 60s) == guard_action::none);
}

TEST_CASE("idle: the caller answering starts over, the agent talking only moves the clock",
          "[guards]") {
  call_guards guards({.idle_timeout = 10s}, t0);
  guards.agent_activity(t0 + 5s);  // the agent spoke until 5 s
  CHECK(guards.due(t0 + 10s) == guard_action::none);
  CHECK(guards.due(t0 + 15s) == guard_action::ask_if_still_there);
  guards.caller_activity(t0 + 17s);  // "yes, I'm here"
  CHECK(guards.due(t0 + 26s) == guard_action::none);
  // A new silence asks again rather than ending the call.
  CHECK(guards.due(t0 + 27s) == guard_action::ask_if_still_there);
  // Without the caller, the agent's own words do not undo the question.
  guards.agent_activity(t0 + 28s);
  CHECK(guards.due(t0 + 38s) == guard_action::end_for_silence);
}

TEST_CASE("maximum length: a warning 30 s before, then the end", "[guards]") {
  call_guards guards({.max_duration = 600s}, t0);
  REQUIRE(guards.next_deadline() == t0 + 570s);
  CHECK(guards.due(t0 + 569s) == guard_action::none);
  CHECK(guards.due(t0 + 570s) == guard_action::warn_of_time_limit);
  CHECK(guards.next_deadline() == t0 + 600s);
  guards.caller_activity(t0 + 590s);  // talking does not extend the limit
  CHECK(guards.due(t0 + 599s) == guard_action::none);
  CHECK(guards.due(t0 + 600s) == guard_action::end_at_time_limit);
  CHECK(guards.due(t0 + 700s) == guard_action::none);
}

TEST_CASE("maximum length: short limits warn half-way, a late check still warns first",
          "[guards]") {
  CHECK(call_guards::warning_lead(20s) == 10s);
  CHECK(call_guards::warning_lead(3600s) == 30s);
  call_guards guards({.max_duration = 20s}, t0);
  // A check long overdue (a stalled process) gives the warning, then the end.
  CHECK(guards.due(t0 + 25s) == guard_action::warn_of_time_limit);
  CHECK(guards.due(t0 + 25s) == guard_action::end_at_time_limit);
}

TEST_CASE("both guards: the earlier deadline comes first, the length wins a tie", "[guards]") {
  call_guards guards({.idle_timeout = 10s, .max_duration = 20s}, t0);
  CHECK(guards.next_deadline() == t0 + 10s);  // idle at 10 s, warning at 10 s too
  CHECK(guards.due(t0 + 10s) == guard_action::warn_of_time_limit);
  CHECK(guards.due(t0 + 10s) == guard_action::ask_if_still_there);
  CHECK(guards.due(t0 + 20s) == guard_action::end_at_time_limit);
  CHECK(guards.due(t0 + 30s) == guard_action::none);
}

TEST_CASE("keypad: keys within the pause are one entry, '#' ends it at once", "[guards]") {
  keypad_gatherer keypad(1500ms);
  CHECK_FALSE(keypad.deadline().has_value());
  CHECK_FALSE(keypad.press('4', t0).has_value());
  CHECK_FALSE(keypad.press('2', t0 + 1s).has_value());
  CHECK(keypad.deadline() == t0 + 2500ms);
  CHECK_FALSE(keypad.due(t0 + 2499ms).has_value());
  CHECK(keypad.due(t0 + 2500ms) == "42");
  CHECK_FALSE(keypad.deadline().has_value());
  CHECK_FALSE(keypad.due(t0 + 10s).has_value());

  CHECK_FALSE(keypad.press('1', t0 + 20s).has_value());
  CHECK(keypad.press('#', t0 + 20s + 100ms) == "1#");
  CHECK_FALSE(keypad.deadline().has_value());
}

TEST_CASE("keypad: an entry is at most 32 keys", "[guards]") {
  keypad_gatherer keypad(1s);
  std::optional<std::string> entry;
  int presses = 0;
  while (!entry) {
    entry = keypad.press('7', t0);
    ++presses;
  }
  CHECK(presses == 32);
  CHECK(entry->size() == 32);
}
