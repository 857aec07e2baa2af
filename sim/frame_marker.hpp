#pragma once
// Frame markers: the load generator's way to recognise a 20 ms frame of caller audio when it
// comes back. A bridge forwards Twilio audio to the model as base64 without re-encoding it and
// the echoing model stand-in returns the same bytes, so a marker written into the first bytes
// of a frame survives the whole round trip, and names the call and the frame it came from.
//
// Layout (9 bytes at the start of a 160-byte frame):
//   bytes 0..7  the key, call index << 36 | frame number, 7 bits a byte, each byte 0x01..0x80
//   byte  8     a check byte 0x81..0xF0 (sum of the key bytes, mod 0x70)
// μ-law silence is 0xFF, so the silence a bridge plays between echoes never reads as a marker.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace switchboard::sim {

/// Twilio media frames are 20 ms of μ-law at 8000 bytes/s: 160 bytes (protocols.md §A2).
inline constexpr std::size_t marked_frame_bytes = 160;
inline constexpr std::size_t marked_frames_per_second = 50;
inline constexpr std::size_t frame_marker_bytes = 9;
/// The frame number takes the low 36 bits of the key (≈ 43 years of 20 ms frames); the call
/// index the 20 bits above them.
inline constexpr unsigned frame_marker_number_bits = 36;
inline constexpr std::size_t max_marked_calls = std::size_t{1} << 20;

struct frame_marker {
  std::size_t call = 0;
  std::size_t number = 0;

  friend bool operator==(const frame_marker&, const frame_marker&) = default;
};

/// Writes the marker of frame `marker.number` of call `marker.call` into the first
/// frame_marker_bytes of `frame` (which must hold at least that many). The call index must be
/// below max_marked_calls.
void write_frame_marker(std::span<std::uint8_t> frame, frame_marker marker);

/// The marker at the start of `frame`, or nullopt when there is none (silence, other audio, a
/// corrupted marker).
std::optional<frame_marker> read_frame_marker(std::span<const std::uint8_t> frame);

/// What fills a marked frame after its marker.
enum class marked_audio_content {
  tone,    // a loud, non-silent pattern nobody listens to
  speech,  // the speech fixtures, looped (the marker is a 1 ms click at the start of each frame)
};

/// `frames` 160-byte frames of call `call`, numbered from 0, each starting with its marker.
std::vector<std::uint8_t> marked_audio(std::size_t call, std::size_t frames,
                                       marked_audio_content content);

}  // namespace switchboard::sim
