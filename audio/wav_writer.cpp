#include "audio/wav_writer.hpp"

#include "audio/mulaw.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace switchboard::audio {

namespace {

using detail::put_le16;
using detail::put_le32;

// Header layouts we write:
//   PCM:   RIFF(12) fmt(8 + 16)                    data(8)  -> audio at 44
//   μ-law: RIFF(12) fmt(8 + 18, cbSize = 0) fact(8 + 4) data(8) -> audio at 58
constexpr std::size_t max_header_bytes = 58;
// 0xFFFFFFFF in a size field means "not finalised" to readers; stay below it.
constexpr std::uint64_t max_riff_size = 0xFFFFFFFEu;

bool needs_fact(const wav_format& format) {
  return format.format_tag != wave_format_pcm;
}

std::size_t header_size(const wav_format& format) {
  return needs_fact(format) ? 58 : 44;
}

/// Fills `out` with the header for `data_bytes` of audio followed by `pad_bytes` (0 or 1).
std::size_t build_header(const wav_format& format, std::uint64_t data_bytes,
                         std::uint64_t pad_bytes, std::span<std::uint8_t> out) {
  const std::size_t size = header_size(format);
  const bool fact = needs_fact(format);
  const std::uint32_t fmt_size = fact ? 18 : 16;
  std::size_t at = 0;
  const auto put_id = [&](const char(&id)[5]) {
    std::memcpy(out.data() + at, id, 4);
    at += 4;
  };
  put_id("RIFF");
  put_le32(out, at, static_cast<std::uint32_t>(size - 8 + data_bytes + pad_bytes));
  at += 4;
  put_id("WAVE");
  put_id("fmt ");
  put_le32(out, at, fmt_size);
  put_le16(out, at + 4, format.format_tag);
  put_le16(out, at + 6, format.channels);
  put_le32(out, at + 8, format.sample_rate);
  put_le32(out, at + 12, format.byte_rate());
  put_le16(out, at + 16, format.block_align());
  put_le16(out, at + 18, format.bits_per_sample);
  at += 20;
  if (fact) {
    put_le16(out, at, 0);  // cbSize: no extra format bytes
    at += 2;
    put_id("fact");
    put_le32(out, at, 4);
    // dwSampleLength counts sample frames per channel.
    put_le32(out, at + 4, static_cast<std::uint32_t>(data_bytes / format.block_align()));
    at += 8;
  }
  put_id("data");
  put_le32(out, at, static_cast<std::uint32_t>(data_bytes));
  at += 4;
  return at;
}

wav_result<void> check_writable_format(const wav_format& format, const std::string& path) {
  const bool mulaw = format.format_tag == wave_format_mulaw && format.bits_per_sample == 8;
  const bool pcm16 = format.format_tag == wave_format_pcm && format.bits_per_sample == 16;
  if ((!mulaw && !pcm16) || format.channels < 1 || format.channels > 2 || format.sample_rate == 0) {
    return wav_error{wav_errc::unsupported_format,
                     "cannot write " + path + " as " + describe(format) +
                         ": supported are mu-law 8-bit and PCM 16-bit, 1 or 2 channels"};
  }
  return {};
}

}  // namespace

wav_result<wav_writer> wav_writer::create(const std::string& path, const wav_format& format) {
  if (auto checked = check_writable_format(format, path); !checked) {
    return checked.error();
  }
  // 0640: call recordings are personal data; no world access.
  detail::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd.valid()) {
    const int error_number = errno;
    auto error = detail::errno_error(error_number, "cannot create", path);
    if (error.code == wav_errc::io_error) {
      error.code = wav_errc::cannot_open;
    }
    return error;
  }
  wav_writer writer(std::move(fd), path, format);
  if (auto written = writer.write_header(0, 0); !written) {
    // We created the file exclusively, so removing it touches nothing of anybody else's.
    writer.fd_.reset();
    detail::remove_file(path);
    return written.error();
  }
  return writer;
}

wav_writer::wav_writer(detail::unique_fd fd, std::string path, const wav_format& format)
    : fd_(std::move(fd)),
      path_(std::move(path)),
      format_(format),
      data_offset_(header_size(format)),
      capacity_(
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer_bytes, checkpoint_bytes()))),
      buffer_(std::make_unique<std::uint8_t[]>(capacity_)) {}

wav_writer::wav_writer(wav_writer&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      format_(other.format_),
      data_offset_(other.data_offset_),
      capacity_(other.capacity_),
      buffer_(std::move(other.buffer_)),
      buffered_(std::exchange(other.buffered_, 0)),
      on_disk_(std::exchange(other.on_disk_, 0)),
      checkpointed_(std::exchange(other.checkpointed_, 0)),
      failure_(std::move(other.failure_)) {}

wav_writer& wav_writer::operator=(wav_writer&& other) noexcept {
  if (this != &other) {
    (void)close();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    format_ = other.format_;
    data_offset_ = other.data_offset_;
    capacity_ = other.capacity_;
    buffer_ = std::move(other.buffer_);
    buffered_ = std::exchange(other.buffered_, 0);
    on_disk_ = std::exchange(other.on_disk_, 0);
    checkpointed_ = std::exchange(other.checkpointed_, 0);
    failure_ = std::move(other.failure_);
  }
  return *this;
}

wav_writer::~wav_writer() {
  if (fd_.valid()) {
    (void)close();
  }
}

std::uint64_t wav_writer::checkpoint_bytes() const {
  // Whole sample frames, and at least one.
  const std::uint64_t frames = std::max<std::uint64_t>(
      1, std::uint64_t{format_.sample_rate} * checkpoint_interval_ms / 1000);
  return frames * format_.block_align();
}

std::uint64_t wav_writer::duration_ms() const {
  return bytes_written() / format_.block_align() * 1000 / format_.sample_rate;
}

wav_result<void> wav_writer::usable() const {
  if (!fd_.valid()) {
    return wav_error{wav_errc::closed, "wav writer for " + path_ + " is closed"};
  }
  if (failure_) {
    return *failure_;
  }
  return {};
}

wav_result<void> wav_writer::fail(wav_error error) {
  failure_ = error;
  return error;
}

wav_result<void> wav_writer::append(std::span<const std::uint8_t> audio) {
  if (auto ok = usable(); !ok) {
    return ok;
  }
  const std::size_t frame = format_.block_align();
  if (audio.size() % frame != 0) {
    return wav_error{wav_errc::invalid_argument,
                     "append of " + std::to_string(audio.size()) + " bytes to " + path_ +
                         " is not a whole number of " + std::to_string(frame) + "-byte frames"};
  }
  // One pad byte is reserved so close() can always word-align the data chunk.
  if (data_offset_ - 8 + bytes_written() + audio.size() + 1 > max_riff_size) {
    return wav_error{wav_errc::too_large, "append of " + std::to_string(audio.size()) +
                                              " bytes would take " + path_ +
                                              " past the 4 GiB RIFF limit"};
  }
  while (!audio.empty()) {
    if (buffered_ == capacity_) {
      if (auto written = write_buffer(); !written) {
        return written;
      }
    }
    const std::size_t take = std::min(audio.size(), capacity_ - buffered_);
    std::memcpy(buffer_.get() + buffered_, audio.data(), take);
    buffered_ += take;
    audio = audio.subspan(take);
  }
  if (bytes_written() - checkpointed_ >= checkpoint_bytes()) {
    return checkpoint();
  }
  return {};
}

wav_result<void> wav_writer::append_silence(std::size_t frames) {
  if (auto ok = usable(); !ok) {
    return ok;
  }
  const std::uint8_t silence = format_.format_tag == wave_format_mulaw ? mulaw_silence : 0x00;
  const std::size_t frame = format_.block_align();
  // A block of silence on the stack, appended repeatedly: constant memory for any length.
  std::array<std::uint8_t, 1024> block{};
  block.fill(silence);
  const std::size_t frames_per_block = block.size() / frame;
  while (frames > 0) {
    const std::size_t take = std::min(frames, frames_per_block);
    if (auto appended = append(std::span<const std::uint8_t>(block).first(take * frame));
        !appended) {
      return appended;
    }
    frames -= take;
  }
  return {};
}

wav_result<void> wav_writer::write_buffer() {
  if (buffered_ == 0) {
    return {};
  }
  std::size_t written = 0;
  auto result =
      detail::pwrite_all(fd_.get(), std::span<const std::uint8_t>(buffer_.get(), buffered_),
                         data_offset_ + on_disk_, path_, written);
  on_disk_ += written;
  // Keep what did not reach the file at the front of the buffer.
  std::memmove(buffer_.get(), buffer_.get() + written, buffered_ - written);
  buffered_ -= written;
  if (!result) {
    return fail(result.error());
  }
  return {};
}

wav_result<void> wav_writer::write_header(std::uint64_t data_bytes, std::uint64_t pad_bytes) {
  std::array<std::uint8_t, max_header_bytes> header{};
  const std::size_t size = build_header(format_, data_bytes, pad_bytes, header);
  std::size_t written = 0;
  auto result = detail::pwrite_all(fd_.get(), std::span<const std::uint8_t>(header).first(size), 0,
                                   path_, written);
  if (!result) {
    return fail(result.error());
  }
  checkpointed_ = data_bytes;
  return {};
}

wav_result<void> wav_writer::flush_data() {
  if (auto ok = usable(); !ok) {
    return ok;
  }
  return write_buffer();
}

wav_result<void> wav_writer::checkpoint() {
  if (auto ok = usable(); !ok) {
    return ok;
  }
  if (auto written = write_buffer(); !written) {
    return written;
  }
  const std::uint64_t whole_frames = on_disk_ - on_disk_ % format_.block_align();
  return write_header(whole_frames, 0);
}

wav_result<void> wav_writer::close() {
  if (!fd_.valid()) {
    return {};
  }
  wav_result<void> outcome = failure_ ? wav_result<void>(*failure_) : wav_result<void>();
  if (outcome) {
    outcome = write_buffer();
  }
  // Even after a failure, make the header describe the audio that reached the file.
  const std::uint64_t whole_frames = on_disk_ - on_disk_ % format_.block_align();
  std::uint64_t pad = 0;
  if (outcome && whole_frames % 2 == 1 && whole_frames == on_disk_) {
    static constexpr std::array<std::uint8_t, 1> pad_byte{0};
    std::size_t written = 0;
    if (detail::pwrite_all(fd_.get(), pad_byte, data_offset_ + on_disk_, path_, written)) {
      pad = 1;
    }
  }
  failure_.reset();  // the header is rewritten below whatever happened before
  auto header = write_header(whole_frames, pad);
  if (outcome && !header) {
    outcome = header;
  }
  if (outcome) {
    outcome = detail::sync_data(fd_.get(), path_);
  }
  if (const int close_error = fd_.reset(); outcome && close_error != 0) {
    outcome = detail::errno_error(close_error, "cannot close", path_);
  }
  buffered_ = 0;
  return outcome;
}

}  // namespace switchboard::audio
