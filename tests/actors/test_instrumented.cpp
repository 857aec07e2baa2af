// The per-actor metrics' sampling (actors/instrumented.hpp): every message is counted, the
// first and then one in actor_metrics::sample_one_in of each thread's messages per actor type
// are timed. Each case runs on a thread of its own: the counts are per thread.
#include "actors/instrumented.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>
#include <vector>

namespace {

using switchboard::actors::detail::sample_this_message;
using switchboard::metrics::actor_kind;
using switchboard::metrics::actor_metrics;

/// Which of `count` messages to `kind`, on a new thread, are sampled (their indices).
std::vector<std::uint32_t> sampled_on_new_thread(actor_kind kind, std::uint32_t count) {
  std::vector<std::uint32_t> sampled;
  std::thread([&] {
    for (std::uint32_t index = 0; index < count; ++index) {
      if (sample_this_message(kind))
        sampled.push_back(index);
    }
  }).join();
  return sampled;
}

}  // namespace

TEST_CASE("the first message of an actor type on a thread is timed, then one in eight",
          "[instrumented]") {
  STATIC_REQUIRE(actor_metrics::sample_one_in == 8);
  CHECK(sampled_on_new_thread(actor_kind::recorder, 17) == std::vector<std::uint32_t>{0, 8, 16});
  // A thread of its own starts again: its first message is timed too.
  CHECK(sampled_on_new_thread(actor_kind::recorder, 1) == std::vector<std::uint32_t>{0});
}

TEST_CASE("each actor type is sampled on its own count", "[instrumented]") {
  std::vector<bool> supervisor;
  std::vector<bool> session;
  std::thread([&] {
    // Interleaved: three to the session for each one to the supervisor.
    for (int round = 0; round < 9; ++round) {
      supervisor.push_back(sample_this_message(actor_kind::call_supervisor));
      for (int i = 0; i < 3; ++i)
        session.push_back(sample_this_message(actor_kind::openai_session));
    }
  }).join();
  REQUIRE(supervisor.size() == 9);
  CHECK(supervisor[0]);
  CHECK(supervisor[8]);
  CHECK(std::count(supervisor.begin(), supervisor.end(), true) == 2);
  REQUIRE(session.size() == 27);
  CHECK(std::count(session.begin(), session.end(), true) == 4);  // 0, 8, 16, 24
  CHECK(session[24]);
}
