#include "actors/playout_timeline.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <numeric>
#include <vector>

using namespace switchboard::actors;

namespace {
std::vector<std::uint8_t> audio_of(std::size_t bytes, std::uint8_t value) {
  return std::vector<std::uint8_t>(bytes, value);
}
std::array<std::uint8_t, bytes_per_tick> tick(playout_timeline& timeline,
                                              std::size_t* agent = nullptr) {
  std::array<std::uint8_t, bytes_per_tick> out{};
  const auto played = timeline.play_tick(out);
  if (agent != nullptr)
    *agent = played;
  return out;
}
}  // namespace

TEST_CASE("each tick plays the next 160 bytes, then silence", "[playout_timeline]") {
  playout_timeline timeline;
  CHECK(timeline.enqueue("item_a", audio_of(200, 0x10)) == "item_a@200");
  std::size_t agent = 0;
  auto first = tick(timeline, &agent);
  CHECK(agent == 160);
  CHECK(first[159] == 0x10);
  auto second = tick(timeline, &agent);
  CHECK(agent == 40);
  CHECK(second[39] == 0x10);
  CHECK(second[40] == 0xFF);  // μ-law silence where the agent stopped
  auto third = tick(timeline, &agent);
  CHECK(agent == 0);
  CHECK(third[0] == 0xFF);
  CHECK(timeline.played_ms("item_a") == 25);
}

TEST_CASE("a cut reports the heard position of the playing item and drops the rest",
          "[playout_timeline]") {
  playout_timeline timeline;
  timeline.enqueue("item_a", audio_of(800, 0x10));  // 100 ms sent
  timeline.enqueue("item_a", audio_of(800, 0x11));  // 200 ms sent
  tick(timeline);
  tick(timeline);  // 40 ms heard
  const auto cut = timeline.cut();
  CHECK(cut.had_unplayed);
  CHECK(cut.item_id == "item_a");
  CHECK(cut.heard_ms == 40);
  CHECK(cut.sent_ms == 200);
  CHECK(cut.discarded_bytes == 1600 - 320);
  CHECK_FALSE(timeline.has_unplayed());
  std::size_t agent = 0;
  tick(timeline, &agent);
  CHECK(agent == 0);  // the agent track is cut at the same point
}

TEST_CASE("marks echo as played, or as cleared when a clear flushed them", "[playout_timeline]") {
  playout_timeline timeline;
  const auto first_mark = timeline.enqueue("item_a", audio_of(160, 0x10));
  const auto second_mark = timeline.enqueue("item_a", audio_of(160, 0x10));
  tick(timeline);
  CHECK(timeline.on_mark(first_mark) == mark_echo::played);
  timeline.cut();
  // Twilio echoes every pending mark when `clear` empties its buffer.
  CHECK(timeline.on_mark(second_mark) == mark_echo::cleared);
  CHECK(timeline.on_mark("someone-else") == mark_echo::unknown);
  CHECK(timeline.on_mark("item_zzz@5") == mark_echo::unknown);
  CHECK(timeline.on_mark("item_a@x") == mark_echo::unknown);
  CHECK(timeline.on_mark("item_a@999") == mark_echo::unknown);  // past what was sent
}

TEST_CASE("an echo a tick or two ahead of the clock is ordinary jitter and skips nothing",
          "[playout_timeline]") {
  playout_timeline timeline;
  const auto mark = timeline.enqueue("item_a", audio_of(320, 0x10));
  tick(timeline);  // 160 of 320 played; Twilio says all 320 were
  CHECK(timeline.on_mark(mark) == mark_echo::played);
  CHECK(timeline.skipped_bytes() == 0);
  CHECK(timeline.queued_bytes() == 160);  // still played, so the recording has no gap
}

TEST_CASE("an echo far ahead of the clock skips to it, keeping the track on time",
          "[playout_timeline]") {
  playout_timeline timeline;
  timeline.enqueue("item_a", audio_of(320, 0x10));
  const auto mark = timeline.enqueue("item_b", audio_of(320, 0x20));
  tick(timeline);  // the clock has played 160 bytes of item_a
  // Twilio says item_b has fully played: everything before it was heard too.
  CHECK(timeline.on_mark(mark) == mark_echo::played);
  CHECK_FALSE(timeline.has_unplayed());
  CHECK(timeline.skipped_bytes() == 160 + 320);
  CHECK(timeline.played_ms("item_b") == 40);
}

TEST_CASE("the heard position never exceeds what was sent for the item", "[playout_timeline]") {
  playout_timeline timeline;
  timeline.enqueue("item_a", audio_of(100, 0x10));
  tick(timeline);  // all 100 bytes played
  const auto cut = timeline.cut();
  CHECK_FALSE(cut.had_unplayed);
  CHECK(cut.item_id == "item_a");
  CHECK(cut.heard_ms == 12);  // 100 bytes = 12.5 ms, rounded down
  CHECK(cut.heard_ms <= cut.sent_ms);
}

TEST_CASE("caller frames land at their timestamps, gaps become silence", "[caller_track]") {
  caller_track_aligner aligner;
  auto first = aligner.place(0, 160);
  CHECK(first.silence_before == 0);
  CHECK(first.skip == 0);
  // 1 ms of timestamp jitter is absorbed: written back to back.
  auto jittered = aligner.place(21, 160);
  CHECK(jittered.silence_before == 0);
  CHECK(aligner.written_samples() == 320);
  // A lost frame (60 ms where 40 was expected) is filled with 20 ms of silence.
  auto after_gap = aligner.place(60, 160);
  CHECK(after_gap.silence_before == 160);
  CHECK(aligner.written_samples() == 640);
  // A repeated frame is skipped rather than doubling the audio.
  auto repeated = aligner.place(60, 160);
  CHECK(repeated.skip == 160);
  CHECK(aligner.written_samples() == 640);
}
