#pragma once
// Streaming WAV writer for every format we record or produce: G.711 μ-law (format tag 7, an
// 18-byte fmt chunk with cbSize = 0 and a fact chunk holding the sample count, which the WAV
// spec requires for non-PCM data) and 16-bit little-endian PCM, mono or stereo (fmt 16 bytes,
// no fact).
//
// Crash safety: the file is created with O_CREAT|O_EXCL (an existing file is never
// overwritten) and its header is written at once, stating 0 bytes of audio. Appended audio goes
// into a fixed buffer (buffer_bytes, constant memory) that is written in blocks. A checkpoint
// writes the buffer and then rewrites the RIFF size, fact count and data size in the header
// (pwrite) to match the audio in the file. Data is written before the header that counts it,
// so the header can understate the audio after a crash but never overstate it, and a file cut
// off at any moment opens in standard tools. A checkpoint runs automatically once
// checkpoint_interval (200 ms) of audio has been appended since the last one (μ-law 8 kHz: 1600
// bytes; audio arrives in real time, so five times a second of wall time), on checkpoint(), and
// on close(). So a process killed at any moment (kill -9, OOM) loses less than 200 ms of the
// audio it had appended, and the header it leaves already counts everything before that: repair
// has nothing to add unless the kill fell between a checkpoint's two writes. Two pwrite calls
// per 200 ms per track (bench/frame_path_bench: wav_append_frame). Checkpoints protect against
// the process dying, not against power loss: only close() syncs (fdatasync) the file to stable
// storage.
//
// Errors (disk full, permission, I/O) are values. After a write error the writer is failed:
// every later call returns that error, and close() still brings the header in line with the
// audio that reached the file. Not thread-safe; one owner at a time (movable, not copyable).

#include "audio/posix_file.hpp"
#include "audio/wav_error.hpp"
#include "audio/wav_format.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace switchboard::audio {

class wav_writer {
 public:
  /// Most the append buffer holds. A checkpoint empties it every checkpoint_interval, so a
  /// format whose interval is shorter gets a buffer of one interval (buffer_capacity()): a
  /// call track (μ-law 8 kHz, 1600 bytes per 200 ms) keeps 1600 bytes, not 8 KiB, per track.
  static constexpr std::size_t buffer_bytes = 8192;
  /// Audio appended between automatic checkpoints: at most this much is lost if the process
  /// dies.
  static constexpr std::uint64_t checkpoint_interval_ms = 200;

  /// Creates `path` (which must not exist) and writes its header. Supported formats: μ-law
  /// 8-bit and PCM 16-bit, 1 or 2 channels, any non-zero sample rate.
  static wav_result<wav_writer> create(const std::string& path, const wav_format& format);

  wav_writer(wav_writer&& other) noexcept;
  wav_writer& operator=(wav_writer&& other) noexcept;
  wav_writer(const wav_writer&) = delete;
  wav_writer& operator=(const wav_writer&) = delete;
  /// Closes best-effort (errors are dropped; call close() to see them).
  ~wav_writer();

  /// Appends encoded audio: μ-law codes, or PCM 16-bit little-endian interleaved samples. The
  /// size must be a whole number of sample frames (format().block_align() bytes each).
  wav_result<void> append(std::span<const std::uint8_t> audio);

  /// Appends `frames` sample frames of silence (μ-law 0xFF, PCM zeros).
  wav_result<void> append_silence(std::size_t frames);

  /// Writes buffered audio and rewrites the header size fields to match it.
  wav_result<void> checkpoint();

  /// Writes buffered audio without touching the header (the header then understates the file).
  wav_result<void> flush_data();

  /// Writes buffered audio and a pad byte if the data is odd-sized (RIFF word alignment),
  /// finalises the header, syncs and closes. Closing a closed writer does nothing.
  wav_result<void> close();

  bool is_open() const { return fd_.valid(); }
  const std::string& path() const { return path_; }
  const wav_format& format() const { return format_; }
  /// File offset of the first audio byte (58 for μ-law, 44 for PCM).
  std::uint64_t data_offset() const { return data_offset_; }

  /// Audio bytes accepted so far, buffered or in the file.
  std::uint64_t bytes_written() const { return on_disk_ + buffered_; }
  /// Audio bytes written to the file.
  std::uint64_t bytes_on_disk() const { return on_disk_; }
  /// Audio bytes the header currently states.
  std::uint64_t checkpointed_bytes() const { return checkpointed_; }
  /// Duration of bytes_written(), in milliseconds (rounded down).
  std::uint64_t duration_ms() const;
  /// The append buffer's size: buffer_bytes, or one checkpoint interval when that is less.
  std::size_t buffer_capacity() const { return capacity_; }

 private:
  wav_writer(detail::unique_fd fd, std::string path, const wav_format& format);

  wav_result<void> usable() const;
  std::uint64_t checkpoint_bytes() const;
  wav_result<void> write_buffer();
  wav_result<void> write_header(std::uint64_t data_bytes, std::uint64_t pad_bytes);
  wav_result<void> fail(wav_error error);

  detail::unique_fd fd_;
  std::string path_;
  wav_format format_;
  std::uint64_t data_offset_ = 0;
  std::size_t capacity_ = 0;
  std::unique_ptr<std::uint8_t[]> buffer_;
  std::size_t buffered_ = 0;
  std::uint64_t on_disk_ = 0;
  std::uint64_t checkpointed_ = 0;
  std::optional<wav_error> failure_;
};

}  // namespace switchboard::audio
