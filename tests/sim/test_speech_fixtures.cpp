#include "sim/speech_fixtures.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using switchboard::sim::fixture_audio;
using switchboard::sim::fixture_text;
using switchboard::sim::speech_fixture;

TEST_CASE("every speech fixture is embedded, seconds long and not silent", "[speech_fixtures]") {
  for (auto fixture : {speech_fixture::agent_greeting, speech_fixture::agent_answer,
                       speech_fixture::caller_request, speech_fixture::caller_interruption}) {
    const auto audio = fixture_audio(fixture);
    CHECK(audio.size() > 2 * 8000);  // over 2 s of μ-law at 8 kHz
    CHECK(audio.size() < 12 * 8000);
    // Speech: plenty of codes far from silence (0xFF / 0x7F are the two zero codes).
    const auto loud = std::count_if(audio.begin(), audio.end(),
                                    [](std::uint8_t code) { return (code & 0x7F) < 0x50; });
    CHECK(loud > static_cast<std::ptrdiff_t>(audio.size() / 10));
    CHECK_FALSE(fixture_text(fixture).empty());
  }
}
