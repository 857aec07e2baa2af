#include "sim/wire_scan.hpp"

#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"

#include <charconv>

namespace switchboard::sim {

namespace {

enum class value_kind { string, number, literal, null, object };

/// Reads one compact JSON object (see the header) and hands each scalar member to
/// `visit(parent_key, key, kind, value)`; a nested object's members carry its key as parent.
/// `visit` returns false to give up. Any text outside the subset gives up too.
template <class Visit>
class compact_scanner {
 public:
  compact_scanner(std::string_view text, Visit& visit) : text_(text), visit_(visit) {}

  bool scan() {
    skip_space();
    if (!object({}, 0))
      return false;
    skip_space();
    return at_ == text_.size();
  }

 private:
  static constexpr int max_depth = 1;  // the top level and one nested object

  bool object(std::string_view parent, int depth) {
    if (!take('{'))
      return false;
    skip_space();
    if (take('}'))
      return true;
    for (;;) {
      skip_space();
      std::string_view key;
      if (!string(key))
        return false;
      skip_space();
      if (!take(':'))
        return false;
      skip_space();
      if (!member(parent, key, depth))
        return false;
      skip_space();
      if (take('}'))
        return true;
      if (!take(','))
        return false;
    }
  }

  bool member(std::string_view parent, std::string_view key, int depth) {
    if (at_ >= text_.size())
      return false;
    const char first = text_[at_];
    std::string_view value;
    if (first == '"') {
      return string(value) && visit_(parent, key, value_kind::string, value);
    }
    if (first == '{') {
      if (depth >= max_depth || !visit_(parent, key, value_kind::object, value))
        return false;
      return object(key, depth + 1);
    }
    if (first == '-' || (first >= '0' && first <= '9')) {
      return number(value) && visit_(parent, key, value_kind::number, value);
    }
    for (const std::string_view literal : {"true", "false", "null"}) {
      if (text_.substr(at_).starts_with(literal)) {
        at_ += literal.size();
        return visit_(parent, key, literal == "null" ? value_kind::null : value_kind::literal,
                      literal);
      }
    }
    return false;  // an array, or not JSON
  }

  /// Printable ASCII without escapes only: the parser's UTF-8 and escape rules never matter.
  bool string(std::string_view& value) {
    if (!take('"'))
      return false;
    const auto begin = at_;
    for (; at_ < text_.size(); ++at_) {
      const auto c = static_cast<unsigned char>(text_[at_]);
      if (c == '"') {
        value = text_.substr(begin, at_ - begin);
        ++at_;
        return true;
      }
      if (c < 0x20 || c == '\\' || c >= 0x7F)
        return false;
    }
    return false;
  }

  /// RFC 8259 §6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number(std::string_view& value) {
    const auto begin = at_;
    take('-');
    if (take('0')) {
      // no leading zeros
    } else if (!digits()) {
      return false;
    }
    if (take('.') && !digits())
      return false;
    if (take('e') || take('E')) {
      if (!take('+'))
        take('-');
      if (!digits())
        return false;
    }
    value = text_.substr(begin, at_ - begin);
    return true;
  }

  bool digits() {
    const auto begin = at_;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9')
      ++at_;
    return at_ > begin;
  }

  bool take(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }

  std::string_view text_;
  Visit& visit_;
  std::size_t at_ = 0;
};

template <class Visit>
bool scan_compact(std::string_view text, Visit visit) {
  return compact_scanner<Visit>(text, visit).scan();
}

}  // namespace

std::optional<scanned_twilio_outbound> scan_twilio_outbound(std::string_view text) {
  if (text.size() > net::max_twilio_message_bytes)
    return std::nullopt;
  // Duplicate keys: the last one counts, as in the parser's DOM.
  std::optional<std::string_view> event, stream_sid, payload, name;
  const bool scanned = scan_compact(text, [&](std::string_view parent, std::string_view key,
                                              value_kind kind, std::string_view value) {
    auto* target = parent.empty()                          ? (key == "event"       ? &event
                                                              : key == "streamSid" ? &stream_sid
                                                                                   : nullptr)
                   : parent == "media" && key == "payload" ? &payload
                   : parent == "mark" && key == "name"     ? &name
                                                           : nullptr;
    if (target != nullptr)
      *target = kind == value_kind::string ? std::optional(value) : std::nullopt;
    return true;
  });
  if (!scanned || !event || !stream_sid)
    return std::nullopt;
  if (*event == "media" && payload)
    return scanned_twilio_outbound{scanned_twilio_outbound::kind::media, *stream_sid, *payload, {}};
  if (*event == "mark" && name)
    return scanned_twilio_outbound{scanned_twilio_outbound::kind::mark, *stream_sid, {}, *name};
  return std::nullopt;
}

std::optional<std::string_view> scan_realtime_audio_append(std::string_view text) {
  if (text.size() > net::max_realtime_event_bytes)
    return std::nullopt;
  std::optional<std::string_view> type, audio;
  bool event_id_ok = true;
  const bool scanned = scan_compact(text, [&](std::string_view parent, std::string_view key,
                                              value_kind kind, std::string_view value) {
    if (!parent.empty())
      return true;
    const auto as_string = kind == value_kind::string ? std::optional(value) : std::nullopt;
    if (key == "type") {
      type = as_string;
    } else if (key == "audio") {
      audio = as_string;
    } else if (key == "event_id") {
      // Optional, but a string when present (null reads as absent).
      event_id_ok = kind == value_kind::string || kind == value_kind::null;
    }
    return true;
  });
  if (!scanned || !event_id_ok || !type || *type != "input_audio_buffer.append" || !audio)
    return std::nullopt;
  return *audio;
}

void append_decimal(std::string& out, std::uint64_t value) {
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, static_cast<std::size_t>(end - digits));
}

void append_twilio_media_frame(std::string& out, std::uint64_t sequence_number,
                               std::string_view stream_sid, std::string_view track,
                               std::uint64_t chunk, std::uint64_t timestamp_ms,
                               std::span<const std::uint8_t> payload) {
  out.append(R"({"event":"media","streamSid":")").append(stream_sid);
  out.append(R"(","sequenceNumber":")");
  append_decimal(out, sequence_number);
  out.append(R"(","media":{"track":")").append(track).append(R"(","chunk":")");
  append_decimal(out, chunk);
  out.append(R"(","timestamp":")");
  append_decimal(out, timestamp_ms);
  out.append(R"(","payload":")");
  net::append_base64(out, payload);
  out.append(R"("}})");
}

void append_realtime_audio_delta(std::string& out, std::string_view event_id,
                                 std::string_view response_id, std::string_view item_id,
                                 std::string_view delta_base64) {
  out.append(R"({"type":"response.output_audio.delta")");
  if (!event_id.empty())
    out.append(R"(,"event_id":")").append(event_id).push_back('"');
  out.append(R"(,"response_id":")").append(response_id);
  out.append(R"(","item_id":")").append(item_id);
  out.append(R"(","output_index":0,"content_index":0,"delta":")").append(delta_base64);
  out.append(R"("})");
}

}  // namespace switchboard::sim
