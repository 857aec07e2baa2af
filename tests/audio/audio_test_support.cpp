#include "audio_test_support.hpp"

#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"

#include <boost/json.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::audio::test {

namespace {

void put_le16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value & 0xFFu));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void put_le32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<std::uint8_t>((value >> shift) & 0xFFu));
  }
}

void put_id(std::vector<std::uint8_t>& out, std::string_view id) {
  for (std::size_t i = 0; i < 4; ++i) {
    out.push_back(static_cast<std::uint8_t>(i < id.size() ? id[i] : ' '));
  }
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

scratch_dir::scratch_dir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "switchboard-audio-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

scratch_dir::~scratch_dir() {
  std::error_code ignored;
  // Tests may leave read-only files or directories behind; make them removable first.
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ignored);
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + path);
  }
}

std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += "'";
  return quoted;
}

command_result run_command(const std::string& command) {
  command_result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  std::array<char, 4096> chunk{};
  std::size_t got = 0;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) {
    result.output.append(chunk.data(), got);
  }
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  }
  return result;
}

std::optional<ffprobe_info> run_ffprobe(const std::string& path) {
  const auto probe =
      run_command("ffprobe -v error -show_streams -show_format -of json " + shell_quote(path));
  if (probe.exit_status != 0) {
    return std::nullopt;
  }
  boost::system::error_code parse_error;
  const auto document = boost::json::parse(probe.output, parse_error);
  if (parse_error || !document.is_object()) {
    return std::nullopt;
  }
  const auto* streams = document.as_object().if_contains("streams");
  if (streams == nullptr || !streams->is_array() || streams->as_array().empty()) {
    return std::nullopt;
  }
  const auto& stream = streams->as_array().front().as_object();
  ffprobe_info info;
  // ffprobe prints sample_rate and duration as strings, channels as a number.
  if (const auto* codec = stream.if_contains("codec_name"); codec && codec->is_string()) {
    info.codec_name = std::string(codec->as_string());
  }
  if (const auto* rate = stream.if_contains("sample_rate"); rate && rate->is_string()) {
    info.sample_rate = static_cast<std::uint32_t>(std::stoul(std::string(rate->as_string())));
  }
  if (const auto* channels = stream.if_contains("channels"); channels && channels->is_int64()) {
    info.channels = static_cast<std::uint32_t>(channels->as_int64());
  }
  if (const auto* duration = stream.if_contains("duration"); duration && duration->is_string()) {
    info.duration_s = std::stod(std::string(duration->as_string()));
  }
  return info;
}

std::optional<soxi_info> run_soxi(const std::string& path) {
  const auto field = [&](const char* option) -> std::optional<std::string> {
    const auto result = run_command(std::string("soxi ") + option + " " + shell_quote(path));
    if (result.exit_status != 0) {
      return std::nullopt;
    }
    return trim(result.output);
  };
  const auto encoding = field("-e");
  const auto rate = field("-r");
  const auto channels = field("-c");
  const auto samples = field("-s");
  const auto duration = field("-D");
  if (!encoding || !rate || !channels || !samples || !duration) {
    return std::nullopt;
  }
  soxi_info info;
  info.encoding = *encoding;
  info.sample_rate = static_cast<std::uint32_t>(std::stoul(*rate));
  info.channels = static_cast<std::uint32_t>(std::stoul(*channels));
  info.samples = std::stoull(*samples);
  info.duration_s = std::stod(*duration);
  return info;
}

bool run_unprivileged(const std::function<bool()>& check) {
  if (::geteuid() != 0) {
    return check();
  }
  const pid_t child = ::fork();
  if (child < 0) {
    return false;
  }
  if (child == 0) {
    constexpr unsigned nobody = 65534;
    if (::setgid(nobody) != 0 || ::setuid(nobody) != 0) {
      ::_exit(2);
    }
    ::_exit(check() ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      return false;
    }
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

wav_builder::wav_builder(std::string_view form_type) {
  put_id(image_, "RIFF");
  put_le32(image_, 0);
  put_id(image_, form_type);
}

wav_builder& wav_builder::riff_size(std::uint32_t size) {
  riff_size_ = size;
  return *this;
}

wav_builder& wav_builder::fmt(std::uint16_t format_tag, std::uint16_t channels,
                              std::uint32_t sample_rate, std::uint16_t bits_per_sample,
                              bool with_cb_size) {
  std::vector<std::uint8_t> body;
  const auto block_align = static_cast<std::uint16_t>(channels * ((bits_per_sample + 7) / 8));
  put_le16(body, format_tag);
  put_le16(body, channels);
  put_le32(body, sample_rate);
  put_le32(body, sample_rate * block_align);
  put_le16(body, block_align);
  put_le16(body, bits_per_sample);
  if (with_cb_size) {
    put_le16(body, 0);
  }
  return chunk("fmt ", body);
}

wav_builder& wav_builder::fmt_raw(std::span<const std::uint8_t> body) {
  return chunk("fmt ", body);
}

wav_builder& wav_builder::fact(std::uint32_t sample_count) {
  std::vector<std::uint8_t> body;
  put_le32(body, sample_count);
  return chunk("fact", body);
}

wav_builder& wav_builder::chunk(std::string_view id, std::span<const std::uint8_t> body,
                                std::optional<std::uint32_t> declared_size) {
  put_id(image_, id);
  put_le32(image_, declared_size.value_or(static_cast<std::uint32_t>(body.size())));
  image_.insert(image_.end(), body.begin(), body.end());
  if (body.size() % 2 == 1) {
    image_.push_back(0);
  }
  return *this;
}

wav_builder& wav_builder::data(std::span<const std::uint8_t> audio,
                               std::optional<std::uint32_t> declared_size) {
  put_id(image_, "data");
  put_le32(image_, declared_size.value_or(static_cast<std::uint32_t>(audio.size())));
  image_.insert(image_.end(), audio.begin(), audio.end());
  return *this;
}

wav_builder& wav_builder::raw(std::span<const std::uint8_t> bytes) {
  image_.insert(image_.end(), bytes.begin(), bytes.end());
  return *this;
}

std::vector<std::uint8_t> wav_builder::bytes() const {
  std::vector<std::uint8_t> image = image_;
  const auto size = riff_size_.value_or(static_cast<std::uint32_t>(image.size() - 8));
  for (std::size_t i = 0; i < 4; ++i) {
    image[4 + i] = static_cast<std::uint8_t>((size >> (8 * i)) & 0xFFu);
  }
  return image;
}

std::vector<std::uint8_t> mulaw_pattern(std::size_t samples, std::uint8_t start) {
  std::vector<std::uint8_t> codes(samples);
  for (std::size_t i = 0; i < samples; ++i) {
    codes[i] = static_cast<std::uint8_t>((start + i * 37) & 0xFFu);
  }
  return codes;
}

std::int16_t le16_at(std::span<const std::uint8_t> bytes, std::size_t index) {
  return static_cast<std::int16_t>(
      static_cast<std::uint16_t>(bytes[2 * index] | (bytes[2 * index + 1] << 8)));
}

std::optional<std::vector<std::uint8_t>> wav_data(const std::string& path) {
  const auto info = parse_wav_file(path);
  if (!info)
    return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(info->data_offset));
  std::vector<std::uint8_t> bytes(info->data_bytes);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in)
    return std::nullopt;
  return bytes;
}

void write_mulaw_wav(const std::string& path, std::span<const std::uint8_t> codes) {
  auto writer = wav_writer::create(path, wav_format::mulaw_8k_mono());
  if (!writer)
    throw std::runtime_error(writer.error().message);
  if (auto appended = writer->append(codes); !appended)
    throw std::runtime_error(appended.error().message);
  if (auto closed = writer->close(); !closed)
    throw std::runtime_error(closed.error().message);
}

}  // namespace switchboard::audio::test
