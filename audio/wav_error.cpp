#include "audio/wav_error.hpp"

#include <stdexcept>

namespace switchboard::audio {

std::string_view to_string(wav_errc code) {
  switch (code) {
    case wav_errc::cannot_open:
      return "cannot_open";
    case wav_errc::not_riff_wave:
      return "not_riff_wave";
    case wav_errc::no_fmt_chunk:
      return "no_fmt_chunk";
    case wav_errc::no_data_chunk:
      return "no_data_chunk";
    case wav_errc::truncated:
      return "truncated";
    case wav_errc::unsupported_format:
      return "unsupported_format";
    case wav_errc::already_exists:
      return "already_exists";
    case wav_errc::invalid_argument:
      return "invalid_argument";
    case wav_errc::disk_full:
      return "disk_full";
    case wav_errc::io_error:
      return "io_error";
    case wav_errc::too_large:
      return "too_large";
    case wav_errc::closed:
      return "closed";
  }
  return "unknown";
}

void throw_exception_from_error(const wav_error& error, const boost::source_location& location) {
  throw std::runtime_error(std::string(to_string(error.code)) + ": " + error.message + " (at " +
                           location.file_name() + ":" + std::to_string(location.line()) + ")");
}

}  // namespace switchboard::audio
