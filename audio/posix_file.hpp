#pragma once
// Internal to the audio library: an owning file descriptor and the pread/pwrite loops the WAV
// reader, writer, repair and mixer share. Positioned I/O only (never the file offset), so the
// header can be rewritten in place while data keeps being appended.

#include "audio/wav_error.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace switchboard::audio::detail {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept;
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  /// Closes the descriptor; returns the errno of close() or 0.
  int reset();

 private:
  int fd_ = -1;
};

/// Maps an errno to our code: ENOSPC/EDQUOT -> disk_full, EEXIST -> already_exists,
/// ENOENT/EACCES/EPERM/EISDIR -> cannot_open, anything else -> io_error.
wav_error errno_error(int error_number, std::string_view what, std::string_view path);

/// Opens an existing file for reading (or reading and writing) and checks it is a regular file.
wav_result<unique_fd> open_existing(const std::string& path, bool writable);

/// Size of the file behind `fd`, from fstat.
wav_result<std::uint64_t> file_size(int fd, std::string_view path);

/// Reads up to out.size() bytes at `offset`, retrying short reads and EINTR; returns the count
/// read, which is smaller only at end of file.
wav_result<std::size_t> pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset,
                                   std::string_view path);

/// Writes all of `bytes` at `offset`, retrying short writes and EINTR. On failure `written` says
/// how many bytes did reach the file. Every write goes through the fault switch
/// (disk_fault.hpp), which is off unless a test or SWITCHBOARD_FAULT_DISK turns it on.
wav_result<void> pwrite_all(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset,
                            std::string_view path, std::size_t& written);

/// unlink(2) through the fault switch: a full disk's space comes back when the last name of a
/// file goes, so an abandoned temporary file returns its bytes to the budget. Errors ignored
/// (only files this library created are removed, and a leftover is harmless).
void remove_file(const std::string& path);

/// fdatasync through the fault switch (disk_fault.hpp: a delay applies to syncs too).
wav_result<void> sync_data(int fd, std::string_view path);

/// Flushes a directory's entries (new or renamed names) to stable storage; errors are returned
/// for the caller to decide (a name that is not durable yet is still a whole file).
wav_result<void> sync_directory(const std::string& directory);

/// Little-endian field helpers (RIFF is little-endian throughout).
inline void put_le16(std::span<std::uint8_t> out, std::size_t at, std::uint16_t value) {
  out[at] = static_cast<std::uint8_t>(value & 0xFFu);
  out[at + 1] = static_cast<std::uint8_t>(value >> 8);
}
inline void put_le32(std::span<std::uint8_t> out, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    out[at + i] = static_cast<std::uint8_t>((value >> (8 * i)) & 0xFFu);
  }
}
inline std::uint16_t get_le16(std::span<const std::uint8_t> in, std::size_t at) {
  return static_cast<std::uint16_t>(in[at] | (in[at + 1] << 8));
}
inline std::uint32_t get_le32(std::span<const std::uint8_t> in, std::size_t at) {
  return static_cast<std::uint32_t>(in[at]) | (static_cast<std::uint32_t>(in[at + 1]) << 8) |
         (static_cast<std::uint32_t>(in[at + 2]) << 16) |
         (static_cast<std::uint32_t>(in[at + 3]) << 24);
}

}  // namespace switchboard::audio::detail
