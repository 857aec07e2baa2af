#include "audio/wav_repair.hpp"

#include "audio/posix_file.hpp"
#include "audio/wav_format.hpp"

#include <array>
#include <cerrno>
#include <unistd.h>

namespace switchboard::audio {

namespace {

constexpr std::uint64_t max_riff_size = 0xFFFFFFFEu;  // 0xFFFFFFFF reads as "not finalised"

struct size_fields {
  std::uint32_t riff_size = 0;
  std::uint32_t data_size = 0;
  std::optional<std::uint32_t> fact_count;

  friend bool operator==(const size_fields&, const size_fields&) = default;
};

bool field_finalised(std::uint32_t value) {
  return value != 0 && value != 0xFFFFFFFFu;
}

wav_result<size_fields> consistent_fields(const wav_info& info, const std::string& path) {
  const std::uint64_t available = info.file_size - info.data_offset;
  const std::uint64_t declared_data = info.data_size_field;
  const std::uint64_t declared_data_end = info.data_offset + declared_data + (declared_data & 1u);
  const std::uint64_t declared_riff_end = 8 + std::uint64_t{info.riff_size_field};

  size_fields fields;
  // Chunks after the data that the RIFF size declares and the file holds are another tool's
  // (LIST, id3 ...): keep them and the sizes that describe them.
  const bool trailing_chunks_declared =
      field_finalised(info.riff_size_field) && field_finalised(info.data_size_field) &&
      declared_data <= available && declared_riff_end >= declared_data_end + 8 &&
      declared_riff_end <= info.file_size + 1;
  std::uint64_t data = 0;
  std::uint64_t riff = 0;
  if (trailing_chunks_declared) {
    data = declared_data - declared_data % info.block_align;
    riff = info.riff_size_field;
  } else {
    std::uint64_t audio_bytes = available;
    if (field_finalised(info.data_size_field) && declared_data % 2 == 1 &&
        available == declared_data + 1) {
      // The byte after odd data is the RIFF pad byte close() wrote, not audio.
      audio_bytes = declared_data;
    }
    data = audio_bytes - audio_bytes % info.block_align;
    // Count the pad byte only if the file holds it.
    const std::uint64_t pad = (data % 2 == 1 && info.file_size > info.data_offset + data) ? 1 : 0;
    riff = info.data_offset - 8 + data + pad;
  }
  if (riff > max_riff_size) {
    return wav_error{wav_errc::too_large, path + ": " + std::to_string(data) +
                                              " bytes of audio do not fit the 32-bit RIFF sizes"};
  }
  fields.riff_size = static_cast<std::uint32_t>(riff);
  fields.data_size = static_cast<std::uint32_t>(data);
  if (info.fact_sample_count) {
    // dwSampleLength counts sample frames per channel.
    fields.fact_count = static_cast<std::uint32_t>(data / info.block_align);
  }
  return fields;
}

wav_result<void> write_field(int fd, std::uint64_t offset, std::uint32_t value,
                             const std::string& path) {
  std::array<std::uint8_t, 4> bytes{};
  detail::put_le32(bytes, 0, value);
  std::size_t written = 0;
  return detail::pwrite_all(fd, bytes, offset, path, written);
}

}  // namespace

wav_result<repair_report> repair_wav(const std::string& path) {
  wav_info info;
  {
    auto fd = detail::open_existing(path, false);
    if (!fd) {
      return fd.error();
    }
    auto parsed = parse_wav_fd(fd->get(), path, wav_strictness::lenient);
    if (!parsed) {
      return parsed.error();
    }
    info = *parsed;
  }
  const size_fields current{info.riff_size_field, info.data_size_field, info.fact_sample_count};
  auto wanted = consistent_fields(info, path);
  if (!wanted) {
    return wanted.error();
  }

  repair_report report;
  report.path = path;
  report.old_data_bytes = info.data_size_field;
  report.new_data_bytes = wanted->data_size;
  if (current == *wanted) {
    report.summary = "already consistent";
    return report;
  }

  auto fd = detail::open_existing(path, true);
  if (!fd) {
    return fd.error();
  }
  // The three fields lie in the first 64 bytes; should repair itself be interrupted, running
  // it again finishes the job (it only ever derives the fields from the file length).
  if (auto done = write_field(fd->get(), 4, wanted->riff_size, path); !done) {
    return done.error();
  }
  if (info.fact_field_offset && wanted->fact_count) {
    if (auto done = write_field(fd->get(), *info.fact_field_offset, *wanted->fact_count, path);
        !done) {
      return done.error();
    }
  }
  if (auto done = write_field(fd->get(), info.data_size_field_offset(), wanted->data_size, path);
      !done) {
    return done.error();
  }
  if (auto synced = detail::sync_data(fd->get(), path); !synced) {
    return synced.error();
  }
  if (const int close_error = fd->reset(); close_error != 0) {
    return detail::errno_error(close_error, "cannot close", path);
  }
  report.changed = true;
  report.summary = "data size " + std::to_string(report.old_data_bytes) + " -> " +
                   std::to_string(report.new_data_bytes) + " bytes";
  if (current.riff_size != wanted->riff_size) {
    report.summary += ", RIFF size " + std::to_string(current.riff_size) + " -> " +
                      std::to_string(wanted->riff_size);
  }
  return report;
}

}  // namespace switchboard::audio
