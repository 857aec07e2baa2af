#pragma once
// The simulated phone's speaker: what Twilio does with the audio a bidirectional stream sends
// it (protocols.md §A2, §A3). Pure: no I/O, no clock; the simulated caller calls tick() every
// 20 ms of real time.
//
// Twilio's rules it follows:
// - `media` payloads are "buffered and played in the order received", at 8000 bytes/s of μ-law
//   (20 ms = 160 bytes).
// - A `mark` is echoed once the audio queued before it has played; at once if nothing is
//   buffered.
// - `clear` empties the buffer and echoes every pending mark.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace switchboard::sim {

class caller_playout {
 public:
  /// μ-law bytes played per 20 ms tick (8000 bytes/s).
  static constexpr std::size_t frame_bytes = 160;
  /// μ-law silence (the encoding of 0, positive zero), written where nothing played.
  static constexpr std::uint8_t mulaw_silence = 0xFF;

  /// With `keep_heard_audio`, every tick appends the 160 bytes the caller heard (agent audio,
  /// silence where the buffer ran dry) to heard(): 8 KB per second of call.
  explicit caller_playout(bool keep_heard_audio = true) : keep_heard_audio_(keep_heard_audio) {}

  /// Queues a `media` payload (decoded μ-law) behind what is already buffered.
  void append_audio(std::span<const std::uint8_t> mulaw);

  /// Queues a mark at the current end of the buffer. With nothing buffered its name is
  /// appended to `echoed` at once, as Twilio does.
  void add_mark(std::string name, std::vector<std::string>& echoed);

  /// Plays one 20 ms frame: up to frame_bytes of buffered audio. Appends to `echoed` the names
  /// of the marks whose audio has now fully played, in the order they were queued. Returns the
  /// number of agent audio bytes played (frame_bytes unless the buffer ran dry).
  std::size_t tick(std::vector<std::string>& echoed);

  /// Drops all buffered audio and appends every pending mark to `echoed` (Twilio echoes them
  /// on clear, §A3).
  void clear(std::vector<std::string>& echoed);

  /// The stream closed under the audio: what was still buffered is never heard and its pending
  /// marks are never echoed (there is no socket left to echo them on). Counted as cleared, not
  /// as a `clear`: a <Connect action> continues the call on a new stream with an empty buffer.
  void end_stream();

  /// Agent audio waiting to be played, in bytes (ms = bytes / 8).
  std::size_t buffered_bytes() const { return buffer_.size() - head_; }
  std::size_t pending_marks() const { return marks_.size(); }

  /// Everything the caller heard so far (empty without keep_heard_audio).
  std::span<const std::uint8_t> heard() const { return heard_; }
  /// Moves the heard audio out (e.g. into a call's result); heard() is empty afterwards.
  std::vector<std::uint8_t> take_heard() { return std::move(heard_); }

  std::uint64_t bytes_received() const { return bytes_received_; }
  std::uint64_t bytes_played() const { return bytes_played_; }
  std::uint64_t bytes_cleared() const { return bytes_cleared_; }
  std::uint64_t marks_received() const { return marks_received_; }
  std::uint64_t marks_echoed() const { return marks_echoed_; }
  std::uint64_t clears() const { return clears_; }
  std::uint64_t ticks() const { return ticks_; }

 private:
  struct pending_mark {
    std::uint64_t position;  // bytes_received_ when it was queued: played once bytes_played_
                             // plus bytes_cleared_ reach it
    std::string name;
  };

  void compact();

  bool keep_heard_audio_;
  // Unplayed audio is buffer_[head_, end); played bytes are dropped in bulk by compact() so
  // that appending and playing stay amortised O(1) without a deque of bytes.
  std::vector<std::uint8_t> buffer_;
  std::size_t head_ = 0;
  std::deque<pending_mark> marks_;
  std::vector<std::uint8_t> heard_;
  std::uint64_t bytes_received_ = 0;
  std::uint64_t bytes_played_ = 0;
  std::uint64_t bytes_cleared_ = 0;
  std::uint64_t marks_received_ = 0;
  std::uint64_t marks_echoed_ = 0;
  std::uint64_t clears_ = 0;
  std::uint64_t ticks_ = 0;
};

}  // namespace switchboard::sim
