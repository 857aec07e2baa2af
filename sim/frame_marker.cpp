#include "sim/frame_marker.hpp"

#include "sim/speech_fixtures.hpp"

#include <algorithm>

namespace switchboard::sim {

namespace {

constexpr std::size_t key_bytes = 8;

std::uint8_t check_byte(std::span<const std::uint8_t> key) {
  unsigned sum = 0;
  for (const auto byte : key)
    sum += byte;
  return static_cast<std::uint8_t>(0x81 + sum % 0x70);
}

/// The speech fixtures the caller says, back to back: what --pattern speech loops.
std::vector<std::uint8_t> speech_loop() {
  std::vector<std::uint8_t> loop;
  for (const auto fixture : {speech_fixture::caller_request, speech_fixture::caller_interruption}) {
    const auto audio = fixture_audio(fixture);
    loop.insert(loop.end(), audio.begin(), audio.end());
  }
  return loop;
}

}  // namespace

void write_frame_marker(std::span<std::uint8_t> frame, frame_marker marker) {
  const std::uint64_t key =
      (std::uint64_t{marker.call} << frame_marker_number_bits) | std::uint64_t{marker.number};
  for (std::size_t i = 0; i < key_bytes; ++i)
    frame[i] = static_cast<std::uint8_t>(0x01 + ((key >> (7 * i)) & 0x7F));
  frame[key_bytes] = check_byte(frame.first(key_bytes));
}

std::optional<frame_marker> read_frame_marker(std::span<const std::uint8_t> frame) {
  if (frame.size() < frame_marker_bytes)
    return std::nullopt;
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < key_bytes; ++i) {
    if (frame[i] < 0x01 || frame[i] > 0x80)
      return std::nullopt;
    key |= std::uint64_t{frame[i] - 1U} << (7 * i);
  }
  if (frame[key_bytes] != check_byte(frame.first(key_bytes)))
    return std::nullopt;
  constexpr std::uint64_t number_mask = (std::uint64_t{1} << frame_marker_number_bits) - 1;
  return frame_marker{static_cast<std::size_t>(key >> frame_marker_number_bits),
                      static_cast<std::size_t>(key & number_mask)};
}

std::vector<std::uint8_t> marked_audio(std::size_t call, std::size_t frames,
                                       marked_audio_content content) {
  std::vector<std::uint8_t> audio(frames * marked_frame_bytes);
  if (content == marked_audio_content::speech) {
    const auto loop = speech_loop();
    for (std::size_t offset = 0; offset < audio.size(); offset += loop.size()) {
      const auto count = std::min(loop.size(), audio.size() - offset);
      std::copy_n(loop.begin(), count, audio.begin() + static_cast<std::ptrdiff_t>(offset));
    }
  }
  for (std::size_t number = 0; number < frames; ++number) {
    const auto frame = std::span(audio).subspan(number * marked_frame_bytes, marked_frame_bytes);
    write_frame_marker(frame, {call, number});
    if (content == marked_audio_content::tone) {
      for (std::size_t i = frame_marker_bytes; i < marked_frame_bytes; ++i)
        frame[i] = static_cast<std::uint8_t>(0x10 + (i * 13 + number) % 0x60);
    }
  }
  return audio;
}

}  // namespace switchboard::sim
