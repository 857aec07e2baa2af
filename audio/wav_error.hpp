#pragma once
// The one error type of the audio library: every WAV parse, write, repair and mix failure is
// returned as a value (boost::system::result<T, wav_error>), never thrown on the data path.
// The message names what was wrong: the file, the field, and expected vs found.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace switchboard::audio {

enum class wav_errc {
  cannot_open,         // missing file, no permission, or not a regular file
  not_riff_wave,       // empty, garbage, or RIFF but not WAVE
  no_fmt_chunk,        // RIFF/WAVE without a "fmt " chunk
  no_data_chunk,       // RIFF/WAVE without a "data" chunk
  truncated,           // a header size claims more bytes than the file holds
  unsupported_format,  // a format we do not read or write (tag, bits, rate, channels)
  already_exists,      // an output path exists; we never overwrite
  invalid_argument,    // a caller error, e.g. a partial sample frame or an output == input
  disk_full,           // ENOSPC / EDQUOT while writing
  io_error,            // any other read/write/close/rename failure
  too_large,           // data would not fit the 32-bit RIFF size fields
  closed,              // the writer was closed (or moved from)
};

/// Short stable name of a code ("truncated"), for logs and tests.
std::string_view to_string(wav_errc code);

struct wav_error {
  wav_errc code = wav_errc::io_error;
  std::string message;

  wav_error() = default;
  wav_error(wav_errc error_code, std::string error_message)
      : code(error_code), message(std::move(error_message)) {}
};

/// Lets result<T, wav_error>::value() throw (std::runtime_error carrying the message); only for
/// callers outside the data path, e.g. tests and start-up.
[[noreturn]] void throw_exception_from_error(const wav_error& error,
                                             const boost::source_location& location);

template <typename T>
using wav_result = boost::system::result<T, wav_error>;

}  // namespace switchboard::audio
