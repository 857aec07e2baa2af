#pragma once
// Twilio Media Streams messages (bidirectional <Connect><Stream>), shared/reference/protocols.md
// §A2 (Twilio → us) and §A3 (us → Twilio). Every message is a JSON text frame.
//
// Wire rules the parser enforces:
// - `sequenceNumber`, `media.chunk` and `media.timestamp` are decimal strings ("42"); a JSON
//   number or a non-decimal string is refused. `mediaFormat.sampleRate`/`channels` are numbers.
// - `connected` carries no sequenceNumber/streamSid; every other message carries both.
// - Unknown fields are ignored; the fields documented for a message are required, except
//   `start.customParameters` (absent → empty) and `start.streamSid` (the top-level one counts;
//   if both are present they must agree).
//
// Both directions are here: the bridge parses what Twilio sends and writes media/mark/clear;
// the Twilio stand-in in sim/ writes what Twilio sends and parses what the bridge writes.

#include "net/wire_error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace switchboard::net {

/// Largest Twilio message we parse. Twilio documents no cap; a 20 ms media message is about
/// 400 bytes and a start message with custom parameters (each name+value under 500 characters,
/// §A4) a few KiB, so 64 KiB only stops garbage.
inline constexpr std::size_t max_twilio_message_bytes = 64 * 1024;

struct twilio_connected {
  std::string protocol;  // "Call"
  std::string version;   // "1.0.0"
  friend bool operator==(const twilio_connected&, const twilio_connected&) = default;
};

struct twilio_media_format {
  std::string encoding;           // always "audio/x-mulaw"
  std::uint32_t sample_rate = 0;  // Hz, always 8000
  std::uint32_t channels = 0;     // always 1
  friend bool operator==(const twilio_media_format&, const twilio_media_format&) = default;
};

struct twilio_custom_parameter {
  std::string name;
  std::string value;
  friend bool operator==(const twilio_custom_parameter&, const twilio_custom_parameter&) = default;
};

struct twilio_start {
  std::uint64_t sequence_number = 0;
  std::string stream_sid;           // MZ + 32 hex
  std::string account_sid;          // AC + 32 hex
  std::string call_sid;             // CA + 32 hex
  std::vector<std::string> tracks;  // ["inbound"] on <Connect>
  twilio_media_format media_format;
  /// The <Parameter> name/value pairs of the TwiML, in wire order.
  std::vector<twilio_custom_parameter> custom_parameters;
  friend bool operator==(const twilio_start&, const twilio_start&) = default;
};

struct twilio_media {
  std::uint64_t sequence_number = 0;
  std::string stream_sid;
  std::string track;               // "inbound"
  std::uint64_t chunk = 0;         // starts at 1
  std::uint64_t timestamp_ms = 0;  // presentation time since the stream started
  std::string payload_base64;      // μ-law 8 kHz mono, no header
  friend bool operator==(const twilio_media&, const twilio_media&) = default;
};

struct twilio_dtmf {
  std::uint64_t sequence_number = 0;
  std::string stream_sid;
  std::string track;  // always "inbound_track"
  std::string digit;
  friend bool operator==(const twilio_dtmf&, const twilio_dtmf&) = default;
};

/// Twilio echoes a mark we sent once the audio queued before it has played, at once if nothing
/// was queued, or when a clear empties the queue (§A2).
struct twilio_mark {
  std::uint64_t sequence_number = 0;
  std::string stream_sid;
  std::string name;
  friend bool operator==(const twilio_mark&, const twilio_mark&) = default;
};

struct twilio_stop {
  std::uint64_t sequence_number = 0;
  std::string stream_sid;
  std::string account_sid;
  std::string call_sid;
  friend bool operator==(const twilio_stop&, const twilio_stop&) = default;
};

/// A message Twilio sends to us.
using twilio_inbound = std::variant<twilio_connected, twilio_start, twilio_media, twilio_dtmf,
                                    twilio_mark, twilio_stop>;

/// Parses one text frame from Twilio. Text over max_twilio_message_bytes is refused unparsed.
boost::system::result<twilio_inbound, wire_error> parse_twilio_message(std::string_view text);

/// Appends `{"event":"media","streamSid":…,"media":{"payload":…}}`. The payload is already
/// base64 (μ-law 8 kHz, no header).
void append_twilio_media(std::string& out, std::string_view stream_sid,
                         std::string_view payload_base64);
/// Same, base64-encoding raw μ-law bytes straight into `out`.
void append_twilio_media(std::string& out, std::string_view stream_sid,
                         std::span<const std::uint8_t> mulaw);
/// Appends `{"event":"mark","streamSid":…,"mark":{"name":…}}`; the name is JSON-escaped.
void append_twilio_mark(std::string& out, std::string_view stream_sid, std::string_view name);
/// Appends `{"event":"clear","streamSid":…}`: Twilio drops queued audio and echoes every
/// pending mark (§A3).
void append_twilio_clear(std::string& out, std::string_view stream_sid);

// ---- the Twilio side (for the stand-in in sim/ and for tests) -------------------------------

/// What we send to Twilio, as Twilio would read it.
struct twilio_outbound_media {
  std::string stream_sid;
  std::string payload_base64;
  friend bool operator==(const twilio_outbound_media&, const twilio_outbound_media&) = default;
};
struct twilio_outbound_mark {
  std::string stream_sid;
  std::string name;
  friend bool operator==(const twilio_outbound_mark&, const twilio_outbound_mark&) = default;
};
struct twilio_outbound_clear {
  std::string stream_sid;
  friend bool operator==(const twilio_outbound_clear&, const twilio_outbound_clear&) = default;
};
using twilio_outbound =
    std::variant<twilio_outbound_media, twilio_outbound_mark, twilio_outbound_clear>;

/// Parses a frame the bridge sent. Twilio accepts only media, mark and clear (§A3); anything
/// else is unknown_event (Twilio's warning 31951).
boost::system::result<twilio_outbound, wire_error> parse_twilio_outbound(std::string_view text);

/// Appends the JSON Twilio would send for `message` (field names and string-typed numbers as in
/// §A2), so that parse_twilio_message reads back an equal value.
void append_twilio_message(std::string& out, const twilio_inbound& message);

}  // namespace switchboard::net
