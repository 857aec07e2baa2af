#include "audio/wav_format.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::wav_errc;
using Catch::Matchers::Contains;

namespace {

std::vector<std::uint8_t> mulaw_file(std::size_t samples) {
  const auto audio_bytes = t::mulaw_pattern(samples);
  return t::wav_builder()
      .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
      .fact(static_cast<std::uint32_t>(samples))
      .data(audio_bytes)
      .bytes();
}

const std::vector<std::uint8_t> eight_bytes{1, 2, 3, 4, 5, 6, 7, 8};

}  // namespace

TEST_CASE("parse a mu-law file with fmt, fact and data", "[wav_format]") {
  const auto bytes = mulaw_file(160);
  const auto info = audio::parse_wav_bytes(bytes);
  REQUIRE(info.has_value());
  CHECK(info->format_tag == audio::wave_format_mulaw);
  CHECK(info->channels == 1);
  CHECK(info->sample_rate == 8000);
  CHECK(info->byte_rate == 8000);
  CHECK(info->block_align == 1);
  CHECK(info->bits_per_sample == 8);
  CHECK(info->data_offset == 58);
  CHECK(info->data_bytes == 160);
  CHECK(info->fact_sample_count == 160);
  CHECK(info->fact_field_offset == 46);
  CHECK(info->file_size == bytes.size());
  CHECK(info->size_finalised);
  CHECK(info->frames() == 160);
  CHECK(info->duration_ms() == 20);
  CHECK(info->format() == audio::wav_format::mulaw_8k_mono());
}

TEST_CASE("parse a PCM 16-bit stereo file", "[wav_format]") {
  const std::vector<std::uint8_t> frames(std::size_t{4} * 441, 0);
  const auto bytes =
      t::wav_builder().fmt(audio::wave_format_pcm, 2, 44100, 16).data(frames).bytes();
  const auto info = audio::parse_wav_bytes(bytes);
  REQUIRE(info.has_value());
  CHECK(info->format() == audio::wav_format::pcm16(2, 44100));
  CHECK(info->data_offset == 44);
  CHECK(info->block_align == 4);
  CHECK(info->frames() == 441);
  CHECK(info->duration_ms() == 10);
  CHECK_FALSE(info->fact_sample_count.has_value());
}

TEST_CASE("unknown chunks are skipped with word alignment", "[wav_format]") {
  const std::vector<std::uint8_t> odd_body{'a', 'b', 'c'};
  const std::vector<std::uint8_t> list_body{'I', 'N', 'F', 'O', 'x', 'y'};
  const auto audio_bytes = t::mulaw_pattern(9);
  const auto bytes = t::wav_builder()
                         .chunk("JUNK", odd_body)  // 3 bytes + 1 pad byte
                         .chunk("LIST", list_body)
                         .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
                         .chunk("zzzz", odd_body)
                         .data(audio_bytes)
                         .chunk("LIST", list_body)  // after the data: ignored
                         .bytes();
  const auto info = audio::parse_wav_bytes(bytes);
  REQUIRE(info.has_value());
  CHECK(info->data_offset == 12 + 12 + 14 + 26 + 12 + 8);
  CHECK(info->data_bytes == 9);
  CHECK(info->size_finalised);
}

TEST_CASE("fmt after data is found when the data size is final", "[wav_format]") {
  const auto audio_bytes = t::mulaw_pattern(8);
  const auto bytes =
      t::wav_builder().data(audio_bytes).fmt(audio::wave_format_mulaw, 1, 8000, 8).bytes();
  const auto info = audio::parse_wav_bytes(bytes);
  REQUIRE(info.has_value());
  CHECK(info->data_offset == 20);
  CHECK(info->data_bytes == 8);
}

TEST_CASE("not RIFF/WAVE inputs", "[wav_format]") {
  SECTION("empty") {
    const auto info = audio::parse_wav_bytes({}, "empty.wav");
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(info.error().message, Contains("empty.wav") && Contains("empty"));
  }
  SECTION("shorter than a RIFF header") {
    const std::vector<std::uint8_t> bytes{'R', 'I', 'F', 'F', 0, 0};
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(info.error().message, Contains("6 bytes"));
  }
  SECTION("garbage") {
    const std::vector<std::uint8_t> bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w',
                                          'o', 'r', 'l', 'd', '!', 0x01};
    const auto info = audio::parse_wav_bytes(bytes, "g.wav");
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(info.error().message, Contains("'hell'") && Contains("expected 'RIFF'"));
  }
  SECTION("RIFF but AVI") {
    const auto bytes = t::wav_builder("AVI ").chunk("LIST", eight_bytes).bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(info.error().message, Contains("'AVI '") && Contains("expected 'WAVE'"));
  }
}

TEST_CASE("missing fmt or data chunk", "[wav_format]") {
  SECTION("no fmt") {
    const auto bytes = t::wav_builder().data(eight_bytes).bytes();
    const auto info = audio::parse_wav_bytes(bytes, "nofmt.wav");
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::no_fmt_chunk);
    CHECK_THAT(info.error().message, Contains("nofmt.wav"));
  }
  SECTION("no data") {
    const auto bytes = t::wav_builder()
                           .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                           .chunk("LIST", eight_bytes)
                           .bytes();
    const auto info = audio::parse_wav_bytes(bytes, "nodata.wav");
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::no_data_chunk);
    CHECK_THAT(info.error().message, Contains("nodata.wav"));
  }
  SECTION("no chunks at all") {
    const auto bytes = t::wav_builder().bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::no_fmt_chunk);
  }
}

TEST_CASE("truncated files report the claimed and the held size", "[wav_format]") {
  SECTION("data chunk claims more than the file holds") {
    const auto bytes = t::wav_builder()
                           .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                           .data(eight_bytes, 1000)
                           .riff_size(36 + 8)
                           .bytes();
    const auto info = audio::parse_wav_bytes(bytes, "cut.wav");
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::truncated);
    CHECK_THAT(info.error().message,
               Contains("cut.wav") && Contains("1000") && Contains("holds 8"));
  }
  SECTION("RIFF size claims more than the file holds") {
    const auto bytes = t::wav_builder()
                           .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                           .data(eight_bytes)
                           .riff_size(5000)
                           .bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::truncated);
    CHECK_THAT(info.error().message, Contains("5008") && Contains(std::to_string(bytes.size())));
  }
  SECTION("a chunk before the data runs past the end") {
    auto bytes = t::wav_builder().fmt(audio::wave_format_mulaw, 1, 8000, 8).bytes();
    bytes.resize(bytes.size() - 6);  // cut inside the fmt body
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::truncated);
  }
  SECTION("lenient parsing clamps an overstated data size to the file") {
    const auto bytes =
        t::wav_builder().fmt(audio::wave_format_mulaw, 1, 8000, 8).data(eight_bytes, 1000).bytes();
    const auto info = audio::parse_wav_bytes(bytes, "cut.wav", audio::wav_strictness::lenient);
    REQUIRE(info.has_value());
    CHECK(info->data_bytes == 8);
    CHECK(info->data_size_field == 1000);
  }
}

TEST_CASE("a pad byte missing after odd final data is tolerated", "[wav_format]") {
  const auto audio_bytes = t::mulaw_pattern(7);
  // RIFF size counts the pad byte, the file does not hold it.
  const auto bytes = t::wav_builder()
                         .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                         .data(audio_bytes)
                         .riff_size(36 + 7 + 1)
                         .bytes();
  const auto info = audio::parse_wav_bytes(bytes);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 7);
}

TEST_CASE("sizes that were never finalised use the file length", "[wav_format]") {
  const auto audio_bytes = t::mulaw_pattern(100);
  SECTION("data size 0xFFFFFFFF") {
    const auto bytes = t::wav_builder()
                           .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
                           .fact(0)
                           .data(audio_bytes, 0xFFFFFFFFu)
                           .riff_size(0xFFFFFFFFu)
                           .bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_value());
    CHECK_FALSE(info->size_finalised);
    CHECK(info->data_bytes == 100);
  }
  SECTION("data size 0 followed by audio") {
    const auto bytes =
        t::wav_builder().fmt(audio::wave_format_mulaw, 1, 8000, 8).data(audio_bytes, 0).bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_value());
    CHECK_FALSE(info->size_finalised);
    CHECK(info->data_bytes == 100);
  }
  SECTION("RIFF size 0 with a final data size") {
    const auto bytes = t::wav_builder()
                           .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                           .data(audio_bytes)
                           .riff_size(0)
                           .bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_value());
    CHECK_FALSE(info->size_finalised);
    CHECK(info->data_bytes == 100);
  }
  SECTION("data size 0 at the end of the file is an empty recording, not unfinalised") {
    const auto bytes = t::wav_builder().fmt(audio::wave_format_mulaw, 1, 8000, 8).data({}).bytes();
    const auto info = audio::parse_wav_bytes(bytes);
    REQUIRE(info.has_value());
    CHECK(info->size_finalised);
    CHECK(info->data_bytes == 0);
  }
}

TEST_CASE("unsupported formats name the offending field", "[wav_format]") {
  const auto parse_fmt = [](std::uint16_t tag, std::uint16_t channels, std::uint32_t rate,
                            std::uint16_t bits) {
    return audio::parse_wav_bytes(
        t::wav_builder().fmt(tag, channels, rate, bits).data(eight_bytes).bytes(), "f.wav");
  };
  const auto expect = [](const audio::wav_result<audio::wav_info>& info, const char* needle) {
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::unsupported_format);
    CHECK_THAT(info.error().message, Contains(needle) && Contains("f.wav"));
  };
  expect(parse_fmt(3, 1, 8000, 32), "format tag 3");
  expect(parse_fmt(0xFFFE, 2, 48000, 16), "WAVE_FORMAT_EXTENSIBLE");
  expect(parse_fmt(audio::wave_format_mulaw, 1, 8000, 16), "16 bits");
  expect(parse_fmt(audio::wave_format_pcm, 1, 8000, 12), "12 bits");
  expect(parse_fmt(audio::wave_format_pcm, 0, 8000, 16), "0 channels");
  expect(parse_fmt(audio::wave_format_pcm, 1, 0, 16), "0 Hz");

  SECTION("block_align inconsistent with channels and bits") {
    std::vector<std::uint8_t> fmt{1, 0, 2, 0, 0x40, 0x1F, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0};
    const auto info =
        audio::parse_wav_bytes(t::wav_builder().fmt_raw(fmt).data(eight_bytes).bytes(), "f.wav");
    expect(info, "block_align is 2, expected 4");
  }
  SECTION("fmt chunk too short") {
    const std::vector<std::uint8_t> fmt{1, 0, 1, 0, 0x40, 0x1F, 0, 0};
    const auto info =
        audio::parse_wav_bytes(t::wav_builder().fmt_raw(fmt).data(eight_bytes).bytes(), "f.wav");
    expect(info, "at least 16");
  }
}

TEST_CASE("every prefix of a valid file parses to an error or to what it holds", "[wav_format]") {
  const auto bytes = t::wav_builder()
                         .chunk("LIST", eight_bytes)
                         .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
                         .fact(50)
                         .data(t::mulaw_pattern(50))
                         .bytes();
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    INFO("prefix of " << length << " bytes");
    const auto info = audio::parse_wav_bytes(std::span<const std::uint8_t>(bytes).first(length));
    if (length == bytes.size()) {
      REQUIRE(info.has_value());
      CHECK(info->data_bytes == 50);
    } else {
      // Cut files: either an error, or (never) a claim beyond the bytes present.
      REQUIRE(info.has_error());
      CHECK((info.error().code == wav_errc::not_riff_wave ||
             info.error().code == wav_errc::truncated ||
             info.error().code == wav_errc::no_fmt_chunk ||
             info.error().code == wav_errc::no_data_chunk));
    }
  }
}

TEST_CASE("parse from a path and from a descriptor", "[wav_format]") {
  t::scratch_dir dir;
  const auto path = dir.file("a.wav");
  t::write_bytes(path, mulaw_file(80));

  const auto from_path = audio::parse_wav_file(path);
  REQUIRE(from_path.has_value());
  CHECK(from_path->data_bytes == 80);

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto from_fd = audio::parse_wav_fd(fd, "a.wav");
  ::close(fd);
  REQUIRE(from_fd.has_value());
  CHECK(from_fd->data_bytes == 80);
  CHECK(from_fd->file_size == from_path->file_size);

  SECTION("empty file") {
    const auto empty = dir.file("empty.wav");
    t::write_bytes(empty, {});
    const auto info = audio::parse_wav_file(empty);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(info.error().message, Contains(empty));
  }
}

TEST_CASE("files that cannot be opened", "[wav_format]") {
  t::scratch_dir dir;
  SECTION("missing") {
    const auto missing = dir.file("missing.wav");
    const auto info = audio::parse_wav_file(missing);
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::cannot_open);
    CHECK_THAT(info.error().message, Contains(missing) && Contains("No such file"));
  }
  SECTION("a directory") {
    const auto info = audio::parse_wav_file(dir.path().string());
    REQUIRE(info.has_error());
    CHECK(info.error().code == wav_errc::cannot_open);
  }
  SECTION("no read permission") {
    const auto locked = dir.file("locked.wav");
    t::write_bytes(locked, mulaw_file(8));
    std::filesystem::permissions(locked, std::filesystem::perms::none);
    // The scratch directory itself is 0700: open it up so only the file's mode refuses.
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    CHECK(t::run_unprivileged([&] {
      const auto info = audio::parse_wav_file(locked);
      return info.has_error() && info.error().code == wav_errc::cannot_open &&
             info.error().message.find("Permission denied") != std::string::npos &&
             info.error().message.find(locked) != std::string::npos;
    }));
  }
}

TEST_CASE("describe names a format for messages", "[wav_format]") {
  CHECK(audio::describe(audio::wav_format::mulaw_8k_mono()) == "mu-law 8-bit mono 8000 Hz");
  CHECK(audio::describe(audio::wav_format::pcm16(2, 44100)) == "PCM 16-bit stereo 44100 Hz");
  CHECK(audio::wav_format::pcm16(2, 8000).block_align() == 4);
  CHECK(audio::wav_format::pcm16(2, 8000).byte_rate() == 32000);
}
