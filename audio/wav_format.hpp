#pragma once
// WAV (RIFF/WAVE) description and parser.
//
// A WAV file is a RIFF container: "RIFF" <u32 size of the rest> "WAVE", then chunks, each
// <4-byte id> <u32 body size> <body> padded to an even length (RIFF rule: chunks are word
// aligned; the pad byte is not counted in the size). We read "fmt " (format), "fact" (sample count,
// required by the WAV spec for non-PCM formats such as μ-law) and "data" (the audio), and skip any
// other chunk (LIST, JUNK, bext, ...). All integers are little-endian.
//
// A recording being streamed (or whose writer died) may carry size fields that are not final:
// 0 or 0xFFFFFFFF in the RIFF or data size while audio follows. Such a file parses with
// size_finalised == false and data_bytes taken from the file length. A size that claims more
// bytes than the file holds is `truncated`, reporting both numbers.
//
// parse_wav_bytes() is pure (no I/O) so a fuzzer can drive it; the file and fd versions read only
// the chunk headers they walk, never the audio.

#include "audio/wav_error.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard::audio {

/// fmt chunk wFormatTag values (RFC 2361 / mmreg.h).
constexpr std::uint16_t wave_format_pcm = 1;
constexpr std::uint16_t wave_format_mulaw = 7;

/// What to write: the fields of a fmt chunk that are not derived from others.
struct wav_format {
  std::uint16_t format_tag = wave_format_mulaw;
  std::uint16_t channels = 1;
  std::uint32_t sample_rate = 8000;
  std::uint16_t bits_per_sample = 8;

  /// Bytes per sample frame (one sample of every channel).
  constexpr std::uint16_t block_align() const {
    return static_cast<std::uint16_t>(channels * ((bits_per_sample + 7) / 8));
  }
  constexpr std::uint32_t byte_rate() const { return sample_rate * block_align(); }

  /// Twilio Media Streams audio: G.711 μ-law, 8000 Hz, mono, 8 bits.
  static constexpr wav_format mulaw_8k_mono() { return {wave_format_mulaw, 1, 8000, 8}; }
  /// 16-bit little-endian signed PCM (the mixer's outputs).
  static constexpr wav_format pcm16(std::uint16_t channel_count, std::uint32_t rate) {
    return {wave_format_pcm, channel_count, rate, 16};
  }

  friend constexpr bool operator==(const wav_format&, const wav_format&) = default;
};

/// Human-readable form for messages, e.g. "μ-law 8-bit mono 8000 Hz".
std::string describe(const wav_format& format);

/// What a WAV file holds and where.
struct wav_info {
  std::uint16_t format_tag = 0;
  std::uint16_t channels = 0;
  std::uint32_t sample_rate = 0;
  std::uint32_t byte_rate = 0;  // as stored in the header
  std::uint16_t block_align = 0;
  std::uint16_t bits_per_sample = 0;

  std::uint64_t data_offset = 0;  // file offset of the first audio byte
  std::uint64_t data_bytes = 0;   // audio bytes to use (header value, or file length if not final)
  std::optional<std::uint32_t> fact_sample_count;  // present for non-PCM files
  std::uint64_t file_size = 0;
  bool size_finalised = true;  // false: RIFF or data size was 0 / 0xFFFFFFFF with audio present

  // Raw header fields and their offsets, for repair.
  std::uint32_t riff_size_field = 0;
  std::uint32_t data_size_field = 0;
  std::optional<std::uint64_t> fact_field_offset;
  std::uint64_t data_size_field_offset() const { return data_offset - 4; }

  wav_format format() const { return {format_tag, channels, sample_rate, bits_per_sample}; }
  std::uint64_t frames() const { return block_align == 0 ? 0 : data_bytes / block_align; }
  std::uint64_t duration_ms() const { return sample_rate == 0 ? 0 : frames() * 1000 / sample_rate; }
};

enum class wav_strictness {
  strict,   // a size that overstates the file is an error (wav_errc::truncated)
  lenient,  // such sizes are clamped to the file (repair uses this to fix them)
};

/// Parses a whole WAV file held in memory. `name` only labels error messages.
wav_result<wav_info> parse_wav_bytes(std::span<const std::uint8_t> file_bytes,
                                     std::string_view name = "<memory>",
                                     wav_strictness strictness = wav_strictness::strict);

/// Parses the WAV file behind an open descriptor (read with pread; the file offset is unused).
wav_result<wav_info> parse_wav_fd(int fd, std::string_view name,
                                  wav_strictness strictness = wav_strictness::strict);

/// Opens `path` read-only and parses it.
wav_result<wav_info> parse_wav_file(const std::string& path,
                                    wav_strictness strictness = wav_strictness::strict);

}  // namespace switchboard::audio
