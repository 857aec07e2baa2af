// The model stand-in's energy VAD on the espeak fixtures, μ-law silence, low noise and
// synthetic tones whose frame-exact positions are known. Positions are ms of audio appended.
#include "audio/mulaw.hpp"
#include "sim/energy_vad.hpp"
#include "sim/speech_fixtures.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

using namespace switchboard::sim;
using switchboard::audio::encode_mulaw;
using switchboard::audio::mulaw_silence;

namespace {

std::vector<std::uint8_t> silence(std::uint64_t ms) {
  return std::vector<std::uint8_t>(ms * 8, mulaw_silence);
}

// A square wave at ±8000 (RMS ≈ −12 dBFS): loud in every 20 ms frame.
std::vector<std::uint8_t> tone(std::uint64_t ms) {
  std::vector<std::uint8_t> codes(ms * 8);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    codes[i] = encode_mulaw(static_cast<std::int16_t>((i / 10) % 2 == 0 ? 8000 : -8000));
  }
  return codes;
}

// Line noise of at most ±60 (about −55 dBFS RMS), fixed seed.
std::vector<std::uint8_t> low_noise(std::uint64_t ms) {
  std::minstd_rand generator(42);
  std::uniform_int_distribution<int> amplitude(-60, 60);
  std::vector<std::uint8_t> codes(ms * 8);
  for (auto& code : codes)
    code = encode_mulaw(static_cast<std::int16_t>(amplitude(generator)));
  return codes;
}

void append_all(std::vector<std::uint8_t>& audio, const std::vector<std::uint8_t>& more) {
  audio.insert(audio.end(), more.begin(), more.end());
}

std::vector<vad_event> run(energy_vad& vad, const std::vector<std::uint8_t>& audio,
                           std::size_t chunk_bytes) {
  std::vector<vad_event> events;
  for (std::size_t offset = 0; offset < audio.size(); offset += chunk_bytes) {
    const auto size = std::min(chunk_bytes, audio.size() - offset);
    vad.append(std::span<const std::uint8_t>(audio).subspan(offset, size), events);
  }
  return events;
}

std::vector<vad_event> run(const std::vector<std::uint8_t>& audio, std::size_t chunk_bytes = 160,
                           energy_vad_options options = {}) {
  energy_vad vad(options);
  return run(vad, audio, chunk_bytes);
}

}  // namespace

TEST_CASE("μ-law silence and low line noise are never speech", "[energy_vad]") {
  CHECK(run(silence(3000)).empty());
  CHECK(run(low_noise(3000)).empty());
}

TEST_CASE("each speech fixture is one turn: started near its onset, stopped after the silence",
          "[energy_vad]") {
  for (auto fixture : {speech_fixture::agent_greeting, speech_fixture::agent_answer,
                       speech_fixture::caller_request, speech_fixture::caller_interruption}) {
    CAPTURE(fixture_text(fixture));
    const auto speech = fixture_audio(fixture);
    const std::uint64_t speech_ms = speech.size() / 8;
    std::vector<std::uint8_t> audio = silence(1000);
    audio.insert(audio.end(), speech.begin(), speech.end());
    append_all(audio, silence(1000));

    const auto events = run(audio);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == vad_event_kind::speech_started);
    // espeak starts voicing within the first 100 ms; the start is moved back by 300 ms padding.
    CHECK(events[0].audio_ms >= 1000 - 300);
    CHECK(events[0].audio_ms <= 1000 + 100 - 300);
    CHECK(events[1].kind == vad_event_kind::speech_stopped);
    // Stopped 500 ms after the last loud frame, which lies within the fixture.
    CHECK(events[1].audio_ms >= 1000 + 500 + speech_ms / 2);
    CHECK(events[1].audio_ms <= 1000 + speech_ms + 500 + energy_vad::frame_ms);
  }
}

TEST_CASE("positions are frame-exact: padding, minimum speech and silence duration",
          "[energy_vad]") {
  std::vector<std::uint8_t> audio = silence(1000);
  append_all(audio, tone(200));
  append_all(audio, silence(480));  // a pause shorter than silence_duration_ms
  append_all(audio, tone(100));
  append_all(audio, silence(500));
  const auto events = run(audio);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == vad_event{vad_event_kind::speech_started, 1000 - 300});
  // The second burst ends at 1780 ms; 500 ms of quiet after it.
  CHECK(events[1] == vad_event{vad_event_kind::speech_stopped, 1780 + 500});
}

TEST_CASE("a loud burst shorter than min_speech_ms is not speech", "[energy_vad]") {
  std::vector<std::uint8_t> click = silence(500);
  append_all(click, tone(40));
  append_all(click, silence(1000));
  CHECK(run(click).empty());

  std::vector<std::uint8_t> word = silence(500);
  append_all(word, tone(60));
  append_all(word, silence(1000));
  const auto events = run(word);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == vad_event{vad_event_kind::speech_started, 500 - 300});
  CHECK(events[1] == vad_event{vad_event_kind::speech_stopped, 560 + 500});
}

TEST_CASE("the prefix padding is clamped at the session's start", "[energy_vad]") {
  std::vector<std::uint8_t> audio = silence(100);
  append_all(audio, tone(300));
  const auto events = run(audio);
  REQUIRE(events.size() == 1);
  CHECK(events[0] == vad_event{vad_event_kind::speech_started, 0});
}

TEST_CASE("chunk sizes do not change what is detected", "[energy_vad]") {
  std::vector<std::uint8_t> audio = silence(700);
  const auto speech = fixture_audio(speech_fixture::caller_request);
  audio.insert(audio.end(), speech.begin(), speech.end());
  append_all(audio, silence(800));
  const auto reference = run(audio, audio.size());
  REQUIRE(reference.size() == 2);
  for (std::size_t chunk :
       {std::size_t{1}, std::size_t{7}, std::size_t{160}, std::size_t{333}, std::size_t{4000}}) {
    CAPTURE(chunk);
    CHECK(run(audio, chunk) == reference);
  }
}

TEST_CASE("options: threshold, padding and silence duration are honoured", "[energy_vad]") {
  std::vector<std::uint8_t> audio = silence(1000);
  append_all(audio, tone(200));
  append_all(audio, silence(1000));

  // A threshold above the tone's level hears nothing.
  CHECK(run(audio, 160, {.threshold_dbfs = -6.0}).empty());

  const auto events = run(audio, 160, {.prefix_padding_ms = 100, .silence_duration_ms = 200});
  REQUIRE(events.size() == 2);
  CHECK(events[0] == vad_event{vad_event_kind::speech_started, 1000 - 100});
  CHECK(events[1] == vad_event{vad_event_kind::speech_stopped, 1200 + 200});

  // A session.update mid-stream keeps the position and the state.
  energy_vad vad;
  std::vector<std::uint8_t> first = silence(1000);
  append_all(first, tone(200));
  auto started = run(vad, first, 160);
  REQUIRE(started.size() == 1);
  CHECK(vad.speaking());
  vad.set_options({.silence_duration_ms = 100});
  const auto stopped = run(vad, silence(200), 160);
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0] == vad_event{vad_event_kind::speech_stopped, 1200 + 100});
  CHECK_FALSE(vad.speaking());
}

TEST_CASE("position_ms counts every byte appended, partial frames included", "[energy_vad]") {
  energy_vad vad;
  std::vector<vad_event> events;
  const auto audio = silence(30);
  vad.append(std::span<const std::uint8_t>(audio).first(100), events);
  CHECK(vad.position_ms() == 12);  // 100 bytes = 12.5 ms
  vad.append(std::span<const std::uint8_t>(audio).subspan(100), events);
  CHECK(vad.position_ms() == 30);
  CHECK(events.empty());
}
