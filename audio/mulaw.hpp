#pragma once
// G.711 μ-law codec (ITU-T G.711, the 8-bit companding Twilio Media Streams carry as
// "audio/x-mulaw" at 8000 Hz mono: 1 byte = 1 sample = 125 µs, so ms = bytes / 8).
//
// Bit-exact with the classic G.711 μ-law tables on 16-bit linear PCM: bias 0x84 (132 = 33 in
// 14-bit units, shifted left 2), magnitude clipped at 32635 so that magnitude + bias fits in
// 15 bits, all code bits inverted on the wire. Decoding goes through a 256-entry table built at
// compile time; decode(0xFF) = 0, decode(0x00) = -32124, decode(0x80) = 32124, and 0x7F is the
// "negative zero" code (decodes to 0, re-encodes as 0xFF).
//
// Note on sox: G.711 quantises 14-bit uniform PCM; how 16-bit input is reduced to 14 bits is
// outside the standard. The classic 16-bit encoder used here truncates (the bias/clip arithmetic
// only looks at the top 14 bits of the magnitude). sox 14.4 rounds to the nearest 14-bit value
// instead (src/raw.c: SOX_SAMPLE_TO_ULAW_BYTE = sox_14linear2ulaw(SOX_SAMPLE_TO_UNSIGNED(14, ...)
// - 0x2000), which adds half an LSB and clips), so for 383 of the 65536 inputs, all of them not
// multiples of 4 and lying within 3 of a decision level, sox picks the neighbouring code. For
// every x, sox(x) == encode_mulaw(min(4 * round(x / 4), 32764)); on the 14-bit grid (multiples
// of 4) the two agree exactly (tests/audio/test_mulaw.cpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace switchboard::audio {

/// The μ-law code of a zero sample: what silence looks like on the wire.
constexpr std::uint8_t mulaw_silence = 0xFF;

namespace detail {

constexpr std::int16_t decode_mulaw_computed(std::uint8_t code) {
  // Codes travel bit-inverted (G.711 §2: even bits inverted for A-law, all bits for μ-law).
  const unsigned inverted = ~static_cast<unsigned>(code) & 0xFFu;
  const unsigned exponent = (inverted >> 4) & 0x07u;
  const unsigned mantissa = inverted & 0x0Fu;
  // The reconstruction value is the midpoint of the code's interval, bias removed.
  const int magnitude = static_cast<int>(((mantissa << 3) + 0x84u) << exponent) - 0x84;
  return static_cast<std::int16_t>((inverted & 0x80u) != 0 ? -magnitude : magnitude);
}

constexpr std::array<std::int16_t, 256> make_mulaw_decode_table() {
  std::array<std::int16_t, 256> table{};
  for (std::size_t code = 0; code < table.size(); ++code) {
    table[code] = decode_mulaw_computed(static_cast<std::uint8_t>(code));
  }
  return table;
}

}  // namespace detail

/// Linear value of each μ-law code, indexed by the code byte.
inline constexpr std::array<std::int16_t, 256> mulaw_decode_table =
    detail::make_mulaw_decode_table();

constexpr std::int16_t decode_mulaw(std::uint8_t code) {
  return mulaw_decode_table[code];
}

/// μ-law code for a 16-bit linear sample (magnitudes above 32635 clip to the loudest code).
std::uint8_t encode_mulaw(std::int16_t sample);

/// Decodes `codes` into `samples`; decodes min(codes.size(), samples.size()) and returns that
/// count.
std::size_t decode_mulaw(std::span<const std::uint8_t> codes, std::span<std::int16_t> samples);

/// Encodes `samples` into `codes`; encodes min(samples.size(), codes.size()) and returns that
/// count.
std::size_t encode_mulaw(std::span<const std::int16_t> samples, std::span<std::uint8_t> codes);

}  // namespace switchboard::audio
