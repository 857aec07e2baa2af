#include "audio/mixer.hpp"

#include "audio/mulaw.hpp"
#include "audio/posix_file.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace switchboard::audio {

namespace {

constexpr wav_format input_format = wav_format::mulaw_8k_mono();
constexpr std::uint32_t output_rate = 8000;

struct input_track {
  std::string role;  // "caller" or "agent", for messages
  std::string path;
  detail::unique_fd fd;
  wav_info info;
  dev_t device = 0;
  ino_t inode = 0;
};

wav_error with_role(wav_error error, const std::string& role) {
  error.message = role + " input: " + error.message;
  return error;
}

wav_result<input_track> open_input(std::string role, const std::string& path) {
  input_track track;
  track.role = std::move(role);
  track.path = path;
  auto fd = detail::open_existing(path, false);
  if (!fd) {
    return with_role(fd.error(), track.role);
  }
  track.fd = std::move(*fd);
  auto info = parse_wav_fd(track.fd.get(), path);
  if (!info) {
    return with_role(info.error(), track.role);
  }
  track.info = *info;
  if (track.info.format() != input_format) {
    return wav_error{wav_errc::unsupported_format, track.role + " input " + path + " is " +
                                                       describe(track.info.format()) +
                                                       ", expected " + describe(input_format)};
  }
  struct stat status {};
  if (::fstat(track.fd.get(), &status) != 0) {
    return with_role(detail::errno_error(errno, "cannot stat", path), track.role);
  }
  track.device = status.st_dev;
  track.inode = status.st_ino;
  return track;
}

/// Refuses an output name that exists (even as a dangling symlink) or that is one of the inputs.
wav_result<void> check_output(const std::string& output, const input_track& caller,
                              const input_track& agent) {
  struct stat link_status {};
  if (::lstat(output.c_str(), &link_status) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return detail::errno_error(errno, "cannot check output", output);
  }
  struct stat status {};
  if (::stat(output.c_str(), &status) == 0) {
    for (const input_track* input : {&caller, &agent}) {
      if (status.st_dev == input->device && status.st_ino == input->inode) {
        return wav_error{wav_errc::invalid_argument,
                         "output " + output + " is the " + input->role + " input " + input->path};
      }
    }
  }
  return wav_error{wav_errc::already_exists,
                   "output " + output + " already exists; not overwriting"};
}

/// A temporary output file that is removed unless it was published under its final name.
class temp_output {
 public:
  temp_output(std::string temp_path, wav_writer writer)
      : temp_path_(std::move(temp_path)), writer_(std::move(writer)) {}
  temp_output(temp_output&& other) noexcept
      : temp_path_(std::exchange(other.temp_path_, std::string())),
        writer_(std::move(other.writer_)) {}
  temp_output& operator=(temp_output&&) = delete;
  temp_output(const temp_output&) = delete;
  temp_output& operator=(const temp_output&) = delete;
  ~temp_output() {
    if (!temp_path_.empty()) {
      (void)writer_.close();
      detail::remove_file(temp_path_);
    }
  }

  wav_writer& writer() { return writer_; }

  /// Closes (syncs) the file and gives it its final name without ever replacing a file.
  wav_result<void> publish(const std::string& final_path) {
    if (auto closed = writer_.close(); !closed) {
      return closed;
    }
    if (::link(temp_path_.c_str(), final_path.c_str()) != 0) {
      auto error = detail::errno_error(errno, "cannot publish output", final_path);
      if (error.code == wav_errc::already_exists) {
        error.message = "output " + final_path + " appeared while mixing; not overwriting";
      }
      return error;
    }
    detail::remove_file(temp_path_);
    temp_path_.clear();
    return {};
  }

 private:
  std::string temp_path_;
  wav_writer writer_;
};

wav_result<temp_output> create_temp(const std::filesystem::path& out_dir,
                                    const std::string& final_name, const wav_format& format) {
  // Hidden, process-unique names; a stale one left by a crashed mixer is skipped, not reused.
  constexpr int max_attempts = 1000;
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    const std::string temp_path = (out_dir / ("." + final_name + "." + std::to_string(::getpid()) +
                                              "." + std::to_string(attempt) + ".partial"))
                                      .string();
    auto writer = wav_writer::create(temp_path, format);
    if (writer) {
      return temp_output(temp_path, std::move(*writer));
    }
    if (writer.error().code != wav_errc::already_exists) {
      return writer.error();
    }
  }
  return wav_error{wav_errc::already_exists,
                   "no free temporary name for " + final_name + " in " + out_dir.string()};
}

/// Reads `count` μ-law bytes of `track` from sample `position` into `out`.
wav_result<void> read_track(const input_track& track, std::uint64_t position, std::size_t count,
                            std::span<std::uint8_t> out) {
  auto got = detail::pread_full(track.fd.get(), out.first(count), track.info.data_offset + position,
                                track.path);
  if (!got) {
    return with_role(got.error(), track.role);
  }
  if (*got < count) {
    return wav_error{wav_errc::truncated,
                     track.role + " input " + track.path + " ended at audio byte " +
                         std::to_string(position + *got) + ", its header promised " +
                         std::to_string(track.info.data_bytes)};
  }
  return {};
}

struct mix_buffers {
  std::array<std::uint8_t, mix_block_frames> caller{};
  std::array<std::uint8_t, mix_block_frames> agent{};
  std::array<std::uint8_t, mix_block_frames * 4> stereo{};  // 2 channels x 16 bits
  std::array<std::uint8_t, mix_block_frames * 2> mono{};
};

}  // namespace

wav_result<mix_report> mix_tracks(const std::string& caller_path, const std::string& agent_path,
                                  const std::string& out_dir) {
  auto caller = open_input("caller", caller_path);
  if (!caller) {
    return caller.error();
  }
  auto agent = open_input("agent", agent_path);
  if (!agent) {
    return agent.error();
  }

  const std::filesystem::path directory(out_dir);
  std::error_code fs_error;
  std::filesystem::create_directories(directory, fs_error);
  if (fs_error) {
    return wav_error{wav_errc::cannot_open,
                     "cannot create output directory " + out_dir + ": " + fs_error.message()};
  }
  mix_report report;
  report.stereo_path = (directory / "stereo.wav").string();
  report.mono_path = (directory / "mono.wav").string();
  for (const std::string* output : {&report.stereo_path, &report.mono_path}) {
    if (auto free = check_output(*output, *caller, *agent); !free) {
      return free.error();
    }
  }

  auto stereo = create_temp(directory, "stereo.wav", wav_format::pcm16(2, output_rate));
  if (!stereo) {
    return stereo.error();
  }
  auto mono = create_temp(directory, "mono.wav", wav_format::pcm16(1, output_rate));
  if (!mono) {
    return mono.error();
  }

  report.caller_samples = caller->info.data_bytes;
  report.agent_samples = agent->info.data_bytes;
  report.caller_size_finalised = caller->info.size_finalised;
  report.agent_size_finalised = agent->info.size_finalised;
  report.frames = std::max(report.caller_samples, report.agent_samples);
  report.duration_ms = report.frames * 1000 / output_rate;

  auto buffers = std::make_unique<mix_buffers>();
  constexpr int int16_min = std::numeric_limits<std::int16_t>::min();
  constexpr int int16_max = std::numeric_limits<std::int16_t>::max();
  for (std::uint64_t position = 0; position < report.frames;) {
    const auto count = static_cast<std::size_t>(
        std::min<std::uint64_t>(mix_block_frames, report.frames - position));
    for (auto [track, samples, block] :
         {std::tuple{&*caller, report.caller_samples, std::span<std::uint8_t>(buffers->caller)},
          std::tuple{&*agent, report.agent_samples, std::span<std::uint8_t>(buffers->agent)}}) {
      const auto present = static_cast<std::size_t>(
          position < samples ? std::min<std::uint64_t>(count, samples - position) : 0);
      if (auto read = read_track(*track, position, present, block); !read) {
        return read.error();
      }
      // The shorter track continues as silence.
      std::fill(block.begin() + static_cast<std::ptrdiff_t>(present),
                block.begin() + static_cast<std::ptrdiff_t>(count), mulaw_silence);
    }
    for (std::size_t i = 0; i < count; ++i) {
      const std::int16_t left = decode_mulaw(buffers->caller[i]);
      const std::int16_t right = decode_mulaw(buffers->agent[i]);
      detail::put_le16(buffers->stereo, 4 * i, static_cast<std::uint16_t>(left));
      detail::put_le16(buffers->stereo, 4 * i + 2, static_cast<std::uint16_t>(right));
      // Two full-scale μ-law samples sum to ±64248: saturate instead of wrapping to the
      // opposite sign.
      const int sum = int{left} + int{right};
      const int clamped = std::clamp(sum, int16_min, int16_max);
      if (clamped != sum) {
        ++report.clipped_samples;
      }
      detail::put_le16(buffers->mono, 2 * i,
                       static_cast<std::uint16_t>(static_cast<std::int16_t>(clamped)));
    }
    if (auto appended = stereo->writer().append(
            std::span<const std::uint8_t>(buffers->stereo).first(4 * count));
        !appended) {
      return appended.error();
    }
    if (auto appended =
            mono->writer().append(std::span<const std::uint8_t>(buffers->mono).first(2 * count));
        !appended) {
      return appended.error();
    }
    position += count;
  }

  if (auto published = stereo->publish(report.stereo_path); !published) {
    return published.error();
  }
  if (auto published = mono->publish(report.mono_path); !published) {
    // Take back the stereo file we just published so a failed mix leaves no partial result.
    detail::remove_file(report.stereo_path);
    return published.error();
  }
  // Make the new names durable (the files themselves were synced by close()).
  if (detail::unique_fd dir(::open(out_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      dir.valid()) {
    (void)::fsync(dir.get());
  }
  return report;
}

}  // namespace switchboard::audio
