#pragma once
// Shared plumbing of the JSON wire codecs (twilio_messages, realtime_messages): a checked reader
// that never throws on wire data and remembers the first error with its JSON path, and a
// writer that appends compact JSON to a caller's buffer. Not part of the public net/ API.

#include "net/wire_error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::net::wire_json {

/// Parses `text` with `storage` (e.g. a monotonic_resource over a stack buffer); rejects text
/// longer than `max_bytes` before parsing, text that is not JSON (Boost.JSON also rejects
/// invalid UTF-8), and JSON whose top level is not an object. `what` names the format in error
/// details ("twilio", "realtime").
boost::system::result<boost::json::value, wire_error> parse_object(
    std::string_view text, std::size_t max_bytes, std::string_view what,
    boost::json::storage_ptr storage);

/// "string", "number", "object", ... for error details.
std::string_view kind_name(const boost::json::value& value) noexcept;

/// `value` as a quoted JSON string, cut to a few dozen bytes (on a UTF-8 boundary) so that a
/// hostile value cannot flood a log line.
std::string quote_for_detail(std::string_view value);

/// Reads fields of one JSON object. Every failed read records an error carrying the field's
/// JSON path (e.g. `start.mediaFormat.sampleRate`) in a slot shared with nested readers and
/// returns a default value, so a parser reads all fields straight through and checks the slot
/// once. The first error wins. A nested reader refers to its parent and to the slot: keep both
/// alive while it is used.
class reader {
 public:
  reader(const boost::json::object& object, std::optional<wire_error>& error_slot) noexcept
      : object_(&object), error_(&error_slot) {}

  [[nodiscard]] const std::optional<wire_error>& error() const noexcept { return *error_; }
  void fail(wire_errc code, std::string_view key, std::string_view what) const;
  [[nodiscard]] std::string path(std::string_view key) const;
  [[nodiscard]] const boost::json::object& object() const noexcept { return *object_; }

  [[nodiscard]] bool has(std::string_view key) const noexcept;
  /// True when the key is present with the value null.
  [[nodiscard]] bool is_null(std::string_view key) const noexcept;
  /// The raw value, or nullptr when absent (no error).
  [[nodiscard]] const boost::json::value* find(std::string_view key) const noexcept;

  // Required fields: absent (or null) → missing_field; wrong JSON type → wrong_type.
  std::string string(std::string_view key) const;
  std::uint64_t uint64(std::string_view key) const;
  std::uint32_t uint32(std::string_view key) const;
  double number(std::string_view key) const;
  bool boolean(std::string_view key) const;
  /// A string that must be standard base64 (audio payloads): anything else is bad_value, so a
  /// payload that reaches a serialiser is known to need no escaping.
  std::string base64(std::string_view key) const;
  /// A string holding a non-negative decimal integer ("42"), as Twilio sends sequenceNumber.
  std::uint64_t decimal_string(std::string_view key) const;
  reader child(std::string_view key) const;
  std::vector<std::string> string_array(std::string_view key) const;
  std::vector<reader> object_array(std::string_view key) const;

  // Optional fields: absent or null → nullopt; present with a wrong type is still an error.
  std::optional<std::string> optional_string(std::string_view key) const;
  std::optional<std::uint64_t> optional_uint64(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;
  std::optional<bool> optional_boolean(std::string_view key) const;
  std::optional<reader> optional_child(std::string_view key) const;
  /// An object whose members are all strings, in wire order.
  std::vector<std::pair<std::string, std::string>> optional_string_map(std::string_view key) const;

 private:
  reader(const boost::json::object& object, const reader* parent, std::string_view key,
         std::ptrdiff_t index) noexcept
      : object_(&object), parent_(parent), key_(key), index_(index), error_(parent->error_) {}
  const boost::json::value* required(std::string_view key) const;
  std::optional<std::uint64_t> to_uint64(const boost::json::value& value,
                                         std::string_view key) const;

  const boost::json::object* object_;
  const reader* parent_ = nullptr;
  std::string_view key_;       // this object's key in its parent
  std::ptrdiff_t index_ = -1;  // this object's index in the parent's array, or -1
  std::optional<wire_error>* error_;
};

/// Appends `value` as a quoted, escaped JSON string. Input is assumed to be UTF-8 (it comes
/// from our config or from JSON that Boost.JSON already validated).
void append_string(std::string& out, std::string_view value);

/// Appends compact JSON to a caller-provided buffer without building a DOM, for messages on the
/// audio path. Keys and strings are escaped; commas are placed by the writer.
class writer {
 public:
  explicit writer(std::string& out) noexcept : out_(out) {}

  writer& begin_object();
  writer& end_object();
  writer& begin_array();
  writer& end_array();
  writer& key(std::string_view name);

  writer& string(std::string_view value);
  writer& uint64(std::uint64_t value);
  writer& number(double value);
  writer& boolean(bool value);
  writer& null();
  /// A JSON value from Boost.JSON (a tool's parameter schema), serialised by it. There is no
  /// way to append unchecked text: every byte this writer emits was escaped, checked or made
  /// by a serialiser (issue #7: a base64 payload copied verbatim could close its string and
  /// add events).
  writer& value(const boost::json::value& json);
  /// A base64 string (audio): checked against the alphabet (check_base64), then copied
  /// without escaping; text that fails the check is written escaped like any other string, so
  /// it stays one string value whatever it holds.
  writer& base64_text(std::string_view value);
  /// Raw bytes written as a base64 string straight into the buffer.
  writer& base64_string(std::span<const std::uint8_t> bytes);

  writer& string_field(std::string_view name, std::string_view value) {
    return key(name).string(value);
  }
  writer& uint64_field(std::string_view name, std::uint64_t value) {
    return key(name).uint64(value);
  }
  writer& number_field(std::string_view name, double value) { return key(name).number(value); }
  writer& boolean_field(std::string_view name, bool value) { return key(name).boolean(value); }
  writer& null_field(std::string_view name) { return key(name).null(); }
  /// Writes the member only when `value` is not empty (optional event_id, response_id, ...).
  writer& nonempty_string_field(std::string_view name, std::string_view value);
  /// Writes the string, or null when absent.
  writer& nullable_string_field(std::string_view name, const std::optional<std::string>& value);

 private:
  void separator();

  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace switchboard::net::wire_json
