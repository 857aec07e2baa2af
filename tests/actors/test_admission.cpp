// Admission control without timing: the decision (MAX_CALLS, lag with hysteresis) and the
// places a webhook promises to its stream, with the clock passed in.
#include "actors/admission.hpp"

#include <catch2/catch.hpp>

using namespace switchboard::actors;
using namespace std::chrono_literals;

namespace {

admission_policy::limits lag_limits(std::chrono::microseconds max_lag) {
  return {.max_calls = 0, .max_lag = max_lag, .trip_samples = 2, .recovery_samples = 3};
}

}  // namespace

TEST_CASE("MAX_CALLS: the call that would exceed it is refused as full, 0 means no limit",
          "[admission]") {
  const admission_policy limited({.max_calls = 3});
  CHECK_FALSE(limited.decide(0));
  CHECK_FALSE(limited.decide(2));
  CHECK(limited.decide(3) == admission_refusal::full);
  CHECK(limited.decide(400) == admission_refusal::full);

  const admission_policy unlimited({.max_calls = 0});
  CHECK_FALSE(unlimited.decide(100'000));
}

TEST_CASE("lag: overloaded after late samples in a row, one late sample is not enough",
          "[admission]") {
  admission_policy policy(lag_limits(40ms));
  policy.observe_lag(41ms);
  CHECK_FALSE(policy.overloaded());  // one spike (a page fault, a neighbour's burst)
  policy.observe_lag(1ms);
  policy.observe_lag(41ms);
  CHECK_FALSE(policy.overloaded());  // not in a row
  policy.observe_lag(50ms);
  CHECK(policy.overloaded());
  CHECK(policy.decide(0) == admission_refusal::overloaded);
  // At the bound exactly the node is not late.
  admission_policy at_bound(lag_limits(40ms));
  for (int i = 0; i < 10; ++i)
    at_bound.observe_lag(40ms);
  CHECK_FALSE(at_bound.overloaded());
}

TEST_CASE("lag: recovery needs samples in a row at or under half the bound (hysteresis)",
          "[admission]") {
  admission_policy policy(lag_limits(40ms));
  policy.observe_lag(100ms);
  policy.observe_lag(100ms);
  REQUIRE(policy.overloaded());

  // Under the bound but over half of it: still as loaded as when it tripped.
  for (int i = 0; i < 10; ++i)
    policy.observe_lag(30ms);
  CHECK(policy.overloaded());
  // Calm, interrupted: the count starts again.
  policy.observe_lag(20ms);
  policy.observe_lag(5ms);
  policy.observe_lag(25ms);
  policy.observe_lag(5ms);
  policy.observe_lag(5ms);
  CHECK(policy.overloaded());
  policy.observe_lag(5ms);
  CHECK_FALSE(policy.overloaded());
  CHECK_FALSE(policy.decide(0));
}

TEST_CASE("full wins over overloaded, and 0 ms turns the lag off", "[admission]") {
  admission_policy policy({.max_calls = 1, .max_lag = 10ms, .trip_samples = 1});
  policy.observe_lag(500ms);
  CHECK(policy.decide(1) == admission_refusal::full);
  CHECK(policy.decide(0) == admission_refusal::overloaded);

  admission_policy unwatched({.max_calls = 0, .max_lag = 0ms, .trip_samples = 1});
  unwatched.observe_lag(10s);
  CHECK_FALSE(unwatched.overloaded());
}

TEST_CASE("a webhook's promise holds a place until its stream starts, and only once",
          "[admission]") {
  call_admission admission({.max_calls = 2});
  const auto t0 = call_admission::clock::time_point{} + 1h;
  CHECK_FALSE(admission.reserve("CA1", t0, 30s));
  CHECK_FALSE(admission.reserve("CA1", t0 + 1s, 30s));  // Twilio retried: the same place
  CHECK_FALSE(admission.reserve("CA2", t0, 30s));
  CHECK(admission.reserve("CA3", t0, 30s) == admission_refusal::full);
  CHECK(admission.promised(t0) == 2);
  CHECK(admission.refusal_now(t0) == admission_refusal::full);

  // The promised streams start: they take their places, even past the limit's edge.
  CHECK_FALSE(admission.start("CA1", t0 + 2s));
  CHECK_FALSE(admission.start("CA2", t0 + 2s));
  CHECK(admission.streaming() == 2);
  CHECK(admission.promised(t0 + 2s) == 0);
  // A stream nobody promised a place (another node's webhook) finds none.
  CHECK(admission.start("CA9", t0 + 2s) == admission_refusal::full);

  admission.end();
  CHECK(admission.streaming() == 1);
  CHECK_FALSE(admission.refusal_now(t0 + 3s));
  CHECK_FALSE(admission.start("CA9", t0 + 3s));  // now there is room
}

TEST_CASE("a promise expires when its stream never comes, or is released when the dial fails",
          "[admission]") {
  call_admission admission({.max_calls = 1});
  const auto t0 = call_admission::clock::time_point{} + 1h;
  CHECK_FALSE(admission.reserve("CA1", t0, 30s));
  CHECK(admission.reserve("CA2", t0 + 29s, 30s) == admission_refusal::full);
  CHECK_FALSE(admission.reserve("CA2", t0 + 30s, 30s));  // CA1's promise lapsed
  // CA1's stream, late: its place is gone and the node is full.
  CHECK(admission.start("CA1", t0 + 31s) == admission_refusal::full);

  admission.release("CA2");
  CHECK(admission.promised(t0 + 31s) == 0);
  CHECK_FALSE(admission.reserve(call_admission_key("", "d1"), t0 + 31s, 90s));
  CHECK_FALSE(admission.start(call_admission_key("CA5", "d1"), t0 + 40s));
  CHECK(admission.streaming() == 1);
}

TEST_CASE("an overloaded node promises nothing, yet keeps its promises", "[admission]") {
  call_admission admission({.max_calls = 0, .max_lag = 40ms, .trip_samples = 1});
  const auto t0 = call_admission::clock::time_point{} + 1h;
  CHECK_FALSE(admission.reserve("CA1", t0, 30s));
  CHECK(admission.observe_lag(200ms));  // a change, for the log
  CHECK(admission.overloaded());
  CHECK_FALSE(admission.observe_lag(300ms));  // no change
  CHECK(admission.reserve("CA2", t0, 30s) == admission_refusal::overloaded);
  CHECK(admission.refusal_now(t0) == admission_refusal::overloaded);
  CHECK_FALSE(admission.start("CA1", t0 + 1s));
  CHECK(admission.start("CA3", t0 + 1s) == admission_refusal::overloaded);
}

TEST_CASE("a refusal names this node's reason: overloaded with its bound, full with MAX_CALLS",
          "[admission]") {
  const auto t0 = call_admission::clock::time_point{} + 1h;
  call_admission admission({.max_calls = 1, .max_lag = 40ms, .trip_samples = 1});
  CHECK(admission.why_no_room() == "taking no new calls");  // room here: a peer's or a drain's no
  REQUIRE_FALSE(admission.reserve("CA1", t0, 30s));
  CHECK(admission.why_no_room() == "full, MAX_CALLS 1 calls");
  admission.observe_lag(200ms);
  CHECK(admission.why_no_room() ==
        "overloaded, its io threads late by more than MAX_LOOP_LAG_MS (40 ms)");
}

TEST_CASE("the admission key: a dial id for outbound calls, else the CallSid", "[admission]") {
  CHECK(call_admission_key("CA1", "") == "CA1");
  CHECK(call_admission_key("CA1", "abc") == "dial:abc");
  CHECK(to_string(admission_refusal::full) == "full");
  CHECK(to_string(admission_refusal::overloaded) == "overloaded");
}
