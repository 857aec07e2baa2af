#include "net/twilio_messages.hpp"

#include "net/wire_json.hpp"

#include <boost/json/monotonic_resource.hpp>

namespace switchboard::net {

namespace {

using wire_json::reader;
using wire_json::writer;
using twilio_result = boost::system::result<twilio_inbound, wire_error>;

// A media message's DOM (about 400 bytes of text) fits here, so the audio path parses without
// touching the heap except for the strings copied out.
constexpr std::size_t parse_buffer_bytes = 4096;

twilio_connected read_connected(const reader& top) {
  return {top.string("protocol"), top.string("version")};
}

twilio_start read_start(const reader& top) {
  twilio_start start;
  start.sequence_number = top.decimal_string("sequenceNumber");
  start.stream_sid = top.string("streamSid");
  const auto body = top.child("start");
  start.account_sid = body.string("accountSid");
  start.call_sid = body.string("callSid");
  start.tracks = body.string_array("tracks");
  const auto format = body.child("mediaFormat");
  start.media_format.encoding = format.string("encoding");
  start.media_format.sample_rate = format.uint32("sampleRate");
  start.media_format.channels = format.uint32("channels");
  for (auto& [name, value] : body.optional_string_map("customParameters")) {
    start.custom_parameters.push_back({std::move(name), std::move(value)});
  }
  // The docs repeat the SID inside `start`; two different SIDs would mean a confused peer.
  if (const auto inner_sid = body.optional_string("streamSid");
      inner_sid && !top.error() && *inner_sid != start.stream_sid) {
    body.fail(wire_errc::bad_value, "streamSid",
              wire_json::quote_for_detail(*inner_sid) + " differs from the top-level streamSid " +
                  wire_json::quote_for_detail(start.stream_sid));
  }
  return start;
}

twilio_media read_media(const reader& top) {
  twilio_media media;
  media.sequence_number = top.decimal_string("sequenceNumber");
  media.stream_sid = top.string("streamSid");
  const auto body = top.child("media");
  media.track = body.string("track");
  media.chunk = body.decimal_string("chunk");
  media.timestamp_ms = body.decimal_string("timestamp");
  media.payload_base64 = body.base64("payload");
  return media;
}

twilio_dtmf read_dtmf(const reader& top) {
  twilio_dtmf dtmf;
  dtmf.sequence_number = top.decimal_string("sequenceNumber");
  dtmf.stream_sid = top.string("streamSid");
  const auto body = top.child("dtmf");
  dtmf.track = body.string("track");
  dtmf.digit = body.string("digit");
  return dtmf;
}

twilio_mark read_mark(const reader& top) {
  twilio_mark mark;
  mark.sequence_number = top.decimal_string("sequenceNumber");
  mark.stream_sid = top.string("streamSid");
  mark.name = top.child("mark").string("name");
  return mark;
}

twilio_stop read_stop(const reader& top) {
  // A stop needs only the stream it ends: the rest is read when present (issue #7: a stop
  // without accountSid was dropped as malformed and the call stayed open).
  twilio_stop stop;
  if (top.has("sequenceNumber"))
    stop.sequence_number = top.decimal_string("sequenceNumber");
  stop.stream_sid = top.string("streamSid");
  if (const auto body = top.optional_child("stop")) {
    stop.account_sid = body->optional_string("accountSid").value_or("");
    stop.call_sid = body->optional_string("callSid").value_or("");
  }
  return stop;
}

// The reader records the first error while a message is read straight through; only then do
// we know whether the message stands.
template <class Result, class Message>
Result finish(Message message, const std::optional<wire_error>& error) {
  if (error)
    return *error;
  return Result(std::move(message));
}

void begin_message(writer& json, std::string_view event, std::string_view stream_sid) {
  json.begin_object().string_field("event", event).string_field("streamSid", stream_sid);
}

void begin_inbound(writer& json, std::string_view event, std::uint64_t sequence_number,
                   std::string_view stream_sid) {
  begin_message(json, event, stream_sid);
  json.string_field("sequenceNumber", std::to_string(sequence_number));
}

}  // namespace

twilio_result parse_twilio_message(std::string_view text) {
  unsigned char buffer[parse_buffer_bytes];
  boost::json::monotonic_resource storage(buffer, sizeof buffer);
  auto root = wire_json::parse_object(text, max_twilio_message_bytes, "twilio", &storage);
  if (!root)
    return root.error();

  std::optional<wire_error> error;
  const reader top(root->get_object(), error);
  const auto event = top.string("event");
  if (error)
    return *error;

  // Ordered by frequency: 50 media messages a second, the rest a handful per call.
  if (event == "media")
    return finish<twilio_result>(read_media(top), error);
  if (event == "mark")
    return finish<twilio_result>(read_mark(top), error);
  if (event == "dtmf")
    return finish<twilio_result>(read_dtmf(top), error);
  if (event == "start")
    return finish<twilio_result>(read_start(top), error);
  if (event == "connected") {
    return finish<twilio_result>(read_connected(top), error);
  }
  if (event == "stop")
    return finish<twilio_result>(read_stop(top), error);
  return wire_error{wire_errc::unknown_event,
                    "event: unknown Twilio event " + wire_json::quote_for_detail(event)};
}

void append_twilio_media(std::string& out, std::string_view stream_sid,
                         std::string_view payload_base64) {
  writer json(out);
  begin_message(json, "media", stream_sid);
  // Checked base64 needs no escaping: the common case costs one scan, no copy.
  json.key("media").begin_object().key("payload").base64_text(payload_base64);
  json.end_object().end_object();
}

void append_twilio_media(std::string& out, std::string_view stream_sid,
                         std::span<const std::uint8_t> mulaw) {
  writer json(out);
  begin_message(json, "media", stream_sid);
  json.key("media").begin_object().key("payload").base64_string(mulaw);
  json.end_object().end_object();
}

void append_twilio_mark(std::string& out, std::string_view stream_sid, std::string_view name) {
  writer json(out);
  begin_message(json, "mark", stream_sid);
  json.key("mark").begin_object().string_field("name", name).end_object().end_object();
}

void append_twilio_clear(std::string& out, std::string_view stream_sid) {
  writer json(out);
  begin_message(json, "clear", stream_sid);
  json.end_object();
}

boost::system::result<twilio_outbound, wire_error> parse_twilio_outbound(std::string_view text) {
  using outbound_result = boost::system::result<twilio_outbound, wire_error>;
  unsigned char buffer[parse_buffer_bytes];
  boost::json::monotonic_resource storage(buffer, sizeof buffer);
  auto root = wire_json::parse_object(text, max_twilio_message_bytes, "twilio", &storage);
  if (!root)
    return root.error();

  std::optional<wire_error> error;
  const reader top(root->get_object(), error);
  const auto event = top.string("event");
  if (error)
    return *error;
  if (event == "media") {
    twilio_outbound_media media{top.string("streamSid"), top.child("media").base64("payload")};
    return finish<outbound_result>(std::move(media), error);
  }
  if (event == "mark") {
    twilio_outbound_mark mark{top.string("streamSid"), top.child("mark").string("name")};
    return finish<outbound_result>(std::move(mark), error);
  }
  if (event == "clear") {
    return finish<outbound_result>(twilio_outbound_clear{top.string("streamSid")}, error);
  }
  return wire_error{wire_errc::unknown_event,
                    "event: Twilio accepts only media, mark and clear, got " +
                        wire_json::quote_for_detail(event)};
}

void append_twilio_message(std::string& out, const twilio_inbound& message) {
  writer json(out);
  std::visit(
      [&](const auto& m) {
        using message_type = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<message_type, twilio_connected>) {
          json.begin_object()
              .string_field("event", "connected")
              .string_field("protocol", m.protocol)
              .string_field("version", m.version);
        } else if constexpr (std::is_same_v<message_type, twilio_start>) {
          begin_inbound(json, "start", m.sequence_number, m.stream_sid);
          json.key("start")
              .begin_object()
              .string_field("accountSid", m.account_sid)
              .string_field("streamSid", m.stream_sid)
              .string_field("callSid", m.call_sid)
              .key("tracks")
              .begin_array();
          for (const auto& track : m.tracks)
            json.string(track);
          json.end_array()
              .key("mediaFormat")
              .begin_object()
              .string_field("encoding", m.media_format.encoding)
              .uint64_field("sampleRate", m.media_format.sample_rate)
              .uint64_field("channels", m.media_format.channels)
              .end_object()
              .key("customParameters")
              .begin_object();
          for (const auto& parameter : m.custom_parameters) {
            json.string_field(parameter.name, parameter.value);
          }
          json.end_object().end_object();
        } else if constexpr (std::is_same_v<message_type, twilio_media>) {
          begin_inbound(json, "media", m.sequence_number, m.stream_sid);
          json.key("media")
              .begin_object()
              .string_field("track", m.track)
              .string_field("chunk", std::to_string(m.chunk))
              .string_field("timestamp", std::to_string(m.timestamp_ms))
              .string_field("payload", m.payload_base64)
              .end_object();
        } else if constexpr (std::is_same_v<message_type, twilio_dtmf>) {
          begin_inbound(json, "dtmf", m.sequence_number, m.stream_sid);
          json.key("dtmf")
              .begin_object()
              .string_field("track", m.track)
              .string_field("digit", m.digit)
              .end_object();
        } else if constexpr (std::is_same_v<message_type, twilio_mark>) {
          begin_inbound(json, "mark", m.sequence_number, m.stream_sid);
          json.key("mark").begin_object().string_field("name", m.name).end_object();
        } else {
          static_assert(std::is_same_v<message_type, twilio_stop>);
          begin_inbound(json, "stop", m.sequence_number, m.stream_sid);
          json.key("stop")
              .begin_object()
              .string_field("accountSid", m.account_sid)
              .string_field("callSid", m.call_sid)
              .end_object();
        }
        json.end_object();
      },
      message);
}

}  // namespace switchboard::net
