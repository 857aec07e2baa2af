#pragma once
// OpenAI Realtime API events over WebSocket, GA shape (`gpt-realtime`), from
// shared/reference/protocols.md §B1–§B7. Every event is a JSON text frame with a string `type`
// and an optional `event_id` (client events: echoed in error.event_id; server events: always
// present). An empty event_id below means "absent".
//
// Bridge side: serialisers for the client events we send and a parser for the server events we
// read. Server side (the model stand-in in sim/): a parser for client events and a serialiser
// for server events. Each parser reads back what the matching serialiser writes into an equal
// value (the tests and the fuzzers check that round trip).
//
// Audio is G.711 μ-law both ways (`{type:"audio/pcmu"}`), which Twilio sends and plays as is;
// the bridge never resamples.

#include "net/wire_error.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchboard::net {

/// Largest Realtime event we parse, either direction. A client may append up to 15 MiB of audio
/// in one input_audio_buffer.append (§B4); base64 and the envelope fit under 16 MiB. Server
/// events are far smaller (audio deltas of a few KiB).
inline constexpr std::size_t max_realtime_event_bytes = 16 * 1024 * 1024;

/// The μ-law format name of the GA API (`{type:"audio/pcmu"}`, §B3).
inline constexpr std::string_view realtime_pcmu_format = "audio/pcmu";

// ---- session configuration (session.update) --------------------------------------------------

/// Server-side voice activity detection; defaults are the API's documented ones (§B3).
struct realtime_server_vad {
  double threshold = 0.5;  // 0..1, higher needs louder speech
  std::uint64_t prefix_padding_ms = 300;
  std::uint64_t silence_duration_ms = 500;
  bool create_response = true;
  bool interrupt_response = true;  // the server cancels its response when the caller speaks
  std::optional<std::uint64_t> idle_timeout_ms;  // GA only; absent = no idle timeout
  friend bool operator==(const realtime_server_vad&, const realtime_server_vad&) = default;
};

struct realtime_semantic_vad {
  std::string eagerness = "auto";  // low | medium | high | auto
  bool create_response = true;
  bool interrupt_response = true;
  friend bool operator==(const realtime_semantic_vad&, const realtime_semantic_vad&) = default;
};

/// `turn_detection: null`: the client commits the buffer and asks for responses itself.
struct realtime_no_turn_detection {
  friend bool operator==(const realtime_no_turn_detection&,
                         const realtime_no_turn_detection&) = default;
};

using realtime_turn_detection =
    std::variant<realtime_server_vad, realtime_semantic_vad, realtime_no_turn_detection>;

/// Transcription of the caller's audio (arrives as ...input_audio_transcription.completed).
struct realtime_transcription {
  std::string model;                    // e.g. "whisper-1", "gpt-4o-transcribe"; empty = omit
  std::optional<std::string> language;  // ISO-639-1, e.g. "en"
  friend bool operator==(const realtime_transcription&, const realtime_transcription&) = default;
};

struct realtime_function_tool {
  std::string name;
  std::string description;
  /// The JSON schema of the arguments, e.g. {"type":"object","properties":{}}; null = omitted.
  boost::json::value parameters;
  friend bool operator==(const realtime_function_tool&, const realtime_function_tool&) = default;
};

/// The whole session the bridge asks for; sent as one session.update after session.created.
struct realtime_session_config {
  std::optional<std::string> model;  // the URL's ?model= already chose it; cannot change later
  std::string instructions;
  std::string voice = "marin";  // changeable only before the first audio output
  realtime_turn_detection turn_detection = realtime_server_vad{};
  std::optional<realtime_transcription> transcription;
  std::vector<realtime_function_tool> tools;
  std::string tool_choice = "auto";  // auto | none | required
};

// ---- client events: what the bridge sends -----------------------------------------------------
// Each appends one event to `out`, so a caller can reuse one buffer per connection.

/// session.update with session.type "realtime", output_modalities ["audio"] and audio/pcmu in
/// and out.
void append_realtime_session_update(std::string& out, const realtime_session_config& config,
                                    std::string_view event_id = {});
/// input_audio_buffer.append; no server acknowledgement (§B4). The hot path: built by append.
void append_realtime_audio_append(std::string& out, std::string_view audio_base64,
                                  std::string_view event_id = {});
/// Same, base64-encoding raw μ-law bytes straight into `out`.
void append_realtime_audio_append(std::string& out, std::span<const std::uint8_t> audio,
                                  std::string_view event_id = {});
/// conversation.item.create with a user message of one input_text part.
void append_realtime_user_text(std::string& out, std::string_view text,
                               std::string_view event_id = {});
/// conversation.item.create with an assistant message of one output_text part: what the agent
/// said, replayed into a fresh session as text (an item cannot carry assistant audio, §B4; the
/// GA interface types assistant content `output_text` | `output_audio`, §B7).
void append_realtime_assistant_text(std::string& out, std::string_view text,
                                    std::string_view event_id = {});
/// conversation.item.create with a system message of one input_text part.
void append_realtime_system_text(std::string& out, std::string_view text,
                                 std::string_view event_id = {});
/// conversation.item.create with a function_call the model made earlier (GA
/// RealtimeConversationItemFunctionCall: name, call_id, arguments as JSON text), so that its
/// function_call_output has a call to answer in a fresh session.
void append_realtime_function_call_item(std::string& out, std::string_view call_id,
                                        std::string_view name, std::string_view arguments,
                                        std::string_view event_id = {});
/// conversation.item.create with a function_call_output; follow it with response.create to
/// make the model speak (§B4).
void append_realtime_function_output(std::string& out, std::string_view call_id,
                                     std::string_view output, std::string_view event_id = {});
/// response.create; `instructions` (when not empty) override the session's for this response.
void append_realtime_response_create(std::string& out, std::string_view instructions = {},
                                     std::string_view event_id = {});
/// response.cancel; without response_id it cancels the active response.
void append_realtime_response_cancel(std::string& out, std::string_view response_id = {},
                                     std::string_view event_id = {});
/// conversation.item.truncate of an assistant item's audio at `audio_end_ms` (content_index 0):
/// what the caller actually heard before barging in. The server rejects a value beyond the
/// item's audio (§B4).
void append_realtime_truncate(std::string& out, std::string_view item_id,
                              std::uint64_t audio_end_ms, std::string_view event_id = {});

// ---- client events as the server reads them -------------------------------------------------

/// A session.update: only the fields present change the session (§B2). nullopt = absent.
struct realtime_session_update {
  std::string event_id;
  std::optional<std::string> session_type;  // "realtime" (GA requires it)
  std::optional<std::string> model;
  std::optional<std::vector<std::string>> output_modalities;
  std::optional<std::string> instructions;
  std::optional<std::string> input_format;   // audio.input.format.type, e.g. "audio/pcmu"
  std::optional<std::string> output_format;  // audio.output.format.type
  std::optional<std::string> voice;          // a name, or a custom voice's {id}
  /// realtime_no_turn_detection when the field is null (turn detection switched off).
  std::optional<realtime_turn_detection> turn_detection;
  std::optional<realtime_transcription> transcription;
  std::optional<std::vector<realtime_function_tool>> tools;
  std::optional<std::string> tool_choice;
  friend bool operator==(const realtime_session_update&, const realtime_session_update&) = default;
};

struct realtime_audio_append {
  std::string event_id;
  std::string audio_base64;
  friend bool operator==(const realtime_audio_append&, const realtime_audio_append&) = default;
};

/// conversation.item.create of a message; `text` joins the content's text parts.
struct realtime_create_message {
  std::string event_id;
  std::string role;  // user | system | assistant
  std::string text;
  friend bool operator==(const realtime_create_message&, const realtime_create_message&) = default;
};

/// conversation.item.create of a function_call (a call the model made, replayed by the client).
struct realtime_create_function_call {
  std::string event_id;
  std::string call_id;
  std::string name;
  std::string arguments;  // JSON text
  friend bool operator==(const realtime_create_function_call&,
                         const realtime_create_function_call&) = default;
};

/// conversation.item.create of a function_call_output.
struct realtime_create_function_output {
  std::string event_id;
  std::string call_id;
  std::string output;  // usually JSON, but a string on the wire
  friend bool operator==(const realtime_create_function_output&,
                         const realtime_create_function_output&) = default;
};

struct realtime_response_create {
  std::string event_id;
  std::optional<std::string> instructions;  // response.instructions
  friend bool operator==(const realtime_response_create&,
                         const realtime_response_create&) = default;
};

struct realtime_response_cancel {
  std::string event_id;
  std::optional<std::string> response_id;
  friend bool operator==(const realtime_response_cancel&,
                         const realtime_response_cancel&) = default;
};

struct realtime_truncate {
  std::string event_id;
  std::string item_id;
  std::uint64_t content_index = 0;
  std::uint64_t audio_end_ms = 0;  // inclusive, ms of the item's audio
  friend bool operator==(const realtime_truncate&, const realtime_truncate&) = default;
};

/// Any other well-formed client event (input_audio_buffer.commit, .clear, ...).
struct realtime_other_client_event {
  std::string event_id;
  std::string type;
  friend bool operator==(const realtime_other_client_event&,
                         const realtime_other_client_event&) = default;
};

using realtime_client_event =
    std::variant<realtime_session_update, realtime_audio_append, realtime_create_message,
                 realtime_create_function_call, realtime_create_function_output,
                 realtime_response_create, realtime_response_cancel, realtime_truncate,
                 realtime_other_client_event>;

boost::system::result<realtime_client_event, wire_error> parse_realtime_client_event(
    std::string_view text);

/// Appends `event` as the client would send it; parse_realtime_client_event reads it back equal.
void append_realtime_client_event(std::string& out, const realtime_client_event& event);

// ---- server events ---------------------------------------------------------------------------

/// The parts of a session object (session.created / session.updated) a bridge checks.
/// Every field is optional on the wire; absent reads as empty.
struct realtime_session_info {
  std::string id;
  std::string model;
  std::string instructions;
  std::string input_format;   // audio.input.format.type
  std::string output_format;  // audio.output.format.type
  std::string voice;
  std::string turn_detection_type;  // server_vad | semantic_vad; empty when null
  friend bool operator==(const realtime_session_info&, const realtime_session_info&) = default;
};

struct realtime_session_created {
  std::string event_id;
  realtime_session_info session;
  friend bool operator==(const realtime_session_created&,
                         const realtime_session_created&) = default;
};

struct realtime_session_updated {
  std::string event_id;
  realtime_session_info session;
  friend bool operator==(const realtime_session_updated&,
                         const realtime_session_updated&) = default;
};

/// input_audio_buffer.speech_started: the caller started talking (barge-in trigger, §B4).
struct realtime_speech_started {
  std::string event_id;
  std::string item_id;
  std::uint64_t audio_start_ms = 0;  // since the session's first audio, prefix padding included
  friend bool operator==(const realtime_speech_started&, const realtime_speech_started&) = default;
};

struct realtime_speech_stopped {
  std::string event_id;
  std::string item_id;
  std::uint64_t audio_end_ms = 0;
  friend bool operator==(const realtime_speech_stopped&, const realtime_speech_stopped&) = default;
};

struct realtime_audio_committed {
  std::string event_id;
  std::string item_id;
  std::optional<std::string> previous_item_id;  // null for the first item
  friend bool operator==(const realtime_audio_committed&,
                         const realtime_audio_committed&) = default;
};

struct realtime_response_created {
  std::string event_id;
  std::string response_id;  // response.id
  std::string status;       // response.status ("in_progress"); empty when absent
  friend bool operator==(const realtime_response_created&,
                         const realtime_response_created&) = default;
};

/// response.output_audio.delta (beta: response.audio.delta).
struct realtime_audio_delta {
  std::string event_id;
  std::string response_id;
  std::string item_id;  // the assistant item to truncate on barge-in
  std::uint64_t output_index = 0;
  std::uint64_t content_index = 0;
  std::string delta_base64;  // μ-law in the session's output format
  friend bool operator==(const realtime_audio_delta&, const realtime_audio_delta&) = default;
};

/// response.output_audio.done (beta: response.audio.done); also sent on cancel.
struct realtime_audio_done {
  std::string event_id;
  std::string response_id;
  std::string item_id;
  std::uint64_t output_index = 0;
  std::uint64_t content_index = 0;
  friend bool operator==(const realtime_audio_done&, const realtime_audio_done&) = default;
};

/// response.output_audio_transcript.delta (beta: response.audio_transcript.delta).
struct realtime_transcript_delta {
  std::string event_id;
  std::string response_id;
  std::string item_id;
  std::uint64_t output_index = 0;
  std::uint64_t content_index = 0;
  std::string delta;
  friend bool operator==(const realtime_transcript_delta&,
                         const realtime_transcript_delta&) = default;
};

/// response.output_audio_transcript.done (beta: response.audio_transcript.done).
struct realtime_transcript_done {
  std::string event_id;
  std::string response_id;
  std::string item_id;
  std::uint64_t output_index = 0;
  std::uint64_t content_index = 0;
  std::string transcript;
  friend bool operator==(const realtime_transcript_done&,
                         const realtime_transcript_done&) = default;
};

/// conversation.item.input_audio_transcription.completed: what the caller said. Asynchronous:
/// may come before or after the response events (§B5).
struct realtime_input_transcript {
  std::string event_id;
  std::string item_id;
  std::uint64_t content_index = 0;
  std::string transcript;
  friend bool operator==(const realtime_input_transcript&,
                         const realtime_input_transcript&) = default;
};

/// response.output_item.done. For item_type "function_call", name/call_id/arguments are
/// required; for other items they are empty.
struct realtime_output_item_done {
  std::string event_id;
  std::string response_id;
  std::uint64_t output_index = 0;
  std::string item_id;
  std::string item_type;    // message | function_call | ...
  std::string item_status;  // completed | incomplete | ...; empty when absent
  std::string name;
  std::string call_id;
  std::string arguments;  // JSON text, as the model wrote it
  friend bool operator==(const realtime_output_item_done&,
                         const realtime_output_item_done&) = default;
};

/// response.function_call_arguments.done. `name` is GA only (empty from a beta server; take it
/// from response.output_item.done then).
struct realtime_function_call_done {
  std::string event_id;
  std::string response_id;
  std::string item_id;
  std::uint64_t output_index = 0;
  std::string call_id;
  std::string name;
  std::string arguments;
  friend bool operator==(const realtime_function_call_done&,
                         const realtime_function_call_done&) = default;
};

/// response.usage; a count the server leaves out reads as 0.
struct realtime_usage {
  std::uint64_t total_tokens = 0;
  std::uint64_t input_tokens = 0;
  std::uint64_t output_tokens = 0;
  std::uint64_t input_text_tokens = 0;
  std::uint64_t input_audio_tokens = 0;
  std::uint64_t input_cached_tokens = 0;
  std::uint64_t output_text_tokens = 0;
  std::uint64_t output_audio_tokens = 0;
  friend bool operator==(const realtime_usage&, const realtime_usage&) = default;
};

/// response.done, always sent once per response.
struct realtime_response_done {
  std::string event_id;
  std::string response_id;
  std::string status;  // completed | cancelled | failed | incomplete | in_progress
  /// status_details.reason: turn_detected | client_cancelled | max_output_tokens |
  /// content_filter; empty when there are no status details.
  std::string status_reason;
  std::optional<realtime_usage> usage;
  friend bool operator==(const realtime_response_done&, const realtime_response_done&) = default;
};

struct realtime_rate_limit {
  std::string name;  // requests | tokens
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;
  double reset_seconds = 0.0;
  friend bool operator==(const realtime_rate_limit&, const realtime_rate_limit&) = default;
};

struct realtime_rate_limits_updated {
  std::string event_id;
  std::vector<realtime_rate_limit> rate_limits;
  friend bool operator==(const realtime_rate_limits_updated&,
                         const realtime_rate_limits_updated&) = default;
};

/// `error`: most errors are recoverable and the session stays open (§B6).
struct realtime_error {
  std::string event_id;
  std::string type;                 // e.g. invalid_request_error
  std::optional<std::string> code;  // may be null
  std::string message;
  std::optional<std::string> param;            // may be null
  std::optional<std::string> client_event_id;  // error.event_id: the failed client event
  friend bool operator==(const realtime_error&, const realtime_error&) = default;
};

/// Any other well-formed event with a string type. The server sends many a bridge ignores
/// (conversation.item.added, response.content_part.*, ...): not an error.
struct realtime_other_event {
  std::string event_id;
  std::string type;
  friend bool operator==(const realtime_other_event&, const realtime_other_event&) = default;
};

using realtime_server_event =
    std::variant<realtime_session_created, realtime_session_updated, realtime_speech_started,
                 realtime_speech_stopped, realtime_audio_committed, realtime_response_created,
                 realtime_audio_delta, realtime_audio_done, realtime_transcript_delta,
                 realtime_transcript_done, realtime_input_transcript, realtime_output_item_done,
                 realtime_function_call_done, realtime_response_done, realtime_rate_limits_updated,
                 realtime_error, realtime_other_event>;

/// Parses one server event. Accepts the beta names response.audio.delta/.done and
/// response.audio_transcript.delta/.done as aliases of the GA events.
boost::system::result<realtime_server_event, wire_error> parse_realtime_event(
    std::string_view text);

/// Appends `event` as the GA server sends it; parse_realtime_event reads it back equal.
void append_realtime_server_event(std::string& out, const realtime_server_event& event);

}  // namespace switchboard::net
