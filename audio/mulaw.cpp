#include "audio/mulaw.hpp"

#include <algorithm>
#include <bit>

namespace switchboard::audio {

namespace {

// Bias and clip of the 16-bit form of G.711 μ-law: 0x84 = 33 << 2, and 32635 + 0x84 = 0x7FFF
// keeps the biased magnitude inside 15 bits so the exponent is at most 7.
constexpr int mulaw_bias = 0x84;
constexpr int mulaw_clip = 32635;

}  // namespace

std::uint8_t encode_mulaw(std::int16_t sample) {
  // G.711 uniform PCM is sign-magnitude: a negative sample encodes like its magnitude.
  const int value = sample;
  const unsigned sign = value < 0 ? 0x80u : 0x00u;
  const int magnitude = std::min(value < 0 ? -value : value, mulaw_clip);
  const auto biased = static_cast<unsigned>(magnitude + mulaw_bias);
  // Segment (exponent) = position of the highest set bit above bit 7 of the biased magnitude.
  const int highest_bit = static_cast<int>(std::bit_width(biased)) - 1;
  const auto exponent = static_cast<unsigned>(std::max(highest_bit - 7, 0));
  const unsigned mantissa = (biased >> (exponent + 3)) & 0x0Fu;
  return static_cast<std::uint8_t>(~(sign | (exponent << 4) | mantissa) & 0xFFu);
}

std::size_t decode_mulaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> samples) {
  const std::size_t count = std::min(codes.size(), samples.size());
  for (std::size_t i = 0; i < count; ++i) {
    samples[i] = mulaw_decode_table[codes[i]];
  }
  return count;
}

std::size_t encode_mulaw(std::span<const std::int16_t> samples, std::span<std::uint8_t> codes) {
  const std::size_t count = std::min(samples.size(), codes.size());
  for (std::size_t i = 0; i < count; ++i) {
    codes[i] = encode_mulaw(samples[i]);
  }
  return count;
}

}  // namespace switchboard::audio
