// The marker table: matching echoes to frames, and what it concludes about a bridge.
#include "sim/marker_table.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

using namespace switchboard::sim;

namespace {

constexpr std::int64_t ms = 1'000'000;

std::array<std::uint8_t, marked_frame_bytes> frame(std::size_t call, std::size_t number) {
  std::array<std::uint8_t, marked_frame_bytes> bytes{};
  bytes.fill(0x42);
  write_frame_marker(bytes, {call, number});
  return bytes;
}

/// Call `call` sends frames [0, count) on a perfect 20 ms schedule starting at `start` (not 0:
/// the table reads a time of 0 as "not seen").
void send_all(marker_table& table, std::size_t call, std::size_t count, std::int64_t start) {
  for (std::size_t n = 0; n < count; ++n)
    table.stamp_sent(frame(call, n), start + static_cast<std::int64_t>(n) * 20 * ms);
}

}  // namespace

TEST_CASE("percentiles are nearest-rank, in ms", "[marker_table]") {
  std::vector<std::int64_t> samples;
  for (std::int64_t i = 100; i >= 1; --i)
    samples.push_back(i * ms);  // 1..100 ms, unsorted
  const auto summary = summarize_latencies(samples);
  CHECK(summary.samples == 100);
  CHECK(summary.p50_ms == 50.0);
  CHECK(summary.p95_ms == 95.0);
  CHECK(summary.p99_ms == 99.0);
  CHECK(summary.max_ms == 100.0);

  CHECK(summarize_latencies({}).samples == 0);
  CHECK(summarize_latencies({}).p99_ms == 0.0);
  const auto one = summarize_latencies({3 * ms});
  CHECK(one.p50_ms == 3.0);
  CHECK(one.p99_ms == 3.0);
}

TEST_CASE("each leg is timed from its own sightings, within the window", "[marker_table]") {
  marker_table table(1, 4);
  send_all(table, 0, 4, 1000 * ms);
  for (std::size_t n = 0; n < 4; ++n) {
    const auto sent = 1000 * ms + static_cast<std::int64_t>(n) * 20 * ms;
    const auto payload = frame(0, n);
    table.stamp_appended(payload, sent + 1 * ms);
    table.stamp_echoed(payload, sent + 2 * ms);
    if (n != 3)  // the last echo never reaches the caller
      table.stamp_received(0, payload, sent + 2 * ms + static_cast<std::int64_t>(n + 1) * ms);
  }

  const auto inbound = measure_leg(table, &frame_times::sent, &frame_times::appended);
  CHECK(inbound.sent == 4);
  CHECK(inbound.lost == 0);
  CHECK(inbound.latency.max_ms == 1.0);

  const auto round_trip = measure_leg(table, &frame_times::sent, &frame_times::received);
  CHECK(round_trip.sent == 4);
  CHECK(round_trip.matched == 3);
  CHECK(round_trip.lost == 1);
  CHECK(round_trip.latency.p50_ms == 4.0);  // 3, 4, 5 ms
  CHECK(round_trip.latency.max_ms == 5.0);

  // Frames 1 and 2 only: sent at 1020 and 1040 ms.
  const auto windowed = measure_leg(table, &frame_times::sent, &frame_times::received,
                                    time_window{1010 * ms, 1050 * ms});
  CHECK(windowed.sent == 2);
  CHECK(windowed.latency.p50_ms == 4.0);
  CHECK(windowed.latency.max_ms == 5.0);
}

TEST_CASE("lost frames are split at the call's first echo", "[marker_table]") {
  marker_table table(3, 10);
  for (std::size_t call = 0; call < 3; ++call)
    send_all(table, call, 10, 1000 * ms);
  // Call 0: frames 0-2 dropped while the bridge connected to the model, 7 lost later.
  for (std::size_t n = 3; n < 10; ++n) {
    if (n != 7)
      table.stamp_received(0, frame(0, n), 500 * ms);
  }
  // Call 1: everything came back. Call 2: nothing did.
  for (std::size_t n = 0; n < 10; ++n)
    table.stamp_received(1, frame(1, n), 500 * ms);

  const auto delivery = count_delivery(table);
  CHECK(delivery.sent == 30);
  CHECK(delivery.returned == 16);
  CHECK(delivery.lost_before_first_echo == 3 + 10);
  CHECK(delivery.lost_after_first_echo == 1);
  CHECK(delivery.lost() == 14);
  CHECK(delivery.calls_without_echo == 1);
}

TEST_CASE("duplicated, reordered and misdelivered frames are counted", "[marker_table]") {
  marker_table table(2, 10);
  send_all(table, 0, 10, 1000 * ms);
  send_all(table, 1, 10, 1000 * ms);

  table.stamp_received(0, frame(0, 0), 1 * ms);
  table.stamp_received(0, frame(0, 2), 2 * ms);
  table.stamp_received(0, frame(0, 1), 3 * ms);  // after frame 2: reordered
  table.stamp_received(0, frame(0, 2), 4 * ms);  // again: duplicated
  table.stamp_received(1, frame(0, 3), 5 * ms);  // call 0's frame at call 1
  table.stamp_received(0, frame(0, 4), 6 * ms);  // in order after the mix-up

  // Several frames in one payload, with silence between them.
  std::vector<std::uint8_t> payload(3 * marked_frame_bytes, 0xFF);
  const auto five = frame(1, 5);
  const auto six = frame(1, 6);
  std::copy(five.begin(), five.end(), payload.begin());
  std::copy(six.begin(), six.end(), payload.begin() + 2 * marked_frame_bytes);
  table.stamp_received(1, payload, 7 * ms);

  // A marker naming a call or a frame outside the run: corrupted bytes.
  table.stamp_received(1, frame(9, 0), 8 * ms);
  table.stamp_appended(frame(0, 99), 8 * ms);
  // The model got frame 0 twice; its echo is stamped once.
  table.stamp_appended(frame(0, 0), 9 * ms);
  table.stamp_appended(frame(0, 0), 10 * ms);
  table.stamp_echoed(frame(0, 0), 11 * ms);
  table.stamp_echoed(frame(0, 0), 12 * ms);

  const auto anomalies = table.anomalies();
  CHECK(anomalies.reordered == 1);
  CHECK(anomalies.duplicated == 1);
  CHECK(anomalies.wrong_call == 1);
  CHECK(anomalies.foreign == 2);
  CHECK(anomalies.duplicated_at_model == 1);
  CHECK(table.frames_of(0)[0].appended == 9 * ms);
  CHECK(table.frames_of(0)[0].echoed == 11 * ms);

  // The misdelivered frame did not reach its own call.
  CHECK(table.frames_of(0)[3].received == 0);
  CHECK(table.frames_of(1)[5].received == 7 * ms);
  CHECK(table.frames_of(1)[6].received == 7 * ms);
  const auto delivery = count_delivery(table);
  CHECK(delivery.returned == 4 + 2);
}

TEST_CASE("send lateness is measured against each call's 20 ms schedule", "[marker_table]") {
  marker_table table(2, 5);
  // Call 0 on time from t = 100 ms; call 1 starts at 107 ms, its frame 3 is 4 ms late and its
  // frame 4 is 1 ms late.
  send_all(table, 0, 5, 100 * ms);
  for (std::size_t n = 0; n < 5; ++n) {
    const std::int64_t late = n == 3 ? 4 * ms : n == 4 ? 1 * ms : 0;
    table.stamp_sent(frame(1, n), 107 * ms + static_cast<std::int64_t>(n) * 20 * ms + late);
  }
  const auto lateness = send_lateness(table, 20 * ms);
  CHECK(lateness.samples == 10);
  CHECK(lateness.p50_ms == 0.0);
  CHECK(lateness.max_ms == 4.0);

  // Only frames sent from 160 ms on: call 0's frame 3 (160) and 4, call 1's frame 3 (171) and 4.
  const auto windowed = send_lateness(table, 20 * ms, time_window{160 * ms, 1000 * ms});
  CHECK(windowed.samples == 4);
  CHECK(windowed.max_ms == 4.0);
}
