#include "audio/mixer.hpp"
#include "audio/mulaw.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;
using audio::wav_errc;
using Catch::Matchers::Contains;

namespace {

std::set<std::string> names_in(const std::filesystem::path& directory) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

/// The PCM samples of a WAV file we wrote (header parsed by the library, bytes read here).
std::vector<std::int16_t> pcm_samples(const std::string& path) {
  const auto info = audio::parse_wav_file(path);
  REQUIRE(info.has_value());
  const auto file = t::read_bytes(path);
  const auto data =
      std::span<const std::uint8_t>(file).subspan(info->data_offset, info->data_bytes);
  std::vector<std::int16_t> samples(data.size() / 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = t::le16_at(data, i);
  }
  return samples;
}

/// One channel of a WAV file, extracted by sox to raw 16-bit little-endian.
std::vector<std::int16_t> sox_channel(const std::string& path, int channel,
                                      const std::string& raw_path) {
  const auto sox = t::run_command("sox " + t::shell_quote(path) + " -t raw -e signed -b 16 -L " +
                                  t::shell_quote(raw_path) + " remix " + std::to_string(channel));
  REQUIRE(sox.exit_status == 0);
  const auto bytes = t::read_bytes(raw_path);
  std::vector<std::int16_t> samples(bytes.size() / 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = t::le16_at(bytes, i);
  }
  return samples;
}

}  // namespace

TEST_CASE("mix puts the caller left and the agent right, padded with silence", "[mixer][tools]") {
  t::scratch_dir dir;
  // Lengths not a multiple of the block size, agent shorter: exercises padding across blocks.
  const auto caller_codes = t::mulaw_pattern(10001, 0);
  const auto agent_codes = t::mulaw_pattern(6003, 100);
  t::write_mulaw_wav(dir.file("caller.wav"), caller_codes);
  t::write_mulaw_wav(dir.file("agent.wav"), agent_codes);
  const auto out = (dir.path() / "mix" / "nested").string();  // created by the mixer

  const auto report = audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), out);
  REQUIRE(report.has_value());
  CHECK(report->caller_samples == 10001);
  CHECK(report->agent_samples == 6003);
  CHECK(report->frames == 10001);
  CHECK(report->duration_ms == 1250);
  CHECK(report->stereo_path == out + "/stereo.wav");
  CHECK(report->mono_path == out + "/mono.wav");
  CHECK(names_in(out) == std::set<std::string>{"stereo.wav", "mono.wav"});  // no temporaries

  const auto expected_left = [&](std::size_t i) {
    return audio::decode_mulaw(caller_codes[i]);
  };
  const auto expected_right = [&](std::size_t i) -> std::int16_t {
    return i < agent_codes.size() ? audio::decode_mulaw(agent_codes[i]) : std::int16_t{0};
  };

  const auto stereo = pcm_samples(report->stereo_path);
  REQUIRE(stereo.size() == std::size_t{2} * 10001);
  const auto mono = pcm_samples(report->mono_path);
  REQUIRE(mono.size() == 10001);
  for (std::size_t i = 0; i < 10001; ++i) {
    INFO("frame " << i);
    REQUIRE(stereo[2 * i] == expected_left(i));
    REQUIRE(stereo[2 * i + 1] == expected_right(i));
    const int sum = std::clamp(int{expected_left(i)} + int{expected_right(i)}, -32768, 32767);
    REQUIRE(mono[i] == sum);
  }

  // sox agrees on which channel is which.
  const auto left = sox_channel(report->stereo_path, 1, dir.file("left.raw"));
  const auto right = sox_channel(report->stereo_path, 2, dir.file("right.raw"));
  REQUIRE(left.size() == 10001);
  REQUIRE(right.size() == 10001);
  for (std::size_t i = 0; i < 10001; ++i) {
    INFO("frame " << i);
    REQUIRE(left[i] == expected_left(i));
    REQUIRE(right[i] == expected_right(i));
  }
}

TEST_CASE("mix outputs open in ffprobe and soxi", "[mixer][tools]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("caller.wav"), t::mulaw_pattern(8000));
  t::write_mulaw_wav(dir.file("agent.wav"), t::mulaw_pattern(16000, 9));
  const auto report =
      audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), dir.file("out"));
  REQUIRE(report.has_value());
  for (const auto& [path, channels] :
       {std::pair{report->stereo_path, 2u}, std::pair{report->mono_path, 1u}}) {
    INFO(path);
    const auto probe = t::run_ffprobe(path);
    REQUIRE(probe.has_value());
    CHECK(probe->codec_name == "pcm_s16le");
    CHECK(probe->sample_rate == 8000);
    CHECK(probe->channels == channels);
    CHECK(probe->duration_s == Approx(2.0));
    const auto soxi = t::run_soxi(path);
    REQUIRE(soxi.has_value());
    CHECK(soxi->encoding == "Signed Integer PCM");
    CHECK(soxi->sample_rate == 8000);
    CHECK(soxi->channels == channels);
    CHECK(soxi->samples == 16000);
    CHECK(soxi->duration_s == Approx(2.0));
  }
}

TEST_CASE("the mono mix saturates loud tracks instead of wrapping", "[mixer]") {
  t::scratch_dir dir;
  // Full-scale positive, then full-scale negative, then opposite signs (no clipping).
  std::vector<std::uint8_t> loud(300, 0x80);
  std::fill(loud.begin() + 100, loud.begin() + 200, std::uint8_t{0x00});
  std::vector<std::uint8_t> other = loud;
  std::fill(other.begin() + 200, other.end(), std::uint8_t{0x00});
  t::write_mulaw_wav(dir.file("caller.wav"), loud);
  t::write_mulaw_wav(dir.file("agent.wav"), other);
  const auto report =
      audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), dir.file("out"));
  REQUIRE(report.has_value());
  CHECK(report->clipped_samples == 200);
  const auto mono = pcm_samples(report->mono_path);
  REQUIRE(mono.size() == 300);
  for (std::size_t i = 0; i < 100; ++i) {
    REQUIRE(mono[i] == 32767);  // 32124 + 32124 would wrap to -1288
  }
  for (std::size_t i = 100; i < 200; ++i) {
    REQUIRE(mono[i] == -32768);
  }
  for (std::size_t i = 200; i < 300; ++i) {
    REQUIRE(mono[i] == 0);  // 32124 - 32124
  }
}

TEST_CASE("mix refuses inputs that are not mu-law mono 8 kHz", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("good.wav"), t::mulaw_pattern(100));
  const auto expect = [&](const std::string& caller, const std::string& agent, const char* role,
                          const char* found) {
    const auto report = audio::mix_tracks(caller, agent, dir.file("out"));
    REQUIRE(report.has_error());
    CHECK(report.error().code == wav_errc::unsupported_format);
    CHECK_THAT(report.error().message,
               Contains(role) && Contains(found) && Contains("expected mu-law 8-bit mono 8000 Hz"));
    CHECK_FALSE(std::filesystem::exists(dir.file("out/stereo.wav")));
  };
  SECTION("PCM caller") {
    const auto path = dir.file("pcm.wav");
    t::write_bytes(path, t::wav_builder()
                             .fmt(audio::wave_format_pcm, 1, 8000, 16)
                             .data(std::vector<std::uint8_t>(200, 0))
                             .bytes());
    expect(path, dir.file("good.wav"), "caller input", "PCM 16-bit mono 8000 Hz");
  }
  SECTION("16 kHz agent") {
    const auto path = dir.file("16k.wav");
    t::write_bytes(path, t::wav_builder()
                             .fmt(audio::wave_format_mulaw, 1, 16000, 8)
                             .data(t::mulaw_pattern(100))
                             .bytes());
    expect(dir.file("good.wav"), path, "agent input", "mu-law 8-bit mono 16000 Hz");
  }
  SECTION("stereo agent") {
    const auto path = dir.file("st.wav");
    t::write_bytes(path, t::wav_builder()
                             .fmt(audio::wave_format_mulaw, 2, 8000, 8)
                             .data(t::mulaw_pattern(100))
                             .bytes());
    expect(dir.file("good.wav"), path, "agent input", "mu-law 8-bit stereo 8000 Hz");
  }
}

TEST_CASE("mix refuses broken or missing inputs and names them", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("good.wav"), t::mulaw_pattern(100));
  SECTION("truncated caller") {
    t::write_bytes(dir.file("cut.wav"), t::wav_builder()
                                            .fmt(audio::wave_format_mulaw, 1, 8000, 8)
                                            .data(t::mulaw_pattern(100), 5000)
                                            .bytes());
    const auto report =
        audio::mix_tracks(dir.file("cut.wav"), dir.file("good.wav"), dir.file("out"));
    REQUIRE(report.has_error());
    CHECK(report.error().code == wav_errc::truncated);
    CHECK_THAT(report.error().message, Contains("caller input") && Contains("5000"));
  }
  SECTION("missing agent") {
    const auto report =
        audio::mix_tracks(dir.file("good.wav"), dir.file("nope.wav"), dir.file("out"));
    REQUIRE(report.has_error());
    CHECK(report.error().code == wav_errc::cannot_open);
    CHECK_THAT(report.error().message, Contains("agent input") && Contains("nope.wav"));
  }
  SECTION("garbage agent") {
    t::write_bytes(dir.file("junk.wav"), std::vector<std::uint8_t>(64, 0x42));
    const auto report =
        audio::mix_tracks(dir.file("good.wav"), dir.file("junk.wav"), dir.file("out"));
    REQUIRE(report.has_error());
    CHECK(report.error().code == wav_errc::not_riff_wave);
    CHECK_THAT(report.error().message, Contains("agent input"));
  }
}

TEST_CASE("mix accepts an input whose sizes were never finalised", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("agent.wav"), t::mulaw_pattern(100));
  t::write_bytes(dir.file("caller.wav"), t::wav_builder()
                                             .fmt(audio::wave_format_mulaw, 1, 8000, 8, true)
                                             .fact(0)
                                             .data(t::mulaw_pattern(250), 0)
                                             .riff_size(0)
                                             .bytes());
  const auto report =
      audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), dir.file("out"));
  REQUIRE(report.has_value());
  CHECK_FALSE(report->caller_size_finalised);
  CHECK(report->agent_size_finalised);
  CHECK(report->caller_samples == 250);
  CHECK(report->frames == 250);
}

TEST_CASE("mix never overwrites an output", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("caller.wav"), t::mulaw_pattern(100));
  t::write_mulaw_wav(dir.file("agent.wav"), t::mulaw_pattern(100));
  const auto out = dir.file("out");
  std::filesystem::create_directory(out);
  const std::vector<std::uint8_t> precious{'m', 'i', 'n', 'e'};
  const auto name = GENERATE(as<std::string>{}, "stereo.wav", "mono.wav");
  t::write_bytes(out + "/" + name, precious);

  const auto report = audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), out);
  REQUIRE(report.has_error());
  CHECK(report.error().code == wav_errc::already_exists);
  CHECK_THAT(report.error().message, Contains(out + "/" + name));
  CHECK(t::read_bytes(out + "/" + name) == precious);
  CHECK(names_in(out) == std::set<std::string>{name});  // nothing else written
}

TEST_CASE("mix refuses an output that is one of its inputs", "[mixer]") {
  t::scratch_dir dir;
  const auto out = dir.file("out");
  std::filesystem::create_directory(out);
  t::write_mulaw_wav(out + "/stereo.wav", t::mulaw_pattern(100));
  t::write_mulaw_wav(dir.file("agent.wav"), t::mulaw_pattern(100));
  const auto before = t::read_bytes(out + "/stereo.wav");
  // Reached through a different spelling of the same path.
  const auto report = audio::mix_tracks(out + "/../out/./stereo.wav", dir.file("agent.wav"), out);
  REQUIRE(report.has_error());
  CHECK(report.error().code == wav_errc::invalid_argument);
  CHECK_THAT(report.error().message, Contains("is the caller input"));
  CHECK(t::read_bytes(out + "/stereo.wav") == before);
  CHECK(names_in(out) == std::set<std::string>{"stereo.wav"});
}

TEST_CASE("mix of two empty tracks writes empty outputs", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("caller.wav"), {});
  t::write_mulaw_wav(dir.file("agent.wav"), {});
  const auto report =
      audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), dir.file("out"));
  REQUIRE(report.has_value());
  CHECK(report->frames == 0);
  CHECK(pcm_samples(report->stereo_path).empty());
  CHECK(pcm_samples(report->mono_path).empty());
}

TEST_CASE("mix reports an output directory it cannot create", "[mixer]") {
  t::scratch_dir dir;
  t::write_mulaw_wav(dir.file("caller.wav"), t::mulaw_pattern(10));
  t::write_mulaw_wav(dir.file("agent.wav"), t::mulaw_pattern(10));
  t::write_bytes(dir.file("a_file"), std::vector<std::uint8_t>{1});
  const auto report =
      audio::mix_tracks(dir.file("caller.wav"), dir.file("agent.wav"), dir.file("a_file") + "/out");
  REQUIRE(report.has_error());
  CHECK(report.error().code == wav_errc::cannot_open);
  CHECK_THAT(report.error().message, Contains("a_file/out"));
}
