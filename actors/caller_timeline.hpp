#pragma once
// Bounds the caller's media timestamps by the clock (pure logic, no I/O, no clock of its own).
//
// Twilio stamps each `media` frame with its presentation time since the stream started, and the
// caller recorder places the frame there, filling any gap with silence. The stamp comes from the
// wire: one frame stamped 3,600,000 ms in a 2-second call made an hour of silence, mixed twice.
// A real stream cannot run ahead of time, so a frame may end no later than the time since the
// stream's first frame was read, plus a tolerance for delivery jitter (frames held back by the
// network arrive together, slightly "early" against a first frame that was late). A frame
// stamped further ahead is placed at that bound instead, and counted. The caller track, and
// with it the agent track and the mixes padded to it, then never exceed the call's real length
// by more than the tolerance, however the caller stamps its frames.

#include <chrono>
#include <cstdint>
#include <optional>

namespace switchboard::actors {

class caller_timeline {
 public:
  /// Jitter a real stream may show against the clock. A clamped frame of an honest caller only
  /// shifts its audio; a hostile caller gains at most this much silence per call.
  static constexpr std::chrono::milliseconds default_tolerance{1000};

  explicit caller_timeline(std::chrono::milliseconds tolerance = default_tolerance)
      : tolerance_ms_(static_cast<std::uint64_t>(tolerance.count())) {}

  /// Marks when the stream's first frame (of any kind) was read, in steady-clock ns. Later calls
  /// do nothing: the origin only comes from the first.
  void begin(std::int64_t received_ns);

  struct placed {
    std::uint64_t timestamp_ms = 0;  // where the frame goes
    std::uint64_t duration_ms = 0;   // how much of it fits (less only for a frame longer than
                                     // the call so far)
    bool clamped = false;            // the stamp ran ahead of the clock
  };

  /// Where a frame stamped `timestamp_ms`, lasting `duration_ms`, read at `received_ns`, goes.
  /// Begins the timeline if begin() was not called.
  placed place(std::uint64_t timestamp_ms, std::uint64_t duration_ms, std::int64_t received_ns);

  /// The end of the latest frame placed, on the call's timeline (ms).
  std::uint64_t end_ms() const { return end_ms_; }
  /// Frames placed at the bound rather than at their stamp.
  std::uint64_t clamps() const { return clamps_; }

 private:
  std::uint64_t tolerance_ms_;
  std::optional<std::int64_t> origin_ns_;
  std::uint64_t end_ms_ = 0;
  std::uint64_t clamps_ = 0;
};

}  // namespace switchboard::actors
