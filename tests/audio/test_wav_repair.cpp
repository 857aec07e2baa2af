#include "audio/wav_format.hpp"
#include "audio/wav_repair.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::wav_errc;
using Catch::Matchers::Contains;

namespace {

std::uint32_t le32_at(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  return static_cast<std::uint32_t>(bytes[offset]) |
         (static_cast<std::uint32_t>(bytes[offset + 1]) << 8) |
         (static_cast<std::uint32_t>(bytes[offset + 2]) << 16) |
         (static_cast<std::uint32_t>(bytes[offset + 3]) << 24);
}

/// A μ-law file as our writer lays it out, with the header stating `header_bytes` of audio while
/// `audio_bytes` follow.
std::vector<std::uint8_t> mulaw_file(std::size_t audio_bytes, std::uint32_t header_bytes) {
  const auto audio_data = t::mulaw_pattern(audio_bytes);
  return t::wav_builder()
      .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
      .fact(header_bytes == 0xFFFFFFFFu ? 0 : header_bytes)
      .data(audio_data, header_bytes)
      .riff_size(header_bytes == 0xFFFFFFFFu ? 0xFFFFFFFFu : 50 + header_bytes)
      .bytes();
}

/// Reads exactly out.size() bytes from a pipe; false on EOF or error.
bool read_exact(int fd, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = ::read(fd, out.data() + done, out.size() - done);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

TEST_CASE("repair leaves a consistent file untouched", "[wav_repair]") {
  t::scratch_dir dir;
  const auto path = dir.file("ok.wav");
  {
    auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(t::mulaw_pattern(12345)).has_value());
    REQUIRE(writer->close().has_value());
  }
  const auto before = t::read_bytes(path);
  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->changed);
  CHECK(report->summary == "already consistent");
  CHECK(report->old_data_bytes == 12345);
  CHECK(report->new_data_bytes == 12345);
  CHECK(t::read_bytes(path) == before);

  SECTION("even when the file is read-only") {
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::group_read |
                                           std::filesystem::perms::others_read);
    std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
    CHECK(t::run_unprivileged([&] {
      const auto again = audio::repair_wav(path);
      return again.has_value() && !again->changed;
    }));
  }
}

TEST_CASE("repair extends the sizes to the audio in the file", "[wav_repair]") {
  t::scratch_dir dir;
  const auto path = dir.file("dead.wav");
  t::write_bytes(path, mulaw_file(3000, 1000));
  const auto before = t::read_bytes(path);

  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK(report->changed);
  CHECK(report->old_data_bytes == 1000);
  CHECK(report->new_data_bytes == 3000);
  CHECK_THAT(report->summary, Contains("1000 -> 3000"));

  const auto after = t::read_bytes(path);
  REQUIRE(after.size() == before.size());
  CHECK(le32_at(after, 4) == 50 + 3000);
  CHECK(le32_at(after, 46) == 3000);  // fact
  CHECK(le32_at(after, 54) == 3000);  // data
  // Only the three size fields changed.
  std::size_t changed_bytes = 0;
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (after[i] != before[i]) {
      const bool in_field = (i >= 4 && i < 8) || (i >= 46 && i < 50) || (i >= 54 && i < 58);
      CHECK(in_field);
      ++changed_bytes;
    }
  }
  CHECK(changed_bytes > 0);
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 3000);

  const auto again = audio::repair_wav(path);
  REQUIRE(again.has_value());
  CHECK_FALSE(again->changed);
}

TEST_CASE("repair finalises sizes a streaming writer left open", "[wav_repair]") {
  t::scratch_dir dir;
  const auto path = dir.file("stream.wav");
  t::write_bytes(path, mulaw_file(2000, 0xFFFFFFFFu));
  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK(report->changed);
  CHECK(report->new_data_bytes == 2000);
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->size_finalised);
  CHECK(info->data_bytes == 2000);
  CHECK(info->fact_sample_count == 2000);
}

TEST_CASE("repair shrinks sizes that overstate a cut file", "[wav_repair]") {
  t::scratch_dir dir;
  const auto path = dir.file("cut.wav");
  t::write_bytes(path, mulaw_file(500, 9000));
  REQUIRE(audio::parse_wav_file(path).error().code == wav_errc::truncated);
  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK(report->old_data_bytes == 9000);
  CHECK(report->new_data_bytes == 500);
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  CHECK(info->data_bytes == 500);
}

TEST_CASE("repair counts whole frames and no pad byte that is not there", "[wav_repair]") {
  t::scratch_dir dir;
  SECTION("odd mu-law length") {
    const auto path = dir.file("odd.wav");
    t::write_bytes(path, mulaw_file(301, 0));
    const auto report = audio::repair_wav(path);
    REQUIRE(report.has_value());
    CHECK(report->new_data_bytes == 301);
    const auto after = t::read_bytes(path);
    CHECK(le32_at(after, 4) == 50 + 301);
    REQUIRE(audio::parse_wav_file(path).has_value());
  }
  SECTION("a partial stereo frame at the end is left out") {
    const auto path = dir.file("stereo.wav");
    const std::vector<std::uint8_t> pcm(4003, 0x11);
    t::write_bytes(path, t::wav_builder()
                             .fmt(audio::wave_format_pcm, 2, 8000, 16)
                             .data(pcm, 0)
                             .riff_size(36)
                             .bytes());
    const auto report = audio::repair_wav(path);
    REQUIRE(report.has_value());
    CHECK(report->new_data_bytes == 4000);
    const auto after = t::read_bytes(path);
    CHECK(le32_at(after, 4) == 36 + 4000);
    const auto info = audio::parse_wav_file(path);
    REQUIRE(info.has_value());
    CHECK(info->frames() == 1000);
  }
}

TEST_CASE("repair keeps chunks that the RIFF size declares after the data", "[wav_repair]") {
  t::scratch_dir dir;
  const auto path = dir.file("list.wav");
  const std::vector<std::uint8_t> list{'I', 'N', 'F', 'O', 'a', 'b', 'c', 'd'};
  t::write_bytes(path, t::wav_builder()
                           .fmt(audio::wave_format_pcm, 1, 8000, 16)
                           .data(std::vector<std::uint8_t>(200, 0))
                           .chunk("LIST", list)
                           .bytes());
  const auto before = t::read_bytes(path);
  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->changed);
  CHECK(t::read_bytes(path) == before);
}

TEST_CASE("repair refuses files that are not ours to fix", "[wav_repair]") {
  t::scratch_dir dir;
  const auto expect = [](const std::string& path, wav_errc code) {
    const auto report = audio::repair_wav(path);
    REQUIRE(report.has_error());
    CHECK(report.error().code == code);
    CHECK_THAT(report.error().message, Contains(path));
  };
  SECTION("missing") {
    expect(dir.file("missing.wav"), wav_errc::cannot_open);
  }
  SECTION("empty") {
    t::write_bytes(dir.file("e.wav"), {});
    expect(dir.file("e.wav"), wav_errc::not_riff_wave);
  }
  SECTION("not a WAV") {
    const std::vector<std::uint8_t> text{'#', '!', '/',  'b', 'i', 'n', '/',
                                         's', 'h', '\n', 'x', 'y', 'z'};
    t::write_bytes(dir.file("t.wav"), text);
    expect(dir.file("t.wav"), wav_errc::not_riff_wave);
    CHECK(t::read_bytes(dir.file("t.wav")) == text);
  }
  SECTION("no fmt chunk") {
    t::write_bytes(dir.file("nf.wav"), t::wav_builder().data(t::mulaw_pattern(10)).bytes());
    expect(dir.file("nf.wav"), wav_errc::no_fmt_chunk);
  }
  SECTION("no data chunk header") {
    t::write_bytes(dir.file("nd.wav"),
                   t::wav_builder().fmt(audio::wave_format_mulaw, 1, 8000, 8).bytes());
    expect(dir.file("nd.wav"), wav_errc::no_data_chunk);
  }
}

// The recorder process dies (SIGKILL) with audio on disk past its last checkpoint. The file must
// open in sox and ffprobe at the checkpointed length, and repair must recover the rest.
// Synchronisation is by pipes only: the child reports once its audio is on disk, then blocks.
TEST_CASE("a writer killed mid-recording leaves a playable file that repair completes",
          "[wav_repair][crash][tools]") {
  t::scratch_dir dir;
  const auto path = dir.file("killed.wav");
  constexpr std::size_t frame_bytes = 160;     // 20 ms of μ-law
  constexpr std::size_t checkpointed = 11200;  // the last automatic checkpoint, at 1.4 s
  constexpr std::size_t total_frames = 75;     // 1.5 s = 12000 bytes

  std::array<int, 2> report_pipe{};
  std::array<int, 2> hold_pipe{};
  REQUIRE(::pipe(report_pipe.data()) == 0);
  REQUIRE(::pipe(hold_pipe.data()) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(report_pipe[0]);
    ::close(hold_pipe[1]);
    std::array<std::uint64_t, 2> on_disk_and_header{0, 0};
    auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
    bool ok = writer.has_value();
    for (std::size_t frame = 0; ok && frame < total_frames; ++frame) {
      ok = writer->append(t::mulaw_pattern(frame_bytes, static_cast<std::uint8_t>(frame)))
               .has_value();
    }
    ok = ok && writer->flush_data().has_value();
    if (ok) {
      on_disk_and_header = {writer->bytes_on_disk(), writer->checkpointed_bytes()};
    }
    (void)!::write(report_pipe[1], on_disk_and_header.data(), sizeof(on_disk_and_header));
    std::uint8_t never = 0;
    (void)!::read(hold_pipe[0], &never, 1);  // blocks until the parent kills us
    ::_exit(1);
  }
  ::close(report_pipe[1]);
  ::close(hold_pipe[0]);
  std::array<std::uint64_t, 2> on_disk_and_header{};
  std::array<std::uint8_t, sizeof(on_disk_and_header)> report_bytes{};
  const bool reported = read_exact(report_pipe[0], report_bytes);
  std::memcpy(on_disk_and_header.data(), report_bytes.data(), report_bytes.size());
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(report_pipe[0]);
  ::close(hold_pipe[1]);
  REQUIRE(reported);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  REQUIRE(on_disk_and_header[0] == total_frames * frame_bytes);
  REQUIRE(on_disk_and_header[1] == checkpointed);
  REQUIRE(std::filesystem::file_size(path) == 58 + total_frames * frame_bytes);

  // As the dead writer left it: playable, at the checkpointed length.
  const auto soxi_before = t::run_soxi(path);
  REQUIRE(soxi_before.has_value());
  CHECK(soxi_before->samples == checkpointed);
  CHECK(soxi_before->duration_s == Approx(1.4));
  const auto probe_before = t::run_ffprobe(path);
  REQUIRE(probe_before.has_value());
  CHECK(probe_before->codec_name == "pcm_mulaw");
  CHECK(probe_before->duration_s == Approx(1.4));

  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK(report->changed);
  CHECK(report->old_data_bytes == checkpointed);
  CHECK(report->new_data_bytes == total_frames * frame_bytes);

  const auto soxi_after = t::run_soxi(path);
  REQUIRE(soxi_after.has_value());
  CHECK(soxi_after->samples == total_frames * frame_bytes);
  CHECK(soxi_after->duration_s == Approx(1.5));
  const auto probe_after = t::run_ffprobe(path);
  REQUIRE(probe_after.has_value());
  CHECK(probe_after->duration_s == Approx(1.5));
}

// The same death without the flush: what the writer had appended but not yet written is lost,
// and that is less than 200 ms of audio (one checkpoint interval) wherever the kill falls. The
// header left behind counts every byte on disk, so repair finds nothing to add.
TEST_CASE("a writer killed at any moment loses less than 200 ms of what it was given",
          "[wav_repair][crash][tools]") {
  constexpr std::size_t frame_bytes = 160;      // 20 ms of μ-law
  constexpr std::size_t interval_bytes = 1600;  // 200 ms
  const std::size_t frames = GENERATE(1u, 9u, 10u, 11u, 75u, 149u, 500u);
  INFO(frames << " frames appended before the kill");
  t::scratch_dir dir;
  const auto path = dir.file("killed.wav");

  std::array<int, 2> report_pipe{};
  std::array<int, 2> hold_pipe{};
  REQUIRE(::pipe(report_pipe.data()) == 0);
  REQUIRE(::pipe(hold_pipe.data()) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(report_pipe[0]);
    ::close(hold_pipe[1]);
    std::array<std::uint64_t, 1> appended{0};
    auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
    bool ok = writer.has_value();
    for (std::size_t frame = 0; ok && frame < frames; ++frame) {
      ok = writer->append(t::mulaw_pattern(frame_bytes, static_cast<std::uint8_t>(frame)))
               .has_value();
    }
    if (ok)
      appended[0] = writer->bytes_written();
    (void)!::write(report_pipe[1], appended.data(), sizeof(appended));
    std::uint8_t never = 0;
    (void)!::read(hold_pipe[0], &never, 1);  // blocks until the parent kills us
    ::_exit(1);
  }
  ::close(report_pipe[1]);
  ::close(hold_pipe[0]);
  std::array<std::uint64_t, 1> appended{};
  std::array<std::uint8_t, sizeof(appended)> report_bytes{};
  const bool reported = read_exact(report_pipe[0], report_bytes);
  std::memcpy(appended.data(), report_bytes.data(), report_bytes.size());
  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  ::close(report_pipe[0]);
  ::close(hold_pipe[1]);
  REQUIRE(reported);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(appended[0] == frames * frame_bytes);

  const auto on_disk = std::filesystem::file_size(path) - 58;
  CHECK(appended[0] - on_disk < interval_bytes);
  const auto soxi = t::run_soxi(path);
  REQUIRE(soxi.has_value());
  CHECK(soxi->samples == on_disk);  // the header counts all of it
  const auto report = audio::repair_wav(path);
  REQUIRE(report.has_value());
  CHECK_FALSE(report->changed);
}
