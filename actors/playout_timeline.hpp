#pragma once
// What the caller hears of the agent, modelled on a 20 ms clock (pure logic, no I/O).
//
// Agent audio is sent to Twilio faster than real time; Twilio buffers it and plays it at
// 8000 bytes/s (μ-law: 1 byte = 1 sample = 0.125 ms, so ms = bytes / 8). The timeline keeps the
// audio that was sent and not yet played, in order, and each 20 ms tick of the silence clock
// takes the next 160 bytes — exactly what the caller hears in that tick — or μ-law silence
// where the agent is silent. So the agent recording is what the caller heard, when they heard it.
//
// Marks: after each chunk of audio the bridge sends a Twilio mark named "<item>@<end byte>".
// Twilio echoes a mark when the audio before it has played, immediately when nothing is
// buffered, and for every pending mark when a `clear` empties its buffer (protocols.md §A2).
// An echo more than 40 ms past what the clock has played means Twilio is ahead of the model:
// the timeline skips to it (dropping the skipped bytes keeps the two tracks aligned); less is
// the ordinary phase difference of two 20 ms clocks and is left alone. After a
// cut, echoes past the cut point are the ones `clear` flushed: recognised, and not played.
//
// Barge-in: cut() discards everything unplayed and says which item was playing and how many
// ms of it the caller heard — the audio_end_ms of conversation.item.truncate, never more than
// was sent for that item (the API rejects an end past the item's audio).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::actors {

/// μ-law at 8 kHz: bytes per 20 ms tick.
constexpr std::size_t bytes_per_tick = 160;
constexpr std::uint64_t bytes_per_ms = 8;
/// How far (40 ms) a mark echo may run ahead of the clock before the timeline skips to it.
constexpr std::uint64_t mark_skip_tolerance_bytes = 2 * bytes_per_tick;

enum class mark_echo { played, cleared, unknown };

struct playout_cut {
  bool had_unplayed = false;   // there was agent audio the caller had not heard yet
  std::string item_id;         // the item playing (or last played) at the cut; empty if none
  std::uint64_t heard_ms = 0;  // of that item: what the caller heard, <= sent_ms
  std::uint64_t sent_ms = 0;   // of that item: what was sent to Twilio
  std::size_t discarded_bytes = 0;
};

class playout_timeline {
 public:
  /// Agent audio of `item_id` sent to Twilio now, in order. Returns the mark name to send
  /// right after it.
  std::string enqueue(std::string_view item_id, std::span<const std::uint8_t> audio);

  /// One 20 ms tick: fills `out` (bytes_per_tick long) with the audio the caller hears now,
  /// then μ-law silence. Returns how many bytes were agent audio.
  std::size_t play_tick(std::span<std::uint8_t> out);

  /// A mark Twilio echoed.
  mark_echo on_mark(std::string_view name);

  /// Barge-in: drop all unplayed audio. Marks for it that Twilio flushes are then `cleared`.
  playout_cut cut();

  bool has_unplayed() const { return queued_bytes_ > 0; }
  std::size_t queued_bytes() const { return queued_bytes_; }
  /// Bytes skipped because Twilio confirmed audio the clock had not played yet.
  std::uint64_t skipped_bytes() const { return skipped_bytes_; }
  /// Played ms of an item, 0 if unknown.
  std::uint64_t played_ms(std::string_view item_id) const;

 private:
  struct chunk {
    std::string item_id;
    std::vector<std::uint8_t> audio;
    std::size_t consumed = 0;
  };
  struct item_progress {
    std::uint64_t sent_bytes = 0;
    std::uint64_t played_bytes = 0;
    std::uint64_t cut_at_bytes = UINT64_MAX;  // marks past it were flushed by `clear`
    std::uint64_t first_byte = 0;  // where the item starts in all audio sent (items are contiguous)
  };

  void skip_to(std::string_view item_id, std::uint64_t position);

  std::deque<chunk> queue_;
  std::size_t queued_bytes_ = 0;
  std::unordered_map<std::string, item_progress> items_;
  std::string last_played_item_;
  std::uint64_t skipped_bytes_ = 0;
  std::uint64_t sent_total_ = 0;    // all agent audio enqueued
  std::uint64_t played_total_ = 0;  // of it, played or skipped
};

/// Places caller frames on the call's timeline by their Twilio timestamps (pure logic).
/// A frame's position is timestamp_ms * 8 samples. Jitter of up to half a frame is absorbed
/// (written back to back, no clicks); a larger gap is filled with μ-law silence, and a larger
/// overlap (a repeated or late frame) skips the bytes already covered.
class caller_track_aligner {
 public:
  struct placement {
    std::size_t silence_before = 0;  // silence samples to write first
    std::size_t skip = 0;            // leading bytes of the frame to drop
  };

  static constexpr std::uint64_t jitter_tolerance_samples = 80;  // 10 ms

  placement place(std::uint64_t timestamp_ms, std::size_t frame_bytes);
  std::uint64_t written_samples() const { return written_; }

 private:
  std::uint64_t written_ = 0;
};

}  // namespace switchboard::actors
