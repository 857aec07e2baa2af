#include "actors/caller_timeline.hpp"

#include <algorithm>

namespace switchboard::actors {

void caller_timeline::begin(std::int64_t received_ns) {
  if (!origin_ns_)
    origin_ns_ = received_ns;
}

caller_timeline::placed caller_timeline::place(std::uint64_t timestamp_ms,
                                               std::uint64_t duration_ms,
                                               std::int64_t received_ns) {
  begin(received_ns);
  // A steady clock does not go back, but a frame read on another io thread may carry a reading
  // a little before the origin's.
  const std::int64_t elapsed_ns = std::max<std::int64_t>(0, received_ns - *origin_ns_);
  const std::uint64_t latest_end_ms =
      static_cast<std::uint64_t>(elapsed_ns / 1'000'000) + tolerance_ms_;
  placed result{timestamp_ms, duration_ms, false};
  // Compared as "end > bound" without adding the two: a stamp near 2^64 must not wrap around.
  if (timestamp_ms > latest_end_ms || duration_ms > latest_end_ms - timestamp_ms) {
    result.duration_ms = std::min(duration_ms, latest_end_ms);
    result.timestamp_ms = latest_end_ms - result.duration_ms;
    result.clamped = true;
    ++clamps_;
  }
  end_ms_ = std::max(end_ms_, result.timestamp_ms + result.duration_ms);
  return result;
}

}  // namespace switchboard::actors
