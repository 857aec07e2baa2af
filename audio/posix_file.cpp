#include "audio/posix_file.hpp"

#include "audio/disk_fault.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace switchboard::audio {

namespace {

// The fault switch. Read on every write, so lock-free: with no fault the cost is one relaxed
// load. Set rarely (tests, start-up), so the order of the stores below is all the
// synchronisation a writer needs: the budget is in place before `limited` says to use it.
struct disk_fault_state {
  std::atomic<bool> active{false};
  std::atomic<bool> limited{false};
  std::atomic<std::uint64_t> budget{0};
  std::atomic<std::int64_t> delay_ms{0};

  disk_fault_state() {
    const char* text = std::getenv(std::string(disk_fault_variable).c_str());
    if (text == nullptr || *text == '\0')
      return;
    std::string error;
    const auto fault = parse_disk_fault(text, error);
    if (!fault) {
      // A test hook set wrongly would make a chaos run prove nothing: stop at once.
      std::fprintf(stderr, "%s: %s\n", std::string(disk_fault_variable).c_str(), error.c_str());
      std::_Exit(2);
    }
    install(*fault);
  }

  void install(const disk_fault& fault) {
    active.store(false);
    budget.store(fault.enospc_after_bytes.value_or(0));
    limited.store(fault.enospc_after_bytes.has_value());
    delay_ms.store(fault.delay.count());
    active.store(fault.enospc_after_bytes.has_value() || fault.delay.count() > 0);
    {
      // Writes waiting in a delay wake and look again: a stalled disk that recovers.
      std::lock_guard lock(delay_mutex);
      ++generation;
    }
    delay_changed.notify_all();
  }

  /// Takes up to `wanted` bytes of growth from the budget; returns what was granted.
  std::uint64_t take(std::uint64_t wanted) {
    std::uint64_t left = budget.load();
    std::uint64_t granted = 0;
    do {
      granted = std::min(left, wanted);
    } while (!budget.compare_exchange_weak(left, left - granted));
    return granted;
  }

  void give_back(std::uint64_t bytes) { budget.fetch_add(bytes); }

  /// Waits out the delay in force, or until the fault is changed or cleared.
  void delay() {
    if (delay_ms.load(std::memory_order_relaxed) <= 0)
      return;
    std::unique_lock lock(delay_mutex);
    // Read under the lock: a fault installed from here on wakes this wait.
    const auto ms = delay_ms.load();
    const auto waited_from = generation;
    delay_changed.wait_for(lock, std::chrono::milliseconds(ms),
                           [&] { return generation != waited_from; });
  }

  std::mutex delay_mutex;
  std::condition_variable delay_changed;
  std::uint64_t generation = 0;  // of the fault installed; guarded by delay_mutex
};

disk_fault_state& fault_state() {
  static disk_fault_state state;
  return state;
}

// Reads SWITCHBOARD_FAULT_DISK when the program starts, so a wrong value stops it before any
// call rather than at its first recording.
[[maybe_unused]] const bool fault_read_at_start = (fault_state(), true);

bool parse_count(std::string_view text, std::uint64_t& out) {
  const auto* end = text.data() + text.size();
  const auto [at, errc] = std::from_chars(text.data(), end, out);
  return errc == std::errc() && at == end && !text.empty();
}

}  // namespace

std::optional<disk_fault> parse_disk_fault(std::string_view text, std::string& error) {
  disk_fault fault;
  if (text.empty()) {
    error = "empty fault";
    return std::nullopt;
  }
  for (bool more = true; more;) {
    const auto comma = text.find(',');
    more = comma != std::string_view::npos;
    const auto item = text.substr(0, comma);
    text = more ? text.substr(comma + 1) : std::string_view();
    const auto colon = item.find(':');
    const auto kind = item.substr(0, colon);
    const auto value =
        colon == std::string_view::npos ? std::string_view() : item.substr(colon + 1);
    std::uint64_t count = 0;
    if (kind != "enospc-after" && kind != "delay-ms") {
      error = "unknown fault \"" + std::string(kind) + "\" (known: enospc-after, delay-ms)";
      return std::nullopt;
    }
    if (!parse_count(value, count)) {
      error = "\"" + std::string(item) + "\": expected enospc-after:BYTES or delay-ms:N";
      return std::nullopt;
    }
    if (kind == "enospc-after")
      fault.enospc_after_bytes = count;
    else
      fault.delay = std::chrono::milliseconds(count);
  }
  return fault;
}

void set_disk_fault(const disk_fault& fault) {
  fault_state().install(fault);
}

void clear_disk_fault() {
  fault_state().install(disk_fault{});
}

std::optional<disk_fault> current_disk_fault() {
  auto& state = fault_state();
  if (!state.active.load())
    return std::nullopt;
  disk_fault fault;
  if (state.limited.load())
    fault.enospc_after_bytes = state.budget.load();
  fault.delay = std::chrono::milliseconds(state.delay_ms.load());
  return fault;
}

}  // namespace switchboard::audio

namespace switchboard::audio::detail {

namespace {

/// pwrite(2) as the fault switch lets it happen: delayed, or cut short and then failing with
/// ENOSPC once the growth budget is spent.
ssize_t pwrite_through_faults(int fd, const std::uint8_t* data, std::size_t size,
                              std::uint64_t offset) {
  auto& faults = fault_state();
  if (!faults.active.load(std::memory_order_relaxed))
    return ::pwrite(fd, data, size, static_cast<off_t>(offset));
  faults.delay();
  if (faults.limited.load()) {
    struct stat status {};
    if (::fstat(fd, &status) != 0)
      return -1;
    const auto current_end = static_cast<std::uint64_t>(status.st_size);
    const std::uint64_t write_end = offset + size;
    if (write_end > current_end) {
      const std::uint64_t growth = write_end - current_end;
      const std::uint64_t granted = faults.take(growth);
      if (granted < growth) {
        const std::uint64_t allowed_end = current_end + granted;
        if (allowed_end <= offset) {
          errno = ENOSPC;
          return -1;
        }
        size = static_cast<std::size_t>(allowed_end - offset);
      }
    }
  }
  return ::pwrite(fd, data, size, static_cast<off_t>(offset));
}

}  // namespace

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
    const ssize_t put =
        pwrite_through_faults(fd, bytes.data() + written, bytes.size() - written, offset + written);
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

void remove_file(const std::string& path) {
  auto& faults = fault_state();
  struct stat status {};
  const bool counted = faults.active.load(std::memory_order_relaxed) && faults.limited.load() &&
                       ::stat(path.c_str(), &status) == 0;
  // Space comes back only with the last name (a temporary file already linked keeps its blocks).
  if (::unlink(path.c_str()) == 0 && counted && status.st_nlink == 1)
    faults.give_back(static_cast<std::uint64_t>(status.st_size));
}

wav_result<void> sync_data(int fd, std::string_view path) {
  auto& faults = fault_state();
  if (faults.active.load(std::memory_order_relaxed))
    faults.delay();
  if (::fdatasync(fd) != 0)
    return errno_error(errno, "cannot sync", path);
  return {};
}

wav_result<void> sync_directory(const std::string& directory) {
  unique_fd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid())
    return errno_error(errno, "cannot open directory", directory);
  if (::fsync(dir.get()) != 0)
    return errno_error(errno, "cannot sync directory", directory);
  return {};
}

}  // namespace switchboard::audio::detail
