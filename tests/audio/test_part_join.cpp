// A handed-over call's parts joined on the call's timeline (audio/part_join.hpp): the plan as
// plain data (gaps filled, overlaps cut from the earlier part, parts in any order), then real
// μ-law tracks joined byte for byte, and the output never overwritten.
#include "audio/part_join.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::join_piece;
using audio::timeline_part;

namespace {

/// The audio bytes of a μ-law WAV file.
std::vector<std::uint8_t> codes_of(const std::string& path) {
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  const auto file = t::read_bytes(path);
  return {file.begin() + static_cast<std::ptrdiff_t>(info->data_offset),
          file.begin() + static_cast<std::ptrdiff_t>(info->data_offset + info->data_bytes)};
}

}  // namespace

TEST_CASE("part join: a gap between parts is silence", "[part_join]") {
  const std::vector<timeline_part> parts{{0, 800}, {1000, 400}};
  const auto plan = audio::plan_part_join(parts);
  REQUIRE(plan.pieces.size() == 3);
  CHECK(plan.pieces[0].part == 0);
  CHECK(plan.pieces[0].count == 800);
  CHECK(plan.pieces[1].part == join_piece::silence);
  CHECK(plan.pieces[1].count == 200);
  CHECK(plan.pieces[2].part == 1);
  CHECK(plan.pieces[2].count == 400);
  CHECK(plan.samples == 1400);
  CHECK(plan.silence_samples == 200);
  CHECK(plan.cut_samples == 0);
}

TEST_CASE("part join: where a part runs past the next one's start the next one wins",
          "[part_join]") {
  // Part 1 ends at 1000 but part 2 starts at 900; part 3 starts at part 2's end exactly.
  const std::vector<timeline_part> parts{{0, 1000}, {900, 500}, {1400, 100}};
  const auto plan = audio::plan_part_join(parts);
  REQUIRE(plan.pieces.size() == 3);
  CHECK(plan.pieces[0].count == 900);
  CHECK(plan.pieces[1].part == 1);
  CHECK(plan.pieces[1].from == 0);
  CHECK(plan.pieces[2].part == 2);
  CHECK(plan.samples == 1500);
  CHECK(plan.cut_samples == 100);
  // Two parts at the same offset (the first never got a frame in): the later one wins whole.
  const std::vector<timeline_part> same_start{{0, 100}, {50, 10}, {50, 30}};
  const auto cut = audio::plan_part_join(same_start);
  REQUIRE(cut.pieces.size() == 2);
  CHECK(cut.pieces[0].part == 0);
  CHECK(cut.pieces[0].count == 50);
  CHECK(cut.pieces[1].part == 2);
  CHECK(cut.pieces[1].count == 30);
  CHECK(cut.samples == 80);
  CHECK(cut.cut_samples == 60);
}

TEST_CASE("part join: the parts are taken by offset in any order", "[part_join]") {
  const std::vector<timeline_part> parts{{500, 100}, {0, 500}};
  const auto plan = audio::plan_part_join(parts);
  REQUIRE(plan.pieces.size() == 2);
  CHECK(plan.pieces[0].part == 1);
  CHECK(plan.pieces[1].part == 0);
  CHECK(plan.samples == 600);
  CHECK(audio::plan_part_join({}).samples == 0);
}

TEST_CASE("part join: two recorded parts make one track byte for byte", "[part_join]") {
  t::scratch_dir dir;
  const auto first = t::mulaw_pattern(800, 0);     // 100 ms at 0 ms
  const auto second = t::mulaw_pattern(1600, 90);  // 200 ms at 150 ms: a 50 ms gap
  t::write_mulaw_wav(dir.file("part1.wav"), first);
  t::write_mulaw_wav(dir.file("part2.wav"), second);
  const std::vector<audio::part_track> tracks{{dir.file("part1.wav"), 0},
                                              {dir.file("part2.wav"), 150}};
  const auto joined = audio::join_part_tracks(tracks, dir.file("whole.wav"));
  REQUIRE(joined.has_value());
  CHECK(joined->samples == 800 + 400 + 1600);
  CHECK(joined->silence_samples == 400);
  std::vector<std::uint8_t> expected = first;
  expected.insert(expected.end(), 400, 0xFF);  // μ-law silence
  expected.insert(expected.end(), second.begin(), second.end());
  CHECK(codes_of(dir.file("whole.wav")) == expected);
  // Never overwritten; no temporary left behind.
  const auto again = audio::join_part_tracks(tracks, dir.file("whole.wav"));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == audio::wav_errc::already_exists);
  CHECK(codes_of(dir.file("whole.wav")) == expected);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().front() != '.');
}

TEST_CASE("part join: a track that is not μ-law 8 kHz mono is refused", "[part_join]") {
  t::scratch_dir dir;
  auto writer = audio::wav_writer::create(dir.file("pcm.wav"), audio::wav_format::pcm16(1, 8000));
  REQUIRE(writer.has_value());
  REQUIRE(writer->close().has_value());
  t::write_mulaw_wav(dir.file("part1.wav"), t::mulaw_pattern(80));
  const std::vector<audio::part_track> tracks{{dir.file("part1.wav"), 0},
                                              {dir.file("pcm.wav"), 10}};
  const auto joined = audio::join_part_tracks(tracks, dir.file("whole.wav"));
  REQUIRE_FALSE(joined.has_value());
  CHECK(joined.error().code == audio::wav_errc::unsupported_format);
  CHECK_FALSE(std::filesystem::exists(dir.file("whole.wav")));
}
