#pragma once
// The parse error of every wire format in net/ (Twilio Media Streams, OpenAI Realtime, base64).
// A bad frame is a value, not an exception: the caller counts it, logs `detail` with the call
// id, and drops the frame (STYLE.md rule 8).

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace switchboard::net {

enum class wire_errc {
  not_json,       // the text is not JSON (or not valid UTF-8, which Boost.JSON rejects)
  not_object,     // valid JSON whose top level is not an object
  oversized,      // longer than the format's documented cap; rejected before parsing
  missing_field,  // a required field is absent
  wrong_type,     // a field has the wrong JSON type (e.g. a number where a string is expected)
  bad_value,      // right type, unacceptable value (negative, out of range, not decimal, ...)
  unknown_event,  // a well-formed message whose event/type this parser does not know
};

/// A stable lower-case name for metrics labels and logs ("missing_field").
constexpr std::string_view to_string(wire_errc code) noexcept {
  switch (code) {
    case wire_errc::not_json:
      return "not_json";
    case wire_errc::not_object:
      return "not_object";
    case wire_errc::oversized:
      return "oversized";
    case wire_errc::missing_field:
      return "missing_field";
    case wire_errc::wrong_type:
      return "wrong_type";
    case wire_errc::bad_value:
      return "bad_value";
    case wire_errc::unknown_event:
      return "unknown_event";
  }
  return "unknown";
}

struct wire_error {
  wire_errc code = wire_errc::not_json;
  /// Names the field by its JSON path and what was wrong, e.g.
  /// `media.timestamp: expected a decimal string, got number`.
  std::string detail;

  // boost::system::result<T, E> needs a default-constructible E with a real (non-aggregate)
  // constructor.
  wire_error() = default;
  wire_error(wire_errc error_code, std::string error_detail)
      : code(error_code), detail(std::move(error_detail)) {}

  friend bool operator==(const wire_error&, const wire_error&) = default;
};

/// Found by ADL when `.value()` is called on a result holding a wire_error (outside the data
/// path, e.g. in tests or start-up code).
[[noreturn]] inline void throw_exception_from_error(const wire_error& error,
                                                    const boost::source_location&) {
  throw std::runtime_error(std::string(to_string(error.code)) + ": " + error.detail);
}

}  // namespace switchboard::net
