// caller_timeline: the caller's media timestamps bounded by the clock, so a frame stamped an hour
// ahead cannot make an hour of recording.
#include "actors/caller_timeline.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using switchboard::actors::caller_timeline;

namespace {

constexpr std::int64_t ms = 1'000'000;  // steady-clock ns
constexpr std::int64_t start_ns = 5'000 * ms;

}  // namespace

TEST_CASE("frames of an honest stream are placed at their timestamps", "[caller_timeline]") {
  caller_timeline timeline;
  // 20 ms frames, read on time, late, and in a burst after a network stall.
  for (std::uint64_t i = 0; i < 50; ++i) {
    const auto placed =
        timeline.place(i * 20, 20, start_ns + static_cast<std::int64_t>(i) * 20 * ms);
    CHECK(placed.timestamp_ms == i * 20);
    CHECK(placed.duration_ms == 20);
    CHECK_FALSE(placed.clamped);
  }
  for (std::uint64_t i = 50; i < 100; ++i)
    CHECK_FALSE(timeline.place(i * 20, 20, start_ns + 2'500 * ms).clamped);  // late: fine
  CHECK(timeline.end_ms() == 2000);
  CHECK(timeline.clamps() == 0);
}

TEST_CASE("a timestamp ahead of the clock by more than the tolerance is clamped and counted",
          "[caller_timeline]") {
  caller_timeline timeline(std::chrono::milliseconds(1000));
  timeline.begin(start_ns);
  CHECK_FALSE(timeline.place(0, 20, start_ns).clamped);
  // Up to the tolerance ahead: jitter, accepted (a frame read 980 ms early).
  CHECK_FALSE(timeline.place(1980, 20, start_ns + 1000 * ms).clamped);

  // 2 s into the stream, a frame stamped one hour.
  const auto placed = timeline.place(3'600'000, 20, start_ns + 2000 * ms);
  CHECK(placed.clamped);
  CHECK(placed.timestamp_ms == 2980);  // ends at 2 s + 1 s of tolerance
  CHECK(placed.duration_ms == 20);
  CHECK(timeline.end_ms() == 3000);
  CHECK(timeline.clamps() == 1);

  // Honest frames after it are placed where they say (the recorder skips what overlaps).
  CHECK_FALSE(timeline.place(2020, 20, start_ns + 2040 * ms).clamped);
  CHECK(timeline.end_ms() == 3000);

  // A stamp near 2^64 does not wrap around.
  const auto huge =
      timeline.place(std::numeric_limits<std::uint64_t>::max() - 5, 20, start_ns + 2060 * ms);
  CHECK(huge.clamped);
  CHECK(huge.timestamp_ms == 3040);
  CHECK(timeline.clamps() == 2);
}

TEST_CASE("a frame longer than the call so far keeps only what fits", "[caller_timeline]") {
  caller_timeline timeline(std::chrono::milliseconds(1000));
  // The first frame, 6 s of audio (a 64 KiB message), read as the stream begins.
  const auto placed = timeline.place(0, 6000, start_ns);
  CHECK(placed.clamped);
  CHECK(placed.timestamp_ms == 0);
  CHECK(placed.duration_ms == 1000);
  CHECK(timeline.end_ms() == 1000);
}

TEST_CASE("the origin is the first frame read, and a reading before it counts as no time",
          "[caller_timeline]") {
  caller_timeline timeline(std::chrono::milliseconds(500));
  timeline.begin(start_ns);
  timeline.begin(start_ns + 10'000 * ms);  // ignored: the origin is set once
  CHECK_FALSE(timeline.place(9'000, 20, start_ns + 9'000 * ms).clamped);
  // Read on another thread a hair before the origin: elapsed 0, bound 500 ms.
  caller_timeline other(std::chrono::milliseconds(500));
  other.begin(start_ns);
  const auto early = other.place(600, 20, start_ns - 1 * ms);
  CHECK(early.clamped);
  CHECK(early.timestamp_ms == 480);
}
