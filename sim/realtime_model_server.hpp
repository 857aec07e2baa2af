#pragma once
// The OpenAI Realtime model stand-in: a WebSocket server speaking the GA protocol with
// audio/pcmu (shared/reference/protocols.md §B1–§B7), so that a deployment, the demo, the tests
// and the load generator can run without paying for a model. It hears the caller with an
// energy VAD and answers with the speech fixtures (sim/speech_fixtures.hpp).
//
// One session per connection. What a session does, as the real server does it:
//   open            → session.created, conversation.created
//   session.update  → session.updated with the effective session, or an `error` for a beta or
//                     unknown field, a missing session.type or an unsupported audio format
//   append          → VAD: speech_started (cancels a streaming response: barge-in), then after
//                     silence speech_stopped, committed, the user item, its transcription (when
//                     configured) and, with create_response, a response
//   response        → response.created, output_item.added, content_part.added, audio deltas
//                     (faster than real time) with transcript deltas, then the .done events and
//                     response.done (completed | cancelled with turn_detected/client_cancelled)
//   truncate/cancel → checked against the conversation; errors are events, the session goes on
//   tool call       → a scripted response (model_options::tool_calls) carries a function_call
//                     item: output_item.added, function_call_arguments.delta(s) and .done,
//                     output_item.done, then response.done listing every output item (§B5);
//                     the client answers with a function_call_output item and response.create
//
// The stand-in hears the caller's audio and the bridge's text items and response.create
// instructions; stats() records them so that tests can check what reached the model.
//
// The stand-in hears and speaks μ-law whatever format the session names (a bridge for Twilio
// asks for audio/pcmu); stats() shows what the client asked for. It cannot transcribe: the
// caller's transcript says how long they spoke.
//
// Threading: runs on the caller's io_context (any number of threads). Each session owns a strand;
// its timers and handlers run there. No thread per call, no blocking. stats() may be called from
// any thread.

#include "net/realtime_messages.hpp"
#include "net/tls.hpp"
#include "net/websocket.hpp"
#include "sim/energy_vad.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {
class http_server;
}

namespace switchboard::sim {

/// A function call the stand-in makes in one response of every session, as the real model does
/// when the conversation calls for a tool (e.g. "Goodbye!" and then end_call).
struct scripted_tool_call {
  /// Which response carries the call: N ≥ 1 = the response to the session's Nth caller turn
  /// (its Nth speech_stopped with create_response); 0 = the response to the first response.create
  /// the client sends (a bridge that greets first).
  std::uint64_t turn = 1;
  std::string name;              // must be one of the session's tools, or nothing is called
  std::string arguments = "{}";  // JSON text, sent in two argument deltas
  /// true: the response speaks its answer first (the next speech fixture) and then carries the
  /// call, in one response; false: the response carries only the call, no audio.
  bool speak_first = false;
};

struct model_options {
  // ---- listening
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks; read it back with port()
  /// Upgrades to other paths get 404, as api.openai.com does; empty accepts any path.
  std::string path = "/v1/realtime";
  /// A server context (net::tls_context::server, e.g. from write_self_signed_ca): wss://.
  std::shared_ptr<net::tls_context> tls;
  /// A client may append up to 15 MiB of audio in one event (§B4).
  net::websocket_limits limits{.max_message_bytes = net::max_realtime_event_bytes};

  // ---- authentication
  /// Non-empty: upgrades without `Authorization: Bearer <key>` are refused with 401.
  std::string expected_api_key;

  // ---- session
  /// The model reported when the URL has no ?model=.
  std::string model = "gpt-realtime";
  /// Loudness threshold and minimum speech length of the VAD. Padding and silence duration
  /// come from the session's turn_detection (API defaults 300 / 500 ms).
  energy_vad_options vad;

  // ---- answers
  /// Audio per response.output_audio.delta (ms of μ-law; 100 ms = 800 bytes).
  std::uint32_t delta_audio_ms = 100;
  /// Time between deltas. The real model generates faster than playback; 10 ms per 100 ms of
  /// audio is 10× real time. Zero still yields to other work between deltas.
  std::chrono::milliseconds delta_interval{10};
  /// Time between response.created and the first delta (the model's time to first audio).
  std::chrono::milliseconds response_delay{0};
  /// Load-generator mode: every append is answered at once by a delta carrying the same bytes,
  /// in one long-lived response per session; no VAD, no turns.
  bool echo = false;
  /// The io_context runs on ONE thread (the load generator): each session then handles its
  /// connection's events inline instead of hopping to its own strand. Timers still run on the
  /// session's strand, which on one thread never runs beside anything else.
  bool single_threaded_io = false;
  /// Function calls to make, each at most once per session; a response carries at most one (the
  /// first that matches). A call whose name the session did not declare in its tools is not made
  /// (counted in function_calls_undeclared): that response is an ordinary spoken answer.
  std::vector<scripted_tool_call> tool_calls;

  // ---- observation (benchmarks, the load generator); unset costs nothing
  /// Called on an io thread with the decoded μ-law of every input_audio_buffer.append, as it
  /// arrives (before the VAD or the echo). The span is valid during the call only.
  std::function<void(std::span<const std::uint8_t> audio)> on_audio_appended;
  /// Echo mode: called on an io thread with the bytes of each echo delta just before it is
  /// written. The span is valid during the call only.
  std::function<void(std::span<const std::uint8_t> audio)> on_echo_sent;

  // ---- faults
  /// Non-zero: every upgrade is refused with this HTTP status (e.g. 503, 429).
  unsigned refuse_status = 0;
  /// Non-zero: the first `drop_first_connections` accepted connections are cut this long after
  /// they open, abruptly (TCP closed, no close frame), so a reconnect then succeeds.
  std::chrono::milliseconds drop_after{0};
  std::size_t drop_first_connections = 1;
  /// Non-zero: every session ends this long after it opened, as the GA API's do at 60 minutes
  /// (§B6): an `error` with code session_expired, then the socket closes. Tests shorten it.
  std::chrono::milliseconds session_lifetime{0};
  /// Sends an `error` (server_error) right after every session.updated.
  bool error_after_session_update = false;
  /// The first `mute_first_connections` accepted connections are mute: the upgrade succeeds,
  /// then the session sends nothing at all (no session.created, no answer to anything) while it
  /// reads on — a hung model behind a live socket. WebSocket pings are still answered (the
  /// WebSocket layer does that), so only the Realtime protocol can tell.
  std::size_t mute_first_connections = 0;
};

/// The effective session after a session.update (absent fields keep earlier values).
struct model_session_summary {
  std::string session_type;  // "realtime"
  std::string model;
  std::string instructions;
  std::string voice;
  std::string input_format;         // audio.input.format.type, e.g. "audio/pcmu"
  std::string output_format;        // audio.output.format.type
  std::string turn_detection_type;  // server_vad | semantic_vad | none
  std::string transcription_model;  // empty: transcription off
  std::vector<std::string> tool_names;
};

struct model_truncate {
  std::string item_id;
  std::uint64_t audio_end_ms = 0;
  bool accepted = false;
};

/// A function call the stand-in made (response.function_call_arguments.done).
struct model_function_call {
  std::string response_id;
  std::string item_id;
  std::string call_id;
  std::string name;
  std::string arguments;
};

/// A conversation.item.create of a function_call_output the client sent.
struct model_function_output {
  std::string call_id;
  std::string output;
  bool known_call = false;  // the call_id is one the stand-in made in that session
};

/// A conversation.item.create a client sent (a bridge's keypad entry or tool result, or the
/// conversation it replays into a fresh session after a reconnect).
struct model_item_received {
  std::uint64_t connection = 0;  // 1-based, in the order the server accepted connections
  std::string type;              // message | function_call | function_call_output
  std::string role;              // messages: user | assistant | system
  std::string text;              // message text; function_call: name then arguments; output
  std::string call_id;           // function_call and function_call_output
  /// What the session had of the caller's audio when the item came: input_audio_buffer.append
  /// events received, and user audio items committed (a replay comes before both).
  std::uint64_t appends_before = 0;
  std::uint64_t commits_before = 0;
};

/// Counters over every session of the server since start().
struct model_stats {
  // connections
  std::uint64_t upgrades_refused = 0;  // refuse_status, unknown path or bad API key
  std::uint64_t unauthorized = 0;      // of those, 401 for a missing or wrong API key
  std::uint64_t sessions_opened = 0;   // accepted upgrades (beta ones included)
  std::uint64_t sessions_closed = 0;
  std::uint64_t beta_rejected = 0;        // OpenAI-Beta: realtime=v1 → error + close 4000
  std::uint64_t connections_dropped = 0;  // by drop_after
  std::uint64_t sessions_muted = 0;       // by mute_first_connections or mute_sessions()
  std::uint64_t sessions_expired = 0;     // ended at session_lifetime

  // session.update
  std::uint64_t session_updates = 0;  // received, rejected ones included
  std::uint64_t session_updates_rejected = 0;
  std::optional<model_session_summary> last_session;  // after the last accepted update
  /// The instructions of every accepted session.update that carried some, in order, over all
  /// sessions: whether anything but the bridge's own prompt ever reached a model.
  std::vector<std::string> session_instructions;

  // caller audio
  std::uint64_t appends = 0;
  std::uint64_t append_bytes = 0;  // decoded μ-law bytes
  std::uint64_t speech_started = 0;
  std::uint64_t speech_turns = 0;  // speech_stopped: complete turns
  std::uint64_t commits = 0;       // committed user audio items (VAD or client commit)

  // responses
  std::uint64_t responses_started = 0;
  std::uint64_t responses_completed = 0;
  std::uint64_t responses_cancelled = 0;    // both reasons
  std::uint64_t responses_interrupted = 0;  // of those, reason turn_detected (barge-in)
  std::uint64_t audio_deltas_sent = 0;
  std::uint64_t audio_bytes_sent = 0;

  // function calls (model_options::tool_calls)
  std::vector<model_function_call> function_calls;  // made, in order
  std::uint64_t function_calls_undeclared = 0;      // scripted but not among the session's tools
  std::vector<model_function_output> function_outputs;  // received, in order

  // client items and requests
  /// The text of every user message item (conversation.item.create, role user), in order: what
  /// the bridge tells the model in words (DTMF digits, "say" requests).
  std::vector<std::string> user_texts;
  /// Every conversation.item.create, in order over all sessions.
  std::vector<model_item_received> items_received;
  std::uint64_t response_creates = 0;  // response.create received, refused ones included
  /// response.instructions of every response.create that carried them, in order.
  std::vector<std::string> response_instructions;

  // client control
  std::vector<model_truncate> truncates;  // every truncate received, in order
  std::uint64_t truncates_rejected = 0;
  std::uint64_t cancels_received = 0;

  // errors
  std::uint64_t errors_sent = 0;       // `error` events of every kind
  std::uint64_t malformed_events = 0;  // not JSON, wrong shape, binary frames
};

class realtime_model_server {
 public:
  /// Binds and starts accepting. Fails (as a value) when the address cannot be bound or an
  /// option is unusable (delta_audio_ms of 0).
  static boost::system::result<std::unique_ptr<realtime_model_server>, std::string> start(
      boost::asio::io_context& io, model_options options);

  /// Calls stop(). Destroy the server before its io_context (stop() posts to the sessions).
  ~realtime_model_server();
  realtime_model_server(const realtime_model_server&) = delete;
  realtime_model_server& operator=(const realtime_model_server&) = delete;

  std::uint16_t port() const;
  /// ws://host:port/v1/realtime (wss:// with TLS), host 127.0.0.1 when bound to any address.
  std::string url() const;

  /// Stops accepting and closes every open session (1001 going away).
  void stop();
  /// Closes every open session with this code, keeps accepting: a mid-call model outage.
  void close_sessions(net::close_code code = net::close_code::going_away,
                      std::string reason = "server closed the session");

  /// Every open session goes mute from now on (a model that hangs mid-call), and so do the
  /// next `also_next_connections` connections accepted (its reconnects).
  void mute_sessions(std::size_t also_next_connections = 0);

  model_stats stats() const;

  struct state;  // shared with the sessions; defined in the .cpp

 private:
  realtime_model_server(std::shared_ptr<state> shared, std::unique_ptr<net::http_server> http);
  std::shared_ptr<state> state_;
  // Held here, not in state_: its routes hold state_, and state_ must not hold them back.
  std::unique_ptr<net::http_server> http_;
  std::uint16_t port_ = 0;
};

}  // namespace switchboard::sim
