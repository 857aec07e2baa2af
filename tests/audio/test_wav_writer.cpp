#include "audio/mulaw.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::wav_errc;
using audio::wav_format;
using audio::wav_writer;
using Catch::Matchers::Contains;

namespace {

// One Twilio media frame: 20 ms of μ-law at 8 kHz.
constexpr std::size_t frame_bytes = 160;

std::vector<std::uint8_t> pcm16_frames(std::size_t frames, std::uint16_t channels) {
  std::vector<std::uint8_t> bytes(frames * channels * 2);
  for (std::size_t i = 0; i < frames * channels; ++i) {
    const auto sample =
        static_cast<std::uint16_t>(static_cast<std::int16_t>((i * 997) % 20000) - 10000);
    bytes[2 * i] = static_cast<std::uint8_t>(sample & 0xFFu);
    bytes[2 * i + 1] = static_cast<std::uint8_t>(sample >> 8);
  }
  return bytes;
}

std::uint32_t le32_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return static_cast<std::uint32_t>(bytes[offset]) |
         (static_cast<std::uint32_t>(bytes[offset + 1]) << 8) |
         (static_cast<std::uint32_t>(bytes[offset + 2]) << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 3]) << 24);
}

}  // namespace

TEST_CASE("writer produces the mu-law header byte for byte", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("caller.wav");
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  const auto audio_bytes = t::mulaw_pattern(1000);
  REQUIRE(writer->append(audio_bytes).has_value());
  REQUIRE(writer->close().has_value());

  const auto file = t::read_bytes(path);
  const std::vector<std::uint8_t> expected_header{'R',
                                                  'I',
                                                  'F',
                                                  'F',
                                                  50 + 1000 & 0xFF,
                                                  (50 + 1000) >> 8,
                                                  0,
                                                  0,
                                                  'W',
                                                  'A',
                                                  'V',
                                                  'E',
                                                  'f',
                                                  'm',
                                                  't',
                                                  ' ',
                                                  18,
                                                  0,
                                                  0,
                                                  0,  // fmt chunk: WAVEFORMATEX, 18 bytes
                                                  7,
                                                  0,
                                                  1,
                                                  0,
                                                  0x40,
                                                  0x1F,
                                                  0,
                                                  0,  // μ-law, mono, 8000 Hz
                                                  0x40,
                                                  0x1F,
                                                  0,
                                                  0,
                                                  1,
                                                  0,
                                                  8,
                                                  0,
                                                  0,
                                                  0,  // 8000 B/s, align 1, 8 bits, cbSize 0
                                                  'f',
                                                  'a',
                                                  'c',
                                                  't',
                                                  4,
                                                  0,
                                                  0,
                                                  0,
                                                  1000 & 0xFF,
                                                  1000 >> 8,
                                                  0,
                                                  0,
                                                  'd',
                                                  'a',
                                                  't',
                                                  'a',
                                                  1000 & 0xFF,
                                                  1000 >> 8,
                                                  0,
                                                  0};
  REQUIRE(file.size() == 58 + 1000);
  CHECK(std::vector<std::uint8_t>(file.begin(), file.begin() + 58) == expected_header);
  CHECK(std::vector<std::uint8_t>(file.begin() + 58, file.end()) == audio_bytes);
}

TEST_CASE("writer produces the PCM header byte for byte", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("stereo.wav");
  auto writer = wav_writer::create(path, wav_format::pcm16(2, 8000));
  REQUIRE(writer.has_value());
  const auto audio_bytes = pcm16_frames(10, 2);
  REQUIRE(writer->append(audio_bytes).has_value());
  REQUIRE(writer->close().has_value());

  const auto file = t::read_bytes(path);
  const std::vector<std::uint8_t> expected_header{
      'R',  'I',  'F', 'F', 36 + 40, 0,    0, 0, 'W', 'A', 'V', 'E',
      'f',  'm',  't', ' ', 16,      0,    0, 0, 1,   0,   2,   0,
      0x40, 0x1F, 0,   0,   0x00,    0x7D, 0, 0, 4,   0,   16,  0,  // 32000 B/s, align 4, 16 bits
      'd',  'a',  't', 'a', 40,      0,    0, 0};
  REQUIRE(file.size() == 44 + 40);
  CHECK(std::vector<std::uint8_t>(file.begin(), file.begin() + 44) == expected_header);
}

TEST_CASE("mu-law recording opens in ffprobe and soxi", "[wav_writer][tools]") {
  t::scratch_dir dir;
  const auto path = dir.file("caller.wav");
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  // 2.5 s in 20 ms frames, as Twilio delivers them.
  for (int frame = 0; frame < 125; ++frame) {
    REQUIRE(writer->append(t::mulaw_pattern(frame_bytes, static_cast<std::uint8_t>(frame)))
                .has_value());
  }
  CHECK(writer->duration_ms() == 2500);
  REQUIRE(writer->close().has_value());

  const auto probe = t::run_ffprobe(path);
  REQUIRE(probe.has_value());
  CHECK(probe->codec_name == "pcm_mulaw");
  CHECK(probe->sample_rate == 8000);
  CHECK(probe->channels == 1);
  CHECK(probe->duration_s == Approx(2.5));

  const auto soxi = t::run_soxi(path);
  REQUIRE(soxi.has_value());
  CHECK(soxi->encoding == "u-law");
  CHECK(soxi->sample_rate == 8000);
  CHECK(soxi->channels == 1);
  CHECK(soxi->samples == 20000);
  CHECK(soxi->duration_s == Approx(2.5));
}

TEST_CASE("PCM mono and stereo outputs open in ffprobe and soxi", "[wav_writer][tools]") {
  t::scratch_dir dir;
  for (const std::uint16_t channels : {std::uint16_t{1}, std::uint16_t{2}}) {
    INFO(channels << " channels");
    const auto path = dir.file("pcm" + std::to_string(channels) + ".wav");
    auto writer = wav_writer::create(path, wav_format::pcm16(channels, 8000));
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(pcm16_frames(12000, channels)).has_value());  // 1.5 s
    REQUIRE(writer->close().has_value());

    const auto probe = t::run_ffprobe(path);
    REQUIRE(probe.has_value());
    CHECK(probe->codec_name == "pcm_s16le");
    CHECK(probe->sample_rate == 8000);
    CHECK(probe->channels == channels);
    CHECK(probe->duration_s == Approx(1.5));

    const auto soxi = t::run_soxi(path);
    REQUIRE(soxi.has_value());
    CHECK(soxi->encoding == "Signed Integer PCM");
    CHECK(soxi->sample_rate == 8000);
    CHECK(soxi->channels == channels);
    CHECK(soxi->samples == 12000);
    CHECK(soxi->duration_s == Approx(1.5));
  }
}

TEST_CASE("writer checkpoints after every 200 ms of audio", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("caller.wav");
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  const auto header_data_bytes = [&] {
    const auto info = audio::parse_wav_file(path);
    REQUIRE(info.has_value());
    return info->data_size_field;
  };
  CHECK(header_data_bytes() == 0);

  REQUIRE(writer->append(t::mulaw_pattern(1599)).has_value());
  CHECK(writer->checkpointed_bytes() == 0);
  CHECK(header_data_bytes() == 0);

  REQUIRE(writer->append(t::mulaw_pattern(1)).has_value());  // 1600 bytes = 200 ms
  CHECK(writer->checkpointed_bytes() == 1600);
  CHECK(writer->bytes_on_disk() == 1600);
  CHECK(header_data_bytes() == 1600);
  const auto file = t::read_bytes(path);
  CHECK(le32_at(file, 4) == 50 + 1600);  // RIFF size
  CHECK(le32_at(file, 46) == 1600);      // fact sample count

  // Less than 200 ms more: buffered, header unchanged.
  REQUIRE(writer->append(t::mulaw_pattern(800)).has_value());
  CHECK(writer->bytes_written() == 2400);
  CHECK(writer->checkpointed_bytes() == 1600);

  // flush_data writes the audio but leaves the header understating it.
  REQUIRE(writer->flush_data().has_value());
  CHECK(writer->bytes_on_disk() == 2400);
  CHECK(std::filesystem::file_size(path) == 58 + 2400);
  CHECK(header_data_bytes() == 1600);
  const auto understated = audio::parse_wav_file(path);
  REQUIRE(understated.has_value());
  CHECK(understated->data_bytes == 1600);

  REQUIRE(writer->checkpoint().has_value());
  CHECK(header_data_bytes() == 2400);

  // The next automatic checkpoint comes 200 ms of audio after the explicit one.
  REQUIRE(writer->append(t::mulaw_pattern(1599)).has_value());
  CHECK(writer->checkpointed_bytes() == 2400);
  REQUIRE(writer->append(t::mulaw_pattern(1)).has_value());
  CHECK(writer->checkpointed_bytes() == 4000);
}

TEST_CASE("writer buffers appends and writes in 8 KiB blocks", "[wav_writer]") {
  t::scratch_dir dir;
  // 48 kHz 16-bit mono: a second is 96000 bytes, so no checkpoint interferes below.
  auto writer = wav_writer::create(dir.file("b.wav"), wav_format::pcm16(1, 48000));
  REQUIRE(writer.has_value());
  for (std::size_t i = 0; i < wav_writer::buffer_bytes / 320; ++i) {
    REQUIRE(writer->append(pcm16_frames(160, 1)).has_value());
  }
  REQUIRE(writer->append(pcm16_frames((wav_writer::buffer_bytes % 320) / 2, 1)).has_value());
  CHECK(writer->bytes_written() == wav_writer::buffer_bytes);
  CHECK(writer->bytes_on_disk() == 0);
  REQUIRE(writer->append(pcm16_frames(1, 1)).has_value());
  CHECK(writer->bytes_on_disk() == wav_writer::buffer_bytes);
  CHECK(writer->bytes_written() == wav_writer::buffer_bytes + 2);
  CHECK(writer->checkpointed_bytes() == 0);
}

TEST_CASE("a call track's writer buffers one checkpoint interval, not 8 KiB", "[wav_writer]") {
  t::scratch_dir dir;
  auto track = wav_writer::create(dir.file("caller.wav"), wav_format::mulaw_8k_mono());
  REQUIRE(track.has_value());
  CHECK(track->buffer_capacity() == 1600);  // 200 ms of μ-law 8 kHz
  // A batch larger than the buffer goes through in buffer-sized writes, none lost.
  REQUIRE(track->append(t::mulaw_pattern(5000)).has_value());
  CHECK(track->bytes_written() == 5000);
  CHECK(track->bytes_on_disk() == 5000);  // the checkpoint at the end wrote the rest
  CHECK(track->checkpointed_bytes() == 5000);
  auto mix = wav_writer::create(dir.file("stereo.wav"), wav_format::pcm16(2, 8000));
  REQUIRE(mix.has_value());
  CHECK(mix->buffer_capacity() == 6400);  // 200 ms of 8 kHz 16-bit stereo
  auto wide = wav_writer::create(dir.file("wide.wav"), wav_format::pcm16(1, 48000));
  REQUIRE(wide.has_value());
  CHECK(wide->buffer_capacity() == wav_writer::buffer_bytes);  // 19200 B a checkpoint: 8 KiB
}

TEST_CASE("writer never overwrites an existing file", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("exists.wav");
  const std::vector<std::uint8_t> original{'k', 'e', 'e', 'p'};
  t::write_bytes(path, original);
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_error());
  CHECK(writer.error().code == wav_errc::already_exists);
  CHECK_THAT(writer.error().message, Contains(path));
  CHECK(t::read_bytes(path) == original);
}

TEST_CASE("writer reports paths it cannot create", "[wav_writer]") {
  t::scratch_dir dir;
  SECTION("missing directory") {
    const auto path = dir.file("no/such/dir/a.wav");
    auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_error());
    CHECK(writer.error().code == wav_errc::cannot_open);
    CHECK_THAT(writer.error().message, Contains(path));
  }
  SECTION("directory without write permission") {
    const auto locked = dir.path() / "locked";
    std::filesystem::create_directory(locked);
    std::filesystem::permissions(
        locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
                    std::filesystem::perms::others_read | std::filesystem::perms::others_exec);
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    const auto path = (locked / "a.wav").string();
    CHECK(t::run_unprivileged([&] {
      auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
      return writer.has_error() && writer.error().code == wav_errc::cannot_open &&
             writer.error().message.find("Permission denied") != std::string::npos;
    }));
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("writer refuses formats it does not write", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("f.wav");
  for (const wav_format format :
       {wav_format{3, 1, 8000, 32}, wav_format{1, 1, 8000, 24}, wav_format{7, 1, 8000, 16},
        wav_format{1, 3, 8000, 16}, wav_format{1, 1, 0, 16}}) {
    auto writer = wav_writer::create(path, format);
    REQUIRE(writer.has_error());
    CHECK(writer.error().code == wav_errc::unsupported_format);
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("append takes whole sample frames only", "[wav_writer]") {
  t::scratch_dir dir;
  auto writer = wav_writer::create(dir.file("s.wav"), wav_format::pcm16(2, 8000));
  REQUIRE(writer.has_value());
  const std::vector<std::uint8_t> three_bytes{1, 2, 3};
  const auto appended = writer->append(three_bytes);
  REQUIRE(appended.has_error());
  CHECK(appended.error().code == wav_errc::invalid_argument);
  CHECK_THAT(appended.error().message, Contains("4-byte frames"));
  CHECK(writer->bytes_written() == 0);
  CHECK(writer->append(pcm16_frames(3, 2)).has_value());
  CHECK(writer->bytes_written() == 12);
}

TEST_CASE("append_silence writes the format's silence", "[wav_writer]") {
  t::scratch_dir dir;
  SECTION("mu-law silence is 0xFF") {
    const auto path = dir.file("m.wav");
    auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_value());
    REQUIRE(writer->append_silence(3000).has_value());
    CHECK(writer->bytes_written() == 3000);
    REQUIRE(writer->close().has_value());
    const auto file = t::read_bytes(path);
    REQUIRE(file.size() == 58 + 3000);
    CHECK(std::all_of(file.begin() + 58, file.end(), [](std::uint8_t b) { return b == 0xFF; }));
  }
  SECTION("PCM silence is zeros, counted in frames") {
    const auto path = dir.file("p.wav");
    auto writer = wav_writer::create(path, wav_format::pcm16(2, 8000));
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(std::vector<std::uint8_t>(4, 0x55)).has_value());
    REQUIRE(writer->append_silence(1000).has_value());
    CHECK(writer->bytes_written() == 4 + 4000);
    REQUIRE(writer->close().has_value());
    const auto file = t::read_bytes(path);
    REQUIRE(file.size() == 44 + 4004);
    CHECK(std::all_of(file.begin() + 48, file.end(), [](std::uint8_t b) { return b == 0; }));
  }
}

TEST_CASE("an odd-sized data chunk gets its pad byte on close", "[wav_writer][tools]") {
  t::scratch_dir dir;
  const auto path = dir.file("odd.wav");
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  REQUIRE(writer->append(t::mulaw_pattern(801)).has_value());
  REQUIRE(writer->close().has_value());
  const auto file = t::read_bytes(path);
  CHECK(file.size() == 58 + 801 + 1);
  CHECK(le32_at(file, 4) == file.size() - 8);
  CHECK(le32_at(file, 54) == 801);
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 801);
  const auto soxi = t::run_soxi(path);
  REQUIRE(soxi.has_value());
  CHECK(soxi->samples == 801);
}

TEST_CASE("a closed writer refuses appends and closes once", "[wav_writer]") {
  t::scratch_dir dir;
  auto writer = wav_writer::create(dir.file("c.wav"), wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());
  REQUIRE(writer->close().has_value());
  CHECK_FALSE(writer->is_open());
  const auto appended = writer->append(t::mulaw_pattern(10));
  REQUIRE(appended.has_error());
  CHECK(appended.error().code == wav_errc::closed);
  CHECK(writer->checkpoint().error().code == wav_errc::closed);
  CHECK(writer->flush_data().error().code == wav_errc::closed);
  CHECK(writer->append_silence(1).error().code == wav_errc::closed);
  CHECK(writer->close().has_value());
}

TEST_CASE("a moved writer keeps writing and the moved-from one is closed", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("m.wav");
  auto created = wav_writer::create(path, wav_format::mulaw_8k_mono());
  REQUIRE(created.has_value());
  REQUIRE(created->append(t::mulaw_pattern(100)).has_value());
  wav_writer moved(std::move(*created));
  CHECK(created->append(t::mulaw_pattern(1)).error().code ==
        wav_errc::closed);  // NOLINT(bugprone-use-after-move)
  REQUIRE(moved.append(t::mulaw_pattern(100)).has_value());
  CHECK(moved.bytes_written() == 200);

  auto other = wav_writer::create(dir.file("o.wav"), wav_format::mulaw_8k_mono());
  REQUIRE(other.has_value());
  REQUIRE(other->append(t::mulaw_pattern(30)).has_value());
  // Assigning over a live writer closes it first, finalising its header.
  *other = std::move(moved);
  const auto replaced = audio::parse_wav_file(dir.file("o.wav"));
  REQUIRE(replaced.has_value());
  CHECK(replaced->data_bytes == 30);
  REQUIRE(other->close().has_value());
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 200);
}

TEST_CASE("the destructor finalises the header", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("d.wav");
  {
    auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(t::mulaw_pattern(123)).has_value());
  }
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 123);
}

// A write error (here EFBIG from RLIMIT_FSIZE, standing in for a full disk) comes back as a
// value, sticks, and close() still leaves a header that matches the audio in the file. Run in a
// child so the file size limit does not reach the rest of the tests.
TEST_CASE("write errors are values and leave a consistent file", "[wav_writer]") {
  t::scratch_dir dir;
  const auto path = dir.file("full.wav");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    const rlimit limit{4096, 4096};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
      ::_exit(10);
    }
    auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
    if (!writer) {
      ::_exit(11);
    }
    const auto appended = writer->append(t::mulaw_pattern(20000));
    if (appended || appended.error().code != wav_errc::io_error ||
        appended.error().message.find("File too large") == std::string::npos) {
      ::_exit(12);
    }
    // The failure sticks.
    const auto again = writer->append(t::mulaw_pattern(1));
    if (again || again.error().code != wav_errc::io_error) {
      ::_exit(13);
    }
    if (writer->close()) {
      ::_exit(14);  // close reports the earlier failure
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->file_size == 4096);
  CHECK(info->data_bytes == 4096 - 58);
  CHECK(info->fact_sample_count == 4096 - 58);
}
