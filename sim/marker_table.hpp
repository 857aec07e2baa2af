#pragma once
// When each marked frame of a load-generator run was seen, and what that says about the bridge:
// latency percentiles per leg, frames lost (before and after a call's first echo), duplicated,
// reordered, delivered to the wrong call, and how late the callers sent their frames.
//
// A frame (sim/frame_marker.hpp) is seen four times, all on one steady clock in one process:
//   sent      the caller wrote its `media` message        (the callers' io thread)
//   appended  the model got it in input_audio_buffer.append (the model's io thread)
//   echoed    the model wrote it back in an audio delta    (the model's io thread)
//   received  a caller got it back in a `media` message    (the callers' io thread)
// Each time field is written by one thread only and read once both threads have stopped; the
// table is sized up front, so stamping never allocates. Pure: the caller passes the time.

#include "sim/frame_marker.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace switchboard::sim {

/// Steady-clock times in ns; 0: not seen (yet).
struct frame_times {
  std::int64_t sent = 0;
  std::int64_t appended = 0;
  std::int64_t echoed = 0;
  std::int64_t received = 0;
};

/// [begin_ns, end_ns) on the steady clock; the default holds every time.
struct time_window {
  std::int64_t begin_ns = std::numeric_limits<std::int64_t>::min();
  std::int64_t end_ns = std::numeric_limits<std::int64_t>::max();

  bool contains(std::int64_t ns) const { return ns >= begin_ns && ns < end_ns; }
};

/// What should never happen to a frame on its way through a bridge.
struct marker_anomalies {
  std::uint64_t duplicated = 0;  // a caller got the same frame of its call twice
  std::uint64_t reordered = 0;   // a caller got a frame after a later frame of its call
  std::uint64_t wrong_call = 0;  // a caller got a frame another call sent (also lost to that
                                 // call, unless it reaches it too)
  std::uint64_t duplicated_at_model = 0;  // the model got the same frame appended twice
  std::uint64_t foreign = 0;  // a marker that names no frame of this run: corrupted bytes
};

class marker_table {
 public:
  marker_table(std::size_t calls, std::size_t frames_per_call);

  // ---- the callers' io thread
  /// Call `sent`'s frame was written (one frame: what on_media_sent sees).
  void stamp_sent(std::span<const std::uint8_t> frame, std::int64_t now_ns);
  /// Call `receiving_call` got `audio` (one media payload: any number of whole frames).
  void stamp_received(std::size_t receiving_call, std::span<const std::uint8_t> audio,
                      std::int64_t now_ns);

  // ---- the model's io thread
  void stamp_appended(std::span<const std::uint8_t> audio, std::int64_t now_ns);
  void stamp_echoed(std::span<const std::uint8_t> audio, std::int64_t now_ns);

  // ---- after the run
  std::size_t calls() const { return calls_; }
  std::size_t frames_per_call() const { return frames_per_call_; }
  std::span<const frame_times> frames_of(std::size_t call) const;
  marker_anomalies anomalies() const;

 private:
  frame_times* slot(const frame_marker& marker);
  /// Stamps `field` of every marked frame in `audio`; counts foreign markers and repeats.
  void stamp_model_side(std::span<const std::uint8_t> audio, std::int64_t frame_times::*field,
                        std::int64_t now_ns);

  std::size_t calls_;
  std::size_t frames_per_call_;
  std::vector<frame_times> times_;  // call-major: frame n of call c at c * frames_per_call_ + n

  // The callers' thread only.
  std::vector<std::int64_t> highest_received_;  // per call; -1: nothing yet
  std::uint64_t duplicated_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t wrong_call_ = 0;
  std::uint64_t foreign_at_callers_ = 0;
  // The model's thread only.
  std::uint64_t duplicated_at_model_ = 0;
  std::uint64_t foreign_at_model_ = 0;
};

// ---- figures --------------------------------------------------------------------------------

/// Nearest-rank percentiles, in ms.
struct latency_summary {
  std::uint64_t samples = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

/// Sorts `samples_ns` and summarises them; all zero when empty.
latency_summary summarize_latencies(std::vector<std::int64_t> samples_ns);

/// One leg of the trip: from one sighting of a frame to a later one.
struct leg_figures {
  std::uint64_t sent = 0;     // frames with a `from` time in the window
  std::uint64_t matched = 0;  // of those, seen at `to`
  std::uint64_t lost = 0;     // of those, never seen at `to`
  latency_summary latency;
};

/// Latencies `from` → `to` of the frames whose `from` time lies in `window`.
leg_figures measure_leg(const marker_table& table, std::int64_t frame_times::*from,
                        std::int64_t frame_times::*to, time_window window = {});

/// Whether each frame a caller sent came back to it, over the whole run.
struct delivery_figures {
  std::uint64_t sent = 0;      // marked frames the callers sent
  std::uint64_t returned = 0;  // of those, received back by the call that sent them
  /// Lost frames numbered before the first frame the call got back: what a bridge drops while
  /// it is still connecting the call to the model. A call that got nothing back loses all its
  /// frames here.
  std::uint64_t lost_before_first_echo = 0;
  std::uint64_t lost_after_first_echo = 0;
  std::uint64_t calls_without_echo = 0;  // calls that sent frames and got none back

  std::uint64_t lost() const { return lost_before_first_echo + lost_after_first_echo; }
};

delivery_figures count_delivery(const marker_table& table);

/// How late the callers wrote their frames against their 20 ms schedule, for the frames sent in
/// `window`. A call's frame n is due at origin + n × interval; the origin is taken as the
/// earliest (sent − n × interval) of the call, so lateness is measured against the call's most
/// punctual frame (a slight under-estimate: that frame may itself have been a little late).
latency_summary send_lateness(const marker_table& table, std::int64_t frame_interval_ns,
                              time_window window = {});

}  // namespace switchboard::sim
