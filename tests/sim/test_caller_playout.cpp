// The simulated phone's speaker: Twilio's playout and mark rules (protocols.md §A2, §A3).
#include "sim/caller_playout.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using switchboard::sim::caller_playout;

namespace {

std::vector<std::uint8_t> audio_bytes(std::size_t count, std::uint8_t first = 0) {
  std::vector<std::uint8_t> bytes(count);
  for (std::size_t i = 0; i < count; ++i)
    bytes[i] = static_cast<std::uint8_t>(first + i % 100);
  return bytes;
}

}  // namespace

TEST_CASE("each tick plays 160 bytes in order and records what was heard", "[caller_playout]") {
  caller_playout playout;
  const auto agent = audio_bytes(400);
  playout.append_audio(agent);
  std::vector<std::string> echoed;

  CHECK(playout.tick(echoed) == 160);
  CHECK(playout.tick(echoed) == 160);
  CHECK(playout.buffered_bytes() == 80);
  // The buffer runs dry mid-frame: the rest of the frame is silence.
  CHECK(playout.tick(echoed) == 80);
  CHECK(playout.tick(echoed) == 0);

  const auto heard = playout.heard();
  REQUIRE(heard.size() == 4 * caller_playout::frame_bytes);
  CHECK(std::equal(agent.begin(), agent.end(), heard.begin()));
  CHECK(std::all_of(heard.begin() + 400, heard.end(),
                    [](std::uint8_t byte) { return byte == caller_playout::mulaw_silence; }));
  CHECK(playout.bytes_received() == 400);
  CHECK(playout.bytes_played() == 400);
  CHECK(playout.ticks() == 4);
  CHECK(echoed.empty());
}

TEST_CASE("a mark is echoed once the audio queued before it has played", "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  playout.append_audio(audio_bytes(480));  // 60 ms
  playout.add_mark("first", echoed);
  playout.append_audio(audio_bytes(160));
  playout.add_mark("second", echoed);
  CHECK(echoed.empty());
  CHECK(playout.pending_marks() == 2);

  playout.tick(echoed);
  playout.tick(echoed);
  CHECK(echoed.empty());  // 320 of the 480 bytes before "first" have played
  playout.tick(echoed);
  CHECK(echoed == std::vector<std::string>{"first"});
  playout.tick(echoed);
  CHECK(echoed == std::vector<std::string>{"first", "second"});
  CHECK(playout.marks_received() == 2);
  CHECK(playout.marks_echoed() == 2);
}

TEST_CASE("a mark behind a partial frame is echoed by the tick that plays its audio",
          "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  playout.append_audio(audio_bytes(200));
  playout.add_mark("end", echoed);
  playout.tick(echoed);
  CHECK(echoed.empty());
  CHECK(playout.tick(echoed) == 40);
  CHECK(echoed == std::vector<std::string>{"end"});
}

TEST_CASE("a mark with nothing buffered is echoed at once", "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  playout.add_mark("idle", echoed);
  CHECK(echoed == std::vector<std::string>{"idle"});
  CHECK(playout.pending_marks() == 0);

  // Also once earlier audio has fully played.
  playout.append_audio(audio_bytes(160));
  playout.tick(echoed);
  playout.add_mark("after", echoed);
  CHECK(echoed == std::vector<std::string>{"idle", "after"});
  CHECK(playout.marks_echoed() == 2);
}

TEST_CASE("clear drops the buffer and echoes every pending mark", "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  playout.append_audio(audio_bytes(1600));
  playout.add_mark("a", echoed);
  playout.append_audio(audio_bytes(1600));
  playout.add_mark("b", echoed);
  playout.tick(echoed);
  REQUIRE(echoed.empty());

  playout.clear(echoed);
  CHECK(echoed == std::vector<std::string>{"a", "b"});
  CHECK(playout.buffered_bytes() == 0);
  CHECK(playout.pending_marks() == 0);
  CHECK(playout.clears() == 1);
  CHECK(playout.bytes_cleared() == 3200 - 160);
  CHECK(playout.marks_echoed() == 2);
  CHECK(playout.tick(echoed) == 0);  // nothing left to play

  // After a clear, new audio and marks follow the same rules.
  echoed.clear();
  playout.append_audio(audio_bytes(160));
  playout.add_mark("c", echoed);
  CHECK(echoed.empty());
  playout.tick(echoed);
  CHECK(echoed == std::vector<std::string>{"c"});

  // A clear with nothing pending is still counted and echoes nothing.
  echoed.clear();
  playout.clear(echoed);
  CHECK(echoed.empty());
  CHECK(playout.clears() == 2);
}

TEST_CASE("long answers play through intact across buffer compaction", "[caller_playout]") {
  caller_playout playout(false);
  std::vector<std::string> echoed;
  // 20 s of audio arriving in 1 s chunks while it plays: exercises the in-place compaction.
  std::vector<std::uint8_t> expected;
  std::vector<std::uint8_t> played_back;
  for (int second = 0; second < 20; ++second) {
    const auto chunk = audio_bytes(8000, static_cast<std::uint8_t>(second));
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    playout.append_audio(chunk);
    for (int i = 0; i < 25; ++i)
      playout.tick(echoed);  // half a second
  }
  playout.add_mark("done", echoed);
  while (playout.buffered_bytes() > 0)
    playout.tick(echoed);
  CHECK(echoed == std::vector<std::string>{"done"});
  CHECK(playout.bytes_played() == expected.size());
  CHECK(playout.heard().empty());  // not kept when asked not to
}

TEST_CASE("heard audio matches the agent audio across compaction", "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  std::vector<std::uint8_t> expected;
  // 8000 bytes in, 6400 played per round: the played prefix passes the compaction threshold
  // (64 KiB and half the buffer) while unplayed audio remains behind it.
  for (int second = 0; second < 20; ++second) {
    const auto chunk = audio_bytes(8000, static_cast<std::uint8_t>(second * 7));
    expected.insert(expected.end(), chunk.begin(), chunk.end());
    playout.append_audio(chunk);
    for (int i = 0; i < 40; ++i)
      playout.tick(echoed);
  }
  while (playout.buffered_bytes() > 0)
    playout.tick(echoed);
  const auto heard = playout.take_heard();
  REQUIRE(heard.size() >= expected.size());
  CHECK(std::equal(expected.begin(), expected.end(), heard.begin()));
  CHECK(playout.heard().empty());
}

TEST_CASE("a stream that ends drops its audio and marks without echoing or counting a clear",
          "[caller_playout]") {
  caller_playout playout;
  std::vector<std::string> echoed;
  playout.append_audio(audio_bytes(400));
  playout.add_mark("after", echoed);
  CHECK(playout.tick(echoed) == 160);
  playout.end_stream();
  CHECK(echoed.empty());  // no socket is left to echo on
  CHECK(playout.buffered_bytes() == 0);
  CHECK(playout.pending_marks() == 0);
  CHECK(playout.clears() == 0);
  CHECK(playout.bytes_cleared() == 240);
  // The next stream starts from an empty buffer: a mark with nothing before it echoes at once.
  playout.add_mark("next", echoed);
  CHECK(echoed == std::vector<std::string>{"next"});
}
