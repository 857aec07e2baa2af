// The file layer's fault switch (a test hook: SWITCHBOARD_FAULT_DISK) and what the writers leave
// on a disk that fills under them: a WAV whose header matches the audio that reached it, and
// small files that are whole or absent.
#include "audio/disk_fault.hpp"
#include "audio/posix_file.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio/whole_file.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::wav_errc;
using Catch::Matchers::Contains;

namespace {

using audio::scoped_disk_fault;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> names_in(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr std::uint64_t mulaw_header_bytes = 58;

}  // namespace

TEST_CASE("disk fault descriptions are read, or refused with the reason", "[disk_fault]") {
  std::string error;
  auto full = audio::parse_disk_fault("enospc-after:4096", error);
  REQUIRE(full.has_value());
  CHECK(full->enospc_after_bytes == 4096u);
  CHECK(full->delay.count() == 0);

  auto both = audio::parse_disk_fault("delay-ms:25,enospc-after:0", error);
  REQUIRE(both.has_value());
  CHECK(both->enospc_after_bytes == 0u);
  CHECK(both->delay.count() == 25);

  for (const char* wrong : {"", "enospc-after", "enospc-after:", "enospc-after:12k", "delay-ms:-1",
                            "fill:10", "delay-ms:5,"}) {
    INFO(wrong);
    error.clear();
    CHECK_FALSE(audio::parse_disk_fault(wrong, error).has_value());
    CHECK_FALSE(error.empty());
  }
  CHECK_FALSE(audio::current_disk_fault().has_value());  // off unless a test turns it on
}

TEST_CASE("a disk that fills mid-recording leaves a WAV whose header counts the audio on disk",
          "[disk_fault][wav_writer]") {
  // Even and odd amounts of audio before the disk is full: an odd data chunk has no room for
  // its pad byte.
  const std::uint64_t audio_that_fits = GENERATE(5000u, 5001u);
  INFO("audio that fits: " << audio_that_fits);
  t::scratch_dir dir;
  const auto path = dir.file("caller.wav");
  scoped_disk_fault full({.enospc_after_bytes = mulaw_header_bytes + audio_that_fits});
  auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
  REQUIRE(writer.has_value());

  const auto frame = t::mulaw_pattern(160);
  std::optional<audio::wav_error> failure;
  for (int i = 0; i < 100 && !failure; ++i) {  // 2 s of 20 ms frames
    if (auto appended = writer->append(frame); !appended)
      failure = appended.error();
  }
  REQUIRE(failure.has_value());
  CHECK(failure->code == wav_errc::disk_full);
  CHECK_THAT(failure->message, Contains(path));
  CHECK(writer->bytes_on_disk() == audio_that_fits);
  // Closing rewrites the header in place (no growth), so it works on the full disk; the error
  // it returns is the one that failed the writer.
  CHECK_FALSE(writer->close().has_value());

  const auto file = t::read_bytes(path);
  REQUIRE(file.size() == mulaw_header_bytes + audio_that_fits);
  const auto data_size = static_cast<std::uint64_t>(file[54]) | (std::uint64_t{file[55]} << 8) |
                         (std::uint64_t{file[56]} << 16) | (std::uint64_t{file[57]} << 24);
  CHECK(data_size == audio_that_fits);
  const auto soxi = t::run_soxi(path);
  REQUIRE(soxi.has_value());
  CHECK(soxi->samples == audio_that_fits);
  const auto probe = t::run_ffprobe(path);
  REQUIRE(probe.has_value());
  CHECK(probe->codec_name == "pcm_mulaw");
}

TEST_CASE("a file written whole or not at all: a full disk leaves no file and no temporary one",
          "[disk_fault][whole_file]") {
  t::scratch_dir dir;
  const auto path = dir.file("call.json");
  const std::string content(10000, 'x');
  {
    scoped_disk_fault full({.enospc_after_bytes = 4000});
    auto written = audio::write_whole_file(path, content, audio::if_file_exists::fail);
    REQUIRE_FALSE(written.has_value());
    CHECK(written.error().code == wav_errc::disk_full);
    CHECK_THAT(written.error().message, Contains(path));
    CHECK(names_in(dir.path()).empty());  // neither call.json nor a .partial beside it
  }
  auto written = audio::write_whole_file(path, content, audio::if_file_exists::fail);
  REQUIRE(written.has_value());
  CHECK(*written == content.size());
  CHECK(read_text(path) == content);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"call.json"});

  SECTION("an existing file is never replaced in fail mode") {
    auto again = audio::write_whole_file(path, "other", audio::if_file_exists::fail);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == wav_errc::already_exists);
    CHECK(read_text(path) == content);
    CHECK(names_in(dir.path()) == std::vector<std::string>{"call.json"});
  }
  SECTION("a replacement that does not fit leaves the old file as it was") {
    scoped_disk_fault full({.enospc_after_bytes = 100});
    auto replaced =
        audio::write_whole_file(path, std::string(5000, 'y'), audio::if_file_exists::replace);
    REQUIRE_FALSE(replaced.has_value());
    CHECK(read_text(path) == content);
    CHECK(names_in(dir.path()) == std::vector<std::string>{"call.json"});
  }
  SECTION("a replacement that fits is seen whole") {
    auto replaced = audio::write_whole_file(path, "{}\n", audio::if_file_exists::replace);
    REQUIRE(replaced.has_value());
    CHECK(read_text(path) == "{}\n");
  }
}

TEST_CASE("a file that cannot be created is reported with its path", "[whole_file]") {
  t::scratch_dir dir;
  const auto path = (dir.path() / "missing-directory" / "call.json").string();
  auto written = audio::write_whole_file(path, "{}", audio::if_file_exists::fail);
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().code == wav_errc::cannot_open);
  CHECK_THAT(written.error().message, Contains(path));
}

TEST_CASE("the disk fault's budget is shared by every file and spent only on growth",
          "[disk_fault]") {
  t::scratch_dir dir;
  scoped_disk_fault full({.enospc_after_bytes = 3000});
  REQUIRE(
      audio::write_whole_file(dir.file("a"), std::string(2000, 'a'), audio::if_file_exists::fail)
          .has_value());
  REQUIRE(audio::current_disk_fault()->enospc_after_bytes == 1000u);
  // 1500 bytes do not fit into the 1000 left, wherever they go.
  CHECK_FALSE(
      audio::write_whole_file(dir.file("b"), std::string(1500, 'b'), audio::if_file_exists::fail)
          .has_value());
  // Rewriting bytes a file already has needs no space: a WAV header can still be finalised.
  auto fd = audio::detail::open_existing(dir.file("a"), true);
  REQUIRE(fd.has_value());
  const std::vector<std::uint8_t> rewrite(2000, 'z');
  std::size_t written = 0;
  CHECK(audio::detail::pwrite_all(fd->get(), rewrite, 0, dir.file("a"), written).has_value());
  CHECK(written == 2000);
}

TEST_CASE("space a failed write took comes back when its temporary file is removed",
          "[disk_fault][whole_file]") {
  t::scratch_dir dir;
  scoped_disk_fault full({.enospc_after_bytes = 3000});
  // 3000 of 4000 bytes reach the temporary file before the disk is full; removing it frees them.
  REQUIRE_FALSE(
      audio::write_whole_file(dir.file("big"), std::string(4000, 'b'), audio::if_file_exists::fail)
          .has_value());
  CHECK(audio::current_disk_fault()->enospc_after_bytes == 3000u);
  REQUIRE(audio::write_whole_file(dir.file("small"), std::string(2000, 's'),
                                  audio::if_file_exists::fail)
              .has_value());
  CHECK(audio::current_disk_fault()->enospc_after_bytes == 1000u);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"small"});
}

TEST_CASE("the delay fault slows writes and syncs down but changes nothing written",
          "[disk_fault]") {
  t::scratch_dir dir;
  scoped_disk_fault slow({.delay = std::chrono::milliseconds(1)});
  REQUIRE(audio::current_disk_fault().has_value());
  CHECK(audio::current_disk_fault()->delay.count() == 1);
  CHECK_FALSE(audio::current_disk_fault()->enospc_after_bytes.has_value());
  REQUIRE(audio::write_whole_file(dir.file("slow.json"), "{\"a\":1}\n", audio::if_file_exists::fail)
              .has_value());
  CHECK(read_text(dir.file("slow.json")) == "{\"a\":1}\n");
}
