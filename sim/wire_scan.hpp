#pragma once
// Fast paths for the load generator's hot messages, beside the full codecs of net/: the Twilio
// `media` a caller sends 50 times a second, the `media` and `mark` it reads back, the model
// stand-in's `input_audio_buffer.append` and the `response.output_audio.delta` it echoes.
//
// The scanners read only compact JSON objects whose strings hold printable ASCII without escapes,
// and whose values are such strings, plain numbers, literals or such objects (two levels); the
// serialisers of net/ write exactly that for these messages. Anything else (whitespace aside) is
// "not scanned", and the caller falls back to the full parser, which decides whether the message
// stands: a scan never accepts what the parser would reject. The writers produce byte for byte
// what net/'s serialisers produce (tests/sim/test_wire_scan.cpp checks both against net/).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchboard::sim {

/// A Twilio `media` or `mark` from the bridge (protocols.md §A3); views into the scanned text.
struct scanned_twilio_outbound {
  enum class kind { media, mark } event = kind::media;
  std::string_view stream_sid;
  std::string_view payload_base64;  // media
  std::string_view mark_name;       // mark
};

/// A `media` or `mark` message the scanner can read, or nullopt: use net::parse_twilio_outbound.
std::optional<scanned_twilio_outbound> scan_twilio_outbound(std::string_view text);

/// The base64 audio of an `input_audio_buffer.append` the scanner can read, or nullopt: use
/// net::parse_realtime_client_event (another event, or one the scanner does not read).
std::optional<std::string_view> scan_realtime_audio_append(std::string_view text);

/// Appends what net::append_twilio_message writes for a `media` message (§A2): `payload` goes
/// in as base64. Strings must not need escaping (SIDs, the track name).
void append_twilio_media_frame(std::string& out, std::uint64_t sequence_number,
                               std::string_view stream_sid, std::string_view track,
                               std::uint64_t chunk, std::uint64_t timestamp_ms,
                               std::span<const std::uint8_t> payload);

/// Appends what net::append_realtime_server_event writes for response.output_audio.delta
/// (output and content index 0), the delta already in base64. Ids must not need escaping.
void append_realtime_audio_delta(std::string& out, std::string_view event_id,
                                 std::string_view response_id, std::string_view item_id,
                                 std::string_view delta_base64);

/// Appends `value` in decimal.
void append_decimal(std::string& out, std::uint64_t value);

}  // namespace switchboard::sim
