// Frame markers: what the load generator writes into each caller frame to recognise its echo.
#include "sim/frame_marker.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

using namespace switchboard::sim;

TEST_CASE("a marker reads back as the call and frame it was written for", "[frame_marker]") {
  std::array<std::uint8_t, marked_frame_bytes> frame{};
  for (const auto marker :
       {frame_marker{0, 0}, frame_marker{1, 1}, frame_marker{1199, 1499},
        frame_marker{max_marked_calls - 1, (std::size_t{1} << frame_marker_number_bits) - 1}}) {
    frame.fill(0x55);
    write_frame_marker(frame, marker);
    const auto read = read_frame_marker(frame);
    REQUIRE(read);
    CHECK(*read == marker);
    // Only the first bytes carry the marker.
    CHECK(std::all_of(frame.begin() + frame_marker_bytes, frame.end(),
                      [](std::uint8_t byte) { return byte == 0x55; }));
  }
}

TEST_CASE("silence, short frames and damaged markers read as no marker", "[frame_marker]") {
  std::array<std::uint8_t, marked_frame_bytes> frame{};
  frame.fill(0xFF);  // μ-law silence, what a bridge plays between echoes
  CHECK_FALSE(read_frame_marker(frame));

  write_frame_marker(frame, {7, 42});
  CHECK_FALSE(read_frame_marker(std::span(frame).first(frame_marker_bytes - 1)));
  auto damaged = frame;
  damaged[3] ^= 0x01;  // a key byte changed: the check byte no longer agrees
  CHECK_FALSE(read_frame_marker(damaged));
  damaged = frame;
  damaged[8] = 0xFF;  // the check byte lost
  CHECK_FALSE(read_frame_marker(damaged));
}

TEST_CASE("marked audio numbers its frames from zero and fills the rest of each",
          "[frame_marker]") {
  for (const auto content : {marked_audio_content::tone, marked_audio_content::speech}) {
    const auto audio = marked_audio(3, 250, content);
    REQUIRE(audio.size() == 250 * marked_frame_bytes);
    for (std::size_t number = 0; number < 250; ++number) {
      const auto frame = std::span(audio).subspan(number * marked_frame_bytes, marked_frame_bytes);
      const auto marker = read_frame_marker(frame);
      REQUIRE(marker);
      CHECK(*marker == frame_marker{3, number});
    }
    // Not silence: a bridge or a VAD that skipped silence would still forward it.
    CHECK(std::count(audio.begin(), audio.end(), std::uint8_t{0xFF}) < 250 * 20);
  }
}
