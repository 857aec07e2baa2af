#include "net/wire_json.hpp"

#include "net/base64.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace switchboard::net::wire_json {

namespace {

// Stands in for an absent nested object after its error was recorded, so that reads on it
// return defaults instead of dereferencing nothing.
const boost::json::object& empty_object() {
  static const boost::json::object empty;
  return empty;
}

// Enough of a hostile value to recognise it in a log line.
constexpr std::size_t detail_value_bytes = 40;

bool needs_escape(std::string_view value) noexcept {
  for (const char c : value) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return true;
  }
  return false;
}

}  // namespace

boost::system::result<boost::json::value, wire_error> parse_object(
    std::string_view text, std::size_t max_bytes, std::string_view what,
    boost::json::storage_ptr storage) {
  if (text.size() > max_bytes) {
    return wire_error{wire_errc::oversized,
                      std::string(what) + ": message of " + std::to_string(text.size()) +
                          " bytes exceeds the cap of " + std::to_string(max_bytes) + " bytes"};
  }
  boost::json::error_code ec;
  auto root = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec,
                                 std::move(storage));
  if (ec) {
    return wire_error{wire_errc::not_json, std::string(what) + ": not JSON (" + ec.message() + ")"};
  }
  if (!root.is_object()) {
    return wire_error{wire_errc::not_object, std::string(what) + ": expected a JSON object, got " +
                                                 std::string(kind_name(root))};
  }
  return root;
}

std::string_view kind_name(const boost::json::value& value) noexcept {
  switch (value.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
  }
  return "unknown";
}

std::string quote_for_detail(std::string_view value) {
  bool cut = false;
  if (value.size() > detail_value_bytes) {
    std::size_t end = detail_value_bytes;
    // Back off over UTF-8 continuation bytes (10xxxxxx) so the cut stays valid UTF-8.
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0U) == 0x80U)
      --end;
    value = value.substr(0, end);
    cut = true;
  }
  std::string quoted;
  append_string(quoted, value);
  if (cut)
    quoted += "...";
  return quoted;
}

// ---- reader ---------------------------------------------------------------------------------

void reader::fail(wire_errc code, std::string_view key, std::string_view what) const {
  if (error_->has_value())
    return;
  std::string detail = path(key);
  detail += ": ";
  detail += what;
  error_->emplace(code, std::move(detail));
}

std::string reader::path(std::string_view key) const {
  std::string prefix;
  if (parent_ != nullptr) {
    prefix = parent_->path(key_);
    if (index_ >= 0) {
      prefix += '[';
      prefix += std::to_string(index_);
      prefix += ']';
    }
  }
  if (key.empty())
    return prefix;
  if (!prefix.empty())
    prefix += '.';
  prefix += key;
  return prefix;
}

bool reader::has(std::string_view key) const noexcept {
  return find(key) != nullptr;
}

bool reader::is_null(std::string_view key) const noexcept {
  const auto* value = find(key);
  return value != nullptr && value->is_null();
}

const boost::json::value* reader::find(std::string_view key) const noexcept {
  return object_->if_contains(key);
}

const boost::json::value* reader::required(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr) {
    fail(wire_errc::missing_field, key, "missing");
    return nullptr;
  }
  if (value->is_null()) {
    fail(wire_errc::missing_field, key, "is null");
    return nullptr;
  }
  return value;
}

std::optional<std::uint64_t> reader::to_uint64(const boost::json::value& value,
                                               std::string_view key) const {
  if (const auto* u = value.if_uint64())
    return *u;
  if (const auto* i = value.if_int64()) {
    if (*i >= 0)
      return static_cast<std::uint64_t>(*i);
    fail(wire_errc::bad_value, key, "expected a non-negative integer, got " + std::to_string(*i));
    return std::nullopt;
  }
  if (value.is_double()) {
    // Boost.JSON reads a fraction, an exponent or an integer beyond 64 bits as a double.
    fail(wire_errc::bad_value, key,
         "expected a non-negative integer, got a fraction or an out-of-range number");
    return std::nullopt;
  }
  fail(wire_errc::wrong_type, key, "expected an integer, got " + std::string(kind_name(value)));
  return std::nullopt;
}

std::string reader::string(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return {};
  if (const auto* s = value->if_string())
    return std::string(s->data(), s->size());
  fail(wire_errc::wrong_type, key, "expected a string, got " + std::string(kind_name(*value)));
  return {};
}

std::string reader::base64(std::string_view key) const {
  auto text = string(key);
  if (auto checked = check_base64(text); !checked) {
    fail(wire_errc::bad_value, key, checked.error().detail);
    return {};
  }
  return text;
}

std::uint64_t reader::uint64(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return 0;
  return to_uint64(*value, key).value_or(0);
}

std::uint32_t reader::uint32(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return 0;
  const auto wide = to_uint64(*value, key);
  if (!wide)
    return 0;
  if (*wide > std::numeric_limits<std::uint32_t>::max()) {
    fail(wire_errc::bad_value, key,
         "expected a 32-bit unsigned integer, got " + std::to_string(*wide));
    return 0;
  }
  return static_cast<std::uint32_t>(*wide);
}

double reader::number(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return 0.0;
  if (const auto* d = value->if_double()) {
    // Boost.JSON reads a literal beyond the double range (1e400) as infinity.
    if (std::isfinite(*d))
      return *d;
    fail(wire_errc::bad_value, key, "number out of range");
    return 0.0;
  }
  if (const auto* i = value->if_int64())
    return static_cast<double>(*i);
  if (const auto* u = value->if_uint64())
    return static_cast<double>(*u);
  fail(wire_errc::wrong_type, key, "expected a number, got " + std::string(kind_name(*value)));
  return 0.0;
}

bool reader::boolean(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return false;
  if (const auto* b = value->if_bool())
    return *b;
  fail(wire_errc::wrong_type, key, "expected a bool, got " + std::string(kind_name(*value)));
  return false;
}

std::uint64_t reader::decimal_string(std::string_view key) const {
  const auto* value = required(key);
  if (value == nullptr)
    return 0;
  const auto* s = value->if_string();
  if (s == nullptr) {
    fail(wire_errc::wrong_type, key,
         "expected a decimal string, got " + std::string(kind_name(*value)));
    return 0;
  }
  const std::string_view text(s->data(), s->size());
  // from_chars stops at the first non-digit ("12abc" → 12): require ASCII digits only, so a
  // sign, a space or a fraction is refused rather than half-read.
  bool digits_only = !text.empty();
  for (const char c : text)
    digits_only = digits_only && c >= '0' && c <= '9';
  if (!digits_only) {
    fail(wire_errc::bad_value, key, "expected a decimal string, got " + quote_for_detail(text));
    return 0;
  }
  std::uint64_t parsed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    fail(wire_errc::bad_value, key,
         "decimal string " + quote_for_detail(text) + " is out of range for 64 bits");
    return 0;
  }
  return parsed;
}

reader reader::child(std::string_view key) const {
  const auto* value = required(key);
  if (value != nullptr) {
    if (const auto* o = value->if_object())
      return reader(*o, this, key, -1);
    fail(wire_errc::wrong_type, key, "expected an object, got " + std::string(kind_name(*value)));
  }
  return reader(empty_object(), this, key, -1);
}

std::vector<std::string> reader::string_array(std::string_view key) const {
  std::vector<std::string> strings;
  const auto* value = required(key);
  if (value == nullptr)
    return strings;
  const auto* array = value->if_array();
  if (array == nullptr) {
    fail(wire_errc::wrong_type, key, "expected an array, got " + std::string(kind_name(*value)));
    return strings;
  }
  strings.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* s = (*array)[i].if_string();
    if (s == nullptr) {
      fail(wire_errc::wrong_type, std::string(key) + "[" + std::to_string(i) + "]",
           "expected a string, got " + std::string(kind_name((*array)[i])));
      return {};
    }
    strings.emplace_back(s->data(), s->size());
  }
  return strings;
}

std::vector<reader> reader::object_array(std::string_view key) const {
  std::vector<reader> readers;
  const auto* value = required(key);
  if (value == nullptr)
    return readers;
  const auto* array = value->if_array();
  if (array == nullptr) {
    fail(wire_errc::wrong_type, key, "expected an array, got " + std::string(kind_name(*value)));
    return readers;
  }
  readers.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* o = (*array)[i].if_object();
    if (o == nullptr) {
      fail(wire_errc::wrong_type, std::string(key) + "[" + std::to_string(i) + "]",
           "expected an object, got " + std::string(kind_name((*array)[i])));
      return {};
    }
    readers.push_back(reader(*o, this, key, static_cast<std::ptrdiff_t>(i)));
  }
  return readers;
}

std::optional<std::string> reader::optional_string(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr || value->is_null())
    return std::nullopt;
  if (const auto* s = value->if_string())
    return std::string(s->data(), s->size());
  fail(wire_errc::wrong_type, key, "expected a string, got " + std::string(kind_name(*value)));
  return std::nullopt;
}

std::optional<std::uint64_t> reader::optional_uint64(std::string_view key) const {
  const auto* value = find(key);
  if (value == nullptr || value->is_null())
    return std::nullopt;
  return to_uint64(*value, key);
}

std::optional<double> reader::optional_number(std::string_view key) const {
  if (const auto* value = find(key); value == nullptr || value->is_null())
    return std::nullopt;
  return number(key);
}

std::optional<bool> reader::optional_boolean(std::string_view key) const {
  if (const auto* value = find(key); value == nullptr || value->is_null())
    return std::nullopt;
  return boolean(key);
}

std::optional<reader> reader::optional_child(std::string_view key) const {
  if (const auto* value = find(key); value == nullptr || value->is_null())
    return std::nullopt;
  return child(key);
}

std::vector<std::pair<std::string, std::string>> reader::optional_string_map(
    std::string_view key) const {
  std::vector<std::pair<std::string, std::string>> members;
  const auto map = optional_child(key);
  if (!map)
    return members;
  members.reserve(map->object().size());
  for (const auto& member : map->object()) {
    const std::string_view name(member.key().data(), member.key().size());
    const auto* s = member.value().if_string();
    if (s == nullptr) {
      map->fail(wire_errc::wrong_type, name,
                "expected a string, got " + std::string(kind_name(member.value())));
      return {};
    }
    members.emplace_back(std::string(name), std::string(s->data(), s->size()));
  }
  return members;
}

// ---- writer ---------------------------------------------------------------------------------

void append_string(std::string& out, std::string_view value) {
  if (!needs_escape(value)) {
    // The common case (SIDs, ids, base64): nothing to escape, no allocation.
    out += '"';
    out += value;
    out += '"';
    return;
  }
  out += boost::json::serialize(boost::json::string_view(value.data(), value.size()));
}

void writer::separator() {
  if (need_comma_)
    out_ += ',';
}

writer& writer::begin_object() {
  separator();
  out_ += '{';
  need_comma_ = false;
  return *this;
}

writer& writer::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

writer& writer::begin_array() {
  separator();
  out_ += '[';
  need_comma_ = false;
  return *this;
}

writer& writer::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

writer& writer::key(std::string_view name) {
  separator();
  append_string(out_, name);
  out_ += ':';
  need_comma_ = false;
  return *this;
}

writer& writer::string(std::string_view value) {
  separator();
  append_string(out_, value);
  need_comma_ = true;
  return *this;
}

writer& writer::uint64(std::uint64_t value) {
  separator();
  char digits[24];
  const auto result = std::to_chars(std::begin(digits), std::end(digits), value);
  out_.append(digits, result.ptr);
  need_comma_ = true;
  return *this;
}

writer& writer::number(double value) {
  separator();
  if (!std::isfinite(value)) {
    // JSON has no NaN or infinity.
    out_ += "null";
  } else {
    // Shortest form that reads back to the same double: 0.5, not 5E-1.
    char digits[32];
    const auto result = std::to_chars(std::begin(digits), std::end(digits), value);
    out_.append(digits, result.ptr);
  }
  need_comma_ = true;
  return *this;
}

writer& writer::boolean(bool value) {
  separator();
  out_ += value ? "true" : "false";
  need_comma_ = true;
  return *this;
}

writer& writer::null() {
  separator();
  out_ += "null";
  need_comma_ = true;
  return *this;
}

writer& writer::value(const boost::json::value& json) {
  separator();
  out_ += boost::json::serialize(json);
  need_comma_ = true;
  return *this;
}

writer& writer::base64_text(std::string_view value) {
  if (!check_base64(value))
    return string(value);
  separator();
  out_ += '"';
  out_ += value;
  out_ += '"';
  need_comma_ = true;
  return *this;
}

writer& writer::base64_string(std::span<const std::uint8_t> bytes) {
  separator();
  out_ += '"';
  append_base64(out_, bytes);
  out_ += '"';
  need_comma_ = true;
  return *this;
}

writer& writer::nonempty_string_field(std::string_view name, std::string_view value) {
  if (!value.empty())
    key(name).string(value);
  return *this;
}

writer& writer::nullable_string_field(std::string_view name,
                                      const std::optional<std::string>& value) {
  key(name);
  return value ? string(*value) : null();
}

}  // namespace switchboard::net::wire_json
