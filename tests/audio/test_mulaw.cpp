#include "audio/mulaw.hpp"
#include "audio_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace audio = switchboard::audio;
namespace t = switchboard::audio::test;

namespace {

// Reference values of the classic G.711 μ-law table (ITU-T G.711 Table 2b, 16-bit scale).
static_assert(audio::decode_mulaw(std::uint8_t{0xFF}) == 0);
static_assert(audio::decode_mulaw(std::uint8_t{0x7F}) == 0);
static_assert(audio::decode_mulaw(std::uint8_t{0x00}) == -32124);
static_assert(audio::decode_mulaw(std::uint8_t{0x80}) == 32124);
static_assert(audio::mulaw_silence == 0xFF);

std::vector<std::uint8_t> int16_le_bytes(std::span<const std::int16_t> samples) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(samples.size() * 2);
  for (const std::int16_t sample : samples) {
    const auto bits = static_cast<std::uint16_t>(sample);
    bytes.push_back(static_cast<std::uint8_t>(bits & 0xFFu));
    bytes.push_back(static_cast<std::uint8_t>(bits >> 8));
  }
  return bytes;
}

}  // namespace

TEST_CASE("mulaw decodes the reference codes", "[mulaw]") {
  CHECK(audio::decode_mulaw(std::uint8_t{0xFF}) == 0);
  CHECK(audio::decode_mulaw(std::uint8_t{0x7F}) == 0);
  CHECK(audio::decode_mulaw(std::uint8_t{0x00}) == -32124);
  CHECK(audio::decode_mulaw(std::uint8_t{0x80}) == 32124);
  CHECK(audio::decode_mulaw(std::uint8_t{0xFE}) == 8);  // exponent 0, mantissa 1
  CHECK(audio::decode_mulaw(std::uint8_t{0x7E}) == -8);
  CHECK(audio::decode_mulaw(std::uint8_t{0xEF}) == 132);  // first code of exponent 1
  CHECK(audio::decode_mulaw(std::uint8_t{0xCE}) == 988);
  CHECK(audio::decode_mulaw(std::uint8_t{0x4E}) == -988);
}

TEST_CASE("mulaw encodes the reference values", "[mulaw]") {
  CHECK(audio::encode_mulaw(std::int16_t{0}) == 0xFF);
  CHECK(audio::encode_mulaw(std::int16_t{3}) == 0xFF);
  CHECK(audio::encode_mulaw(std::int16_t{4}) == 0xFE);
  CHECK(audio::encode_mulaw(std::int16_t{-1}) == 0x7F);
  CHECK(audio::encode_mulaw(std::int16_t{-4}) == 0x7E);
  CHECK(audio::encode_mulaw(std::int16_t{1000}) == 0xCE);
  CHECK(audio::encode_mulaw(std::int16_t{-1000}) == 0x4E);
  CHECK(audio::encode_mulaw(std::int16_t{32124}) == 0x80);
  CHECK(audio::encode_mulaw(std::int16_t{-32124}) == 0x00);
  // Magnitudes above the clip level 32635 take the loudest code.
  CHECK(audio::encode_mulaw(std::int16_t{32635}) == 0x80);
  CHECK(audio::encode_mulaw(std::int16_t{32767}) == 0x80);
  CHECK(audio::encode_mulaw(std::int16_t{-32768}) == 0x00);
}

TEST_CASE("mulaw decode then encode is the identity except negative zero", "[mulaw]") {
  for (int code = 0; code < 256; ++code) {
    const auto byte = static_cast<std::uint8_t>(code);
    const std::uint8_t expected = byte == 0x7F ? std::uint8_t{0xFF} : byte;
    INFO("code " << code);
    CHECK(audio::encode_mulaw(audio::decode_mulaw(byte)) == expected);
  }
}

TEST_CASE("mulaw quantisation is monotonic and close to the input", "[mulaw]") {
  int previous = audio::decode_mulaw(audio::encode_mulaw(std::int16_t{-32768}));
  for (int value = -32768; value <= 32767; ++value) {
    const int decoded = audio::decode_mulaw(audio::encode_mulaw(static_cast<std::int16_t>(value)));
    INFO("sample " << value);
    REQUIRE(decoded >= previous);
    // Half the widest step (exponent 7: 1024) plus the clip region above 32124.
    REQUIRE(std::abs(decoded - value) <= 644);
    previous = decoded;
  }
}

TEST_CASE("mulaw block codecs convert min(input, output) samples", "[mulaw]") {
  const std::array<std::uint8_t, 4> codes{0xFF, 0x00, 0x80, 0xCE};
  std::array<std::int16_t, 3> samples{};
  CHECK(audio::decode_mulaw(codes, samples) == 3);
  CHECK(samples == std::array<std::int16_t, 3>{0, -32124, 32124});

  std::array<std::int16_t, 5> decoded{};
  decoded.fill(7);
  CHECK(audio::decode_mulaw(codes, decoded) == 4);
  CHECK(decoded == std::array<std::int16_t, 5>{0, -32124, 32124, 988, 7});

  std::array<std::uint8_t, 4> encoded{};
  CHECK(audio::encode_mulaw(std::span<const std::int16_t>(decoded).first(4), encoded) == 4);
  CHECK(encoded == codes);
  std::array<std::uint8_t, 2> short_out{};
  CHECK(audio::encode_mulaw(std::span<const std::int16_t>(decoded), short_out) == 2);
  CHECK(short_out == std::array<std::uint8_t, 2>{0xFF, 0x00});
}

TEST_CASE("mulaw decoding matches sox for all 256 codes", "[mulaw][sox]") {
  t::scratch_dir dir;
  std::vector<std::uint8_t> codes(256);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    codes[i] = static_cast<std::uint8_t>(i);
  }
  const auto in = dir.file("codes.ulaw");
  const auto out = dir.file("decoded.s16");
  t::write_bytes(in, codes);
  const auto sox = t::run_command("sox -t raw -e mu-law -r 8000 -c 1 " + t::shell_quote(in) +
                                  " -t raw -e signed -b 16 -L " + t::shell_quote(out));
  REQUIRE(sox.exit_status == 0);
  const auto pcm = t::read_bytes(out);
  REQUIRE(pcm.size() == 512);
  for (std::size_t code = 0; code < 256; ++code) {
    INFO("code " << code);
    CHECK(t::le16_at(pcm, code) == audio::decode_mulaw(static_cast<std::uint8_t>(code)));
  }
}

// G.711 is defined on 14-bit uniform PCM; reducing 16 bits to 14 is outside the standard. Our
// classic 16-bit encoder truncates; sox 14.4 rounds to nearest (src/raw.c:
// SOX_SAMPLE_TO_ULAW_BYTE uses SOX_SAMPLE_TO_UNSIGNED(14, ...), which adds half an LSB and clips
// 32766/32767 to the top 14-bit value). So on the 14-bit grid (multiples of 4) sox and
// encode_mulaw agree exactly, and in general sox(x) == encode_mulaw(min(4 * round(x / 4), 32764)),
// with round-half-up. `-D` turns off sox's automatic dither, which it would otherwise add when
// reducing 16 bits to μ-law's 14.
TEST_CASE("mulaw encoding matches sox for all 65536 samples", "[mulaw][sox]") {
  t::scratch_dir dir;
  std::vector<std::int16_t> samples;
  samples.reserve(65536);
  for (int value = -32768; value <= 32767; ++value) {
    samples.push_back(static_cast<std::int16_t>(value));
  }
  const auto in = dir.file("all.s16");
  const auto out = dir.file("all.ulaw");
  t::write_bytes(in, int16_le_bytes(samples));
  const auto sox =
      t::run_command("sox -V1 -D -t raw -e signed -b 16 -L -r 8000 -c 1 " + t::shell_quote(in) +
                     " -t raw -e mu-law -r 8000 -c 1 " + t::shell_quote(out));
  REQUIRE(sox.exit_status == 0);
  const auto sox_codes = t::read_bytes(out);
  REQUIRE(sox_codes.size() == samples.size());

  std::size_t differing = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const int value = samples[i];
    const std::uint8_t ours = audio::encode_mulaw(samples[i]);
    INFO("sample " << value);
    if (value % 4 == 0) {
      REQUIRE(sox_codes[i] == ours);
    }
    // Round half up to the 14-bit grid (an arithmetic shift floors), clip like sox.
    const int rounded = std::min(((value + 2) >> 2) * 4, 32764);
    REQUIRE(sox_codes[i] == audio::encode_mulaw(static_cast<std::int16_t>(rounded)));
    if (sox_codes[i] != ours) {
      ++differing;
    }
  }
  // Rounding moves at most 3 inputs per decision level (255 levels) to the neighbouring code;
  // sox 14.4.2 differs on 383.
  CHECK(differing > 0);
  CHECK(differing <= std::size_t{3} * 255);
}
