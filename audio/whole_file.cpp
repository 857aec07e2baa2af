#include "audio/whole_file.hpp"

#include "audio/posix_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <span>
#include <unistd.h>

namespace switchboard::audio {

namespace {

/// Creates a hidden temporary file beside `path`; a stale one of a crashed process is skipped.
wav_result<detail::unique_fd> create_temporary(const std::filesystem::path& path,
                                               std::string& temporary) {
  constexpr int max_attempts = 1000;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    temporary =
        (path.parent_path() / ("." + path.filename().string() + "." + std::to_string(::getpid()) +
                               "." + std::to_string(attempt) + ".partial"))
            .string();
    // 0640: call records are personal data; no world access.
    detail::unique_fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (fd.valid())
      return fd;
    if (errno != EEXIST)
      return detail::errno_error(errno, "cannot create", path.string());
  }
  return wav_error{wav_errc::already_exists, "no free temporary name for " + path.string()};
}

}  // namespace

wav_result<std::uint64_t> write_whole_file(const std::string& path, std::string_view content,
                                           if_file_exists existing) {
  const std::filesystem::path target(path);
  std::string temporary;
  auto fd = create_temporary(target, temporary);
  if (!fd)
    return fd.error();
  const auto discard = [&](wav_error error) -> wav_result<std::uint64_t> {
    fd->reset();
    detail::remove_file(temporary);
    return error;
  };
  std::size_t written = 0;
  const auto bytes =
      std::span(reinterpret_cast<const std::uint8_t*>(content.data()), content.size());
  if (auto put = detail::pwrite_all(fd->get(), bytes, 0, path, written); !put)
    return discard(put.error());
  // Synced before it takes the final name: after a power loss the name never points at a file
  // whose content did not reach the disk.
  if (auto synced = detail::sync_data(fd->get(), path); !synced)
    return discard(synced.error());
  if (const int close_error = fd->reset(); close_error != 0)
    return discard(detail::errno_error(close_error, "cannot close", path));
  if (existing == if_file_exists::fail) {
    if (::link(temporary.c_str(), path.c_str()) != 0) {
      auto error = detail::errno_error(errno, "cannot create", path);
      if (error.code == wav_errc::already_exists)
        error.message = path + " already exists; not overwriting";
      return discard(std::move(error));
    }
    detail::remove_file(temporary);
  } else if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return discard(detail::errno_error(errno, "cannot replace", path));
  }
  // The name itself is durable once the directory is synced. If that fails the file is still
  // whole under its name (or absent after a power loss), which is what this promises.
  (void)detail::sync_directory(target.parent_path().string());
  return static_cast<std::uint64_t>(content.size());
}

}  // namespace switchboard::audio
