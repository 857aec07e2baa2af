#include "audio/posix_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace switchboard::audio::detail {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int unique_fd::reset() {
  if (fd_ < 0) {
    return 0;
  }
  // POSIX leaves the descriptor state unspecified after EINTR from close(); Linux has always
  // released it, so retrying could close somebody else's descriptor.
  const int result = ::close(fd_);
  fd_ = -1;
  return result == 0 ? 0 : errno;
}

wav_error errno_error(int error_number, std::string_view what, std::string_view path) {
  wav_errc code = wav_errc::io_error;
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      code = wav_errc::disk_full;
      break;
    case EEXIST:
      code = wav_errc::already_exists;
      break;
    case ENOENT:
    case EACCES:
    case EPERM:
    case EISDIR:
    case ENOTDIR:
      code = wav_errc::cannot_open;
      break;
    default:
      break;
  }
  std::string message;
  message.append(what).append(" ").append(path).append(": ");
  message += std::generic_category().message(error_number);
  return {code, std::move(message)};
}

wav_result<unique_fd> open_existing(const std::string& path, bool writable) {
  const int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC;
  unique_fd fd(::open(path.c_str(), flags));
  if (!fd.valid()) {
    const int error_number = errno;
    auto error = errno_error(error_number, "cannot open", path);
    error.code = wav_errc::cannot_open;
    return error;
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) {
    return errno_error(errno, "cannot stat", path);
  }
  if (!S_ISREG(status.st_mode)) {
    return wav_error{wav_errc::cannot_open, "cannot open " + path + ": not a regular file"};
  }
  return fd;
}

wav_result<std::uint64_t> file_size(int fd, std::string_view path) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    return errno_error(errno, "cannot stat", path);
  }
  return static_cast<std::uint64_t>(status.st_size);
}

wav_result<std::size_t> pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset,
                                   std::string_view path) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t got =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(errno, "cannot read", path);
    }
    if (got == 0) {
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
}

wav_result<void> pwrite_all(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset,
                            std::string_view path, std::size_t& written) {
  written = 0;
  while (written < bytes.size()) {
    const ssize_t put = ::pwrite(fd, bytes.data() + written, bytes.size() - written,
                                 static_cast<off_t>(offset + written));
    if (put < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(errno, "cannot write", path);
    }
    written += static_cast<std::size_t>(put);
  }
  return {};
}

}  // namespace switchboard::audio::detail
