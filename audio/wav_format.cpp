#include "audio/wav_format.hpp"

#include "audio/posix_file.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace switchboard::audio {

namespace {

using detail::get_le16;
using detail::get_le32;

constexpr std::uint32_t unfinalised_size = 0xFFFFFFFFu;
constexpr std::uint64_t riff_header_bytes = 12;  // "RIFF" size "WAVE"
constexpr std::uint64_t chunk_header_bytes = 8;  // id size
constexpr std::uint32_t min_fmt_bytes = 16;      // PCMWAVEFORMAT; WAVEFORMATEX adds cbSize

class memory_source {
 public:
  explicit memory_source(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t size() const { return bytes_.size(); }
  wav_result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
    if (offset >= bytes_.size()) {
      return std::size_t{0};
    }
    const auto count =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), bytes_.size() - offset));
    std::memcpy(out.data(), bytes_.data() + offset, count);
    return count;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

class fd_source {
 public:
  fd_source(int fd, std::uint64_t size, std::string_view name)
      : fd_(fd), size_(size), name_(name) {}
  std::uint64_t size() const { return size_; }
  wav_result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
    return detail::pread_full(fd_, out, offset, name_);
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string_view name_;
};

std::string quote_id(std::span<const std::uint8_t> id) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text = "'";
  for (const std::uint8_t byte : id) {
    if (byte >= 0x20 && byte < 0x7F) {
      text += static_cast<char>(byte);
    } else {
      text += "\\x";
      text += hex[byte >> 4];
      text += hex[byte & 0x0F];
    }
  }
  text += "'";
  return text;
}

bool id_is(std::span<const std::uint8_t> id, const char (&expected)[5]) {
  return std::memcmp(id.data(), expected, 4) == 0;
}

std::string name_str(std::string_view name) {
  return std::string(name);
}

wav_result<void> check_format(const wav_info& info, std::string_view name) {
  const auto fail = [&](const std::string& why) -> wav_result<void> {
    return wav_error{wav_errc::unsupported_format, name_str(name) + ": " + why};
  };
  if (info.format_tag != wave_format_pcm && info.format_tag != wave_format_mulaw) {
    return fail("format tag " + std::to_string(info.format_tag) +
                (info.format_tag == 0xFFFE ? " (WAVE_FORMAT_EXTENSIBLE)" : "") +
                " is not supported, expected 1 (PCM) or 7 (mu-law)");
  }
  if (info.channels == 0) {
    return fail("fmt chunk says 0 channels");
  }
  if (info.sample_rate == 0) {
    return fail("fmt chunk says a sample rate of 0 Hz");
  }
  if (info.format_tag == wave_format_mulaw && info.bits_per_sample != 8) {
    return fail("mu-law with " + std::to_string(info.bits_per_sample) +
                " bits per sample, expected 8");
  }
  if (info.format_tag == wave_format_pcm && info.bits_per_sample != 8 &&
      info.bits_per_sample != 16 && info.bits_per_sample != 24 && info.bits_per_sample != 32) {
    return fail("PCM with " + std::to_string(info.bits_per_sample) +
                " bits per sample, expected 8, 16, 24 or 32");
  }
  const auto expected_align = info.format().block_align();
  if (info.block_align != expected_align) {
    return fail("block_align is " + std::to_string(info.block_align) + ", expected " +
                std::to_string(expected_align) + " for " + describe(info.format()));
  }
  return {};
}

template <typename Source>
wav_result<wav_info> scan(const Source& source, std::string_view name, wav_strictness strictness) {
  const bool strict = strictness == wav_strictness::strict;
  wav_info info;
  info.file_size = source.size();
  const std::uint64_t size = info.file_size;

  if (size == 0) {
    return wav_error{wav_errc::not_riff_wave,
                     name_str(name) + " is empty (0 bytes), expected a RIFF/WAVE header"};
  }
  std::array<std::uint8_t, riff_header_bytes> riff{};
  auto got = source.read_at(0, riff);
  if (!got) {
    return got.error();
  }
  if (*got < riff.size()) {
    return wav_error{wav_errc::not_riff_wave, name_str(name) + " is " + std::to_string(size) +
                                                  " bytes, too short for a RIFF/WAVE header (12)"};
  }
  const std::span<const std::uint8_t> riff_view(riff);
  if (!id_is(riff_view.first(4), "RIFF")) {
    return wav_error{
        wav_errc::not_riff_wave,
        name_str(name) + " starts with " + quote_id(riff_view.first(4)) + ", expected 'RIFF'"};
  }
  if (!id_is(riff_view.subspan(8, 4), "WAVE")) {
    return wav_error{wav_errc::not_riff_wave, name_str(name) + " is RIFF of form type " +
                                                  quote_id(riff_view.subspan(8, 4)) +
                                                  ", expected 'WAVE'"};
  }
  info.riff_size_field = get_le32(riff_view, 4);
  std::uint64_t walk_end = size;
  if (info.riff_size_field == 0 || info.riff_size_field == unfinalised_size) {
    info.size_finalised = false;
  } else {
    const std::uint64_t riff_end = 8 + std::uint64_t{info.riff_size_field};
    // One byte of slack: writers disagree on whether a final odd chunk's pad byte is counted
    // and often do not write it.
    if (strict && riff_end > size + 1) {
      return wav_error{wav_errc::truncated, name_str(name) + ": RIFF size field says the file is " +
                                                std::to_string(riff_end) + " bytes, it holds " +
                                                std::to_string(size)};
    }
    walk_end = std::min(riff_end, size);
  }

  bool have_fmt = false;
  bool have_data = false;
  std::uint64_t position = riff_header_bytes;
  while (position + chunk_header_bytes <= walk_end) {
    std::array<std::uint8_t, chunk_header_bytes> header{};
    got = source.read_at(position, header);
    if (!got) {
      return got.error();
    }
    if (*got < header.size()) {
      break;
    }
    const std::span<const std::uint8_t> header_view(header);
    const auto id = header_view.first(4);
    const std::uint32_t chunk_size = get_le32(header_view, 4);
    const std::uint64_t body = position + chunk_header_bytes;
    const std::uint64_t available = size - body;

    if (id_is(id, "data") && !have_data) {
      have_data = true;
      info.data_offset = body;
      info.data_size_field = chunk_size;
      // A streamed header that was never rewritten: 0xFFFFFFFF, or 0 with audio after it.
      const bool streamed_size =
          chunk_size == unfinalised_size || (chunk_size == 0 && available > 0);
      if (streamed_size) {
        info.size_finalised = false;
        info.data_bytes = available;
      } else if (chunk_size > available) {
        if (strict) {
          return wav_error{wav_errc::truncated,
                           name_str(name) + ": data chunk at offset " + std::to_string(body) +
                               " claims " + std::to_string(chunk_size) + " bytes, the file holds " +
                               std::to_string(available)};
        }
        info.data_bytes = available;
      } else {
        info.data_bytes = chunk_size;
      }
      if (have_fmt || streamed_size) {
        break;  // fmt and fact precede data in practice; nothing after data matters to us
      }
    } else if (id_is(id, "fmt ") && !have_fmt) {
      if (chunk_size < min_fmt_bytes) {
        return wav_error{wav_errc::unsupported_format,
                         name_str(name) + ": fmt chunk is " + std::to_string(chunk_size) +
                             " bytes, expected at least " + std::to_string(min_fmt_bytes)};
      }
      std::array<std::uint8_t, min_fmt_bytes> fmt{};
      got = source.read_at(body, fmt);
      if (!got) {
        return got.error();
      }
      if (*got < fmt.size() || (strict && chunk_size > available)) {
        return wav_error{wav_errc::truncated,
                         name_str(name) + ": fmt chunk claims " + std::to_string(chunk_size) +
                             " bytes, the file holds " + std::to_string(available)};
      }
      const std::span<const std::uint8_t> fmt_view(fmt);
      info.format_tag = get_le16(fmt_view, 0);
      info.channels = get_le16(fmt_view, 2);
      info.sample_rate = get_le32(fmt_view, 4);
      info.byte_rate = get_le32(fmt_view, 8);
      info.block_align = get_le16(fmt_view, 12);
      info.bits_per_sample = get_le16(fmt_view, 14);
      have_fmt = true;
    } else if (id_is(id, "fact") && !info.fact_sample_count && chunk_size >= 4) {
      std::array<std::uint8_t, 4> fact{};
      got = source.read_at(body, fact);
      if (!got) {
        return got.error();
      }
      if (*got == fact.size()) {
        info.fact_sample_count = get_le32(fact, 0);
        info.fact_field_offset = body;
      }
    }
    // Chunks are word aligned: an odd-sized body is followed by one pad byte.
    const std::uint64_t next = body + chunk_size + (chunk_size & 1u);
    if (next > walk_end && !have_data && strict) {
      return wav_error{wav_errc::truncated,
                       name_str(name) + ": chunk " + quote_id(id) + " at offset " +
                           std::to_string(position) + " claims " + std::to_string(chunk_size) +
                           " bytes, the file holds " + std::to_string(available)};
    }
    position = next;
  }

  if (!have_fmt) {
    return wav_error{wav_errc::no_fmt_chunk, name_str(name) + " has no 'fmt ' chunk"};
  }
  if (!have_data) {
    return wav_error{wav_errc::no_data_chunk, name_str(name) + " has no 'data' chunk"};
  }
  if (auto checked = check_format(info, name); !checked) {
    return checked.error();
  }
  return info;
}

}  // namespace

std::string describe(const wav_format& format) {
  std::string text;
  switch (format.format_tag) {
    case wave_format_pcm:
      text = "PCM";
      break;
    case wave_format_mulaw:
      text = "mu-law";
      break;
    default:
      text = "format tag " + std::to_string(format.format_tag);
      break;
  }
  text += " " + std::to_string(format.bits_per_sample) + "-bit ";
  switch (format.channels) {
    case 1:
      text += "mono";
      break;
    case 2:
      text += "stereo";
      break;
    default:
      text += std::to_string(format.channels) + " channels";
      break;
  }
  text += " " + std::to_string(format.sample_rate) + " Hz";
  return text;
}

wav_result<wav_info> parse_wav_bytes(std::span<const std::uint8_t> file_bytes,
                                     std::string_view name, wav_strictness strictness) {
  return scan(memory_source(file_bytes), name, strictness);
}

wav_result<wav_info> parse_wav_fd(int fd, std::string_view name, wav_strictness strictness) {
  auto size = detail::file_size(fd, name);
  if (!size) {
    return size.error();
  }
  return scan(fd_source(fd, *size, name), name, strictness);
}

wav_result<wav_info> parse_wav_file(const std::string& path, wav_strictness strictness) {
  auto fd = detail::open_existing(path, false);
  if (!fd) {
    return fd.error();
  }
  return parse_wav_fd(fd->get(), path, strictness);
}

}  // namespace switchboard::audio
