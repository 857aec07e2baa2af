#pragma once
// Helpers shared by the audio tests: a scratch directory, whole-file I/O, a WAV byte builder for
// malformed inputs, and runners for the real tools (sox, soxi, ffprobe) through popen.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::audio::test {

/// A fresh directory under the system temp dir, removed with its contents on destruction.
class scratch_dir {
 public:
  scratch_dir();
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::vector<std::uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, std::span<const std::uint8_t> bytes);

/// Single-quotes `text` for /bin/sh.
std::string shell_quote(std::string_view text);

struct command_result {
  int exit_status = -1;  // the command's exit code; -1 if it did not exit normally
  std::string output;    // its stdout (stderr goes to the test's stderr)
};
command_result run_command(const std::string& command);

/// What `ffprobe -show_streams -show_format -of json` says about a file's first stream.
struct ffprobe_info {
  std::string codec_name;
  std::uint32_t sample_rate = 0;
  std::uint32_t channels = 0;
  double duration_s = 0;
};
std::optional<ffprobe_info> run_ffprobe(const std::string& path);

/// What soxi says about a file.
struct soxi_info {
  std::string encoding;  // e.g. "u-law", "Signed Integer PCM"
  std::uint32_t sample_rate = 0;
  std::uint32_t channels = 0;
  std::uint64_t samples = 0;  // per channel
  double duration_s = 0;
};
std::optional<soxi_info> run_soxi(const std::string& path);

/// Runs `check` without root's override of file permissions: as uid/gid 65534 in a forked child
/// when the tests run as root, directly otherwise. Returns what `check` returned (false if the
/// child failed to drop privileges or died).
bool run_unprivileged(const std::function<bool()>& check);

/// Builds RIFF/WAVE images chunk by chunk, sizes as given (so tests can lie in them).
class wav_builder {
 public:
  /// "RIFF" <riff_size or computed at bytes()> "WAVE" (form type replaceable).
  explicit wav_builder(std::string_view form_type = "WAVE");
  wav_builder& riff_size(std::uint32_t size);
  /// A 16-byte (PCM) or 18-byte (cbSize = 0) fmt chunk.
  wav_builder& fmt(std::uint16_t format_tag, std::uint16_t channels, std::uint32_t sample_rate,
                   std::uint16_t bits_per_sample, bool with_cb_size = false);
  wav_builder& fmt_raw(std::span<const std::uint8_t> body);
  wav_builder& fact(std::uint32_t sample_count);
  /// Any chunk; the size field says body.size() unless `declared_size` is given. Adds the pad
  /// byte for odd bodies.
  wav_builder& chunk(std::string_view id, std::span<const std::uint8_t> body,
                     std::optional<std::uint32_t> declared_size = std::nullopt);
  wav_builder& data(std::span<const std::uint8_t> audio,
                    std::optional<std::uint32_t> declared_size = std::nullopt);
  /// Raw bytes at the end (e.g. audio a dead writer left after the counted data).
  wav_builder& raw(std::span<const std::uint8_t> bytes);
  std::vector<std::uint8_t> bytes() const;

 private:
  std::vector<std::uint8_t> image_;
  std::optional<std::uint32_t> riff_size_;
};

/// The audio of a WAV file's data chunk, as the library's parser finds it; nullopt when the
/// file does not parse or cannot be read.
std::optional<std::vector<std::uint8_t>> wav_data(const std::string& path);

/// A μ-law 8 kHz mono WAV file of `codes`, written and closed by the library's writer (throws
/// std::runtime_error when it cannot be).
void write_mulaw_wav(const std::string& path, std::span<const std::uint8_t> codes);

/// A μ-law test signal stepping through all 256 codes (stride 37), so neighbours differ.
std::vector<std::uint8_t> mulaw_pattern(std::size_t samples, std::uint8_t start = 0);

/// Little-endian int16 at sample `index` of a PCM image.
std::int16_t le16_at(std::span<const std::uint8_t> bytes, std::size_t index);

}  // namespace switchboard::audio::test
