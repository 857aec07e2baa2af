#pragma once
// The Twilio stand-in: one simulated inbound phone call that reaches the bridge exactly as
// Twilio would (protocols.md part A), so a deployment can be tried without paying for calls.
//
//   webhook  → POST <webhook_url>, form-encoded, X-Twilio-Signature (§A5.1); expects 200 TwiML
//   twiml    → <Connect><Stream url="wss://…"><Parameter …/></Stream></Connect> (§A1, §A4)
//   upgrade  → GET <stream url>, X-Twilio-Signature over the wss:// URL, no params (§A5.3)
//   stream   → `connected`, `start` (customParameters = the <Parameter>s), then one 20 ms media
//              frame per tick (the script's speech, μ-law silence between), dtmf as scripted;
//              the bridge's media is played at real time, its marks echoed when played and all
//              pending marks echoed on clear (§A2, §A3)
//   hangup   → `stop`, then the socket is closed
//   action   → the bridge closed the stream (cleanly or not) and its <Connect> had an action:
//              the action URL is requested like the webhook (CallStatus in-progress, signed)
//              and its TwiML played: a new <Connect><Stream> continues the call (a new
//              StreamSid, `connected` + `start` again, the script resumes where it was), a
//              <Hangup/> ends it; a failed request or unplayable TwiML ends it too, as Twilio's
//              "an application error has occurred" does (twilio.com/docs/voice/twiml/connect)
//
// Runs on the caller's io_context (any number of threads): a strand and one steady timer per
// call, no thread per call. Ticks fall on absolute deadlines (stream start + n × 20 ms), so
// the media pace does not drift with scheduling delays.
//
// Many calls at once (the load generator): a caller_media_clock shared by the calls of an
// io_context that runs on ONE thread. One timer then paces them all: the clock wakes on a slot
// grid (every 2 ms while any call streams) and ticks every call due, each call still on its own
// 20 ms schedule from its own start (rounded up to the grid). The calls then need no strand:
// their stream events run inline on the io thread instead of hopping to a strand.

#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "net/twilio_signature.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::sim {

// ---- the script -------------------------------------------------------------------------

/// Say `audio` (μ-law 8 kHz mono, no header) at real time: 160-byte frames, the last one
/// padded with silence. The bytes are not copied: they must outlive the call (the speech
/// fixtures, which are compiled in, do).
struct speak_step {
  std::span<const std::uint8_t> audio;
};
/// Send μ-law silence frames for `duration` (rounded up to whole 20 ms frames).
struct silence_step {
  std::chrono::milliseconds duration{0};
};
/// Keep sending silence until the caller has HEARD at least `min_heard` of agent audio since
/// this step began. Fails the call (error set, then hang-up) after `timeout`.
struct wait_for_agent_audio_step {
  std::chrono::milliseconds min_heard{0};
  std::chrono::milliseconds timeout{30'000};
};
/// Keep sending silence until nothing has played for `quiet` (the agent's buffer stayed
/// empty), counted from when this step began. Fails the call after `timeout`.
struct wait_for_agent_silence_step {
  std::chrono::milliseconds quiet{0};
  std::chrono::milliseconds timeout{30'000};
};
/// Keep sending silence until `released` is ready: holds calls open while a test or a tool
/// looks at the bridge mid-call. `on_hold` (optional) is called on the io thread once the hold's
/// first frame of silence is sent; the step always streams at least that frame. Fails the call
/// after `timeout`.
struct hold_step {
  std::shared_future<void> released;
  std::function<void()> on_hold;
  std::chrono::milliseconds timeout{30'000};
};
/// A keypress: a `dtmf` message (track inbound_track) between two media frames.
struct dtmf_step {
  char digit = '0';  // 0-9, *, #
};
/// A raw text frame, sent as is and without a sequence number (malformed-input tests).
struct send_raw_step {
  std::string text;
};
/// `stop`, then close the socket; the rest of the script is ignored. A script that ends
/// without one hangs up anyway.
struct hangup_step {};
/// The line between Twilio and the bridge breaks: the TCP connection is torn down with no
/// `stop` and no close frame. The caller is still on the phone, so Twilio then requests the
/// stream's <Connect action>, as for any stream the bridge's side ended; the script goes on on
/// the stream that answer opens.
struct drop_connection_step {};

using caller_step =
    std::variant<speak_step, silence_step, wait_for_agent_audio_step, wait_for_agent_silence_step,
                 hold_step, dtmf_step, send_raw_step, hangup_step, drop_connection_step>;

inline caller_step speak(std::span<const std::uint8_t> audio) {
  return speak_step{audio};
}
inline caller_step silence(std::chrono::milliseconds duration) {
  return silence_step{duration};
}
inline caller_step wait_for_agent_audio(
    std::chrono::milliseconds min_heard,
    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  return wait_for_agent_audio_step{min_heard, timeout};
}
inline caller_step wait_for_agent_silence(
    std::chrono::milliseconds quiet, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  return wait_for_agent_silence_step{quiet, timeout};
}
inline caller_step hold_until(std::shared_future<void> released, std::function<void()> on_hold,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  return hold_step{std::move(released), std::move(on_hold), timeout};
}
inline caller_step dtmf(char digit) {
  return dtmf_step{digit};
}
inline caller_step send_raw(std::string text) {
  return send_raw_step{std::move(text)};
}
inline caller_step hangup() {
  return hangup_step{};
}
inline caller_step drop_connection() {
  return drop_connection_step{};
}

// ---- the shared media clock -----------------------------------------------------------------

class caller_media_clock;

/// A media clock for the calls of `io`, which must run on one thread only. `slot` is the grid
/// the calls' schedules start on (it divides 20 ms; 2 ms: ten wake-ups per 20 ms at most,
/// however many calls stream).
std::shared_ptr<caller_media_clock> make_caller_media_clock(
    boost::asio::io_context& io, std::chrono::microseconds slot = std::chrono::milliseconds(2));

// ---- options ------------------------------------------------------------------------------

struct twilio_caller_options {
  /// The bridge's voice webhook, as configured on the Twilio number, e.g.
  /// http://127.0.0.1:8080/incoming-call. Signed exactly as written.
  std::string webhook_url;
  /// TwiML already in hand, as for a call placed through the REST API (the TwiML came with
  /// the create request, sim/twilio_rest_server.hpp): the webhook step is skipped and the
  /// stream is read from this TwiML (result.webhook_status stays 0). A relative <Stream url>
  /// is then resolved against webhook_url when that is set.
  std::string twiml;
  /// Signs the webhook and the upgrade. Twilio uses the account's auth token.
  std::string auth_token;
  /// host:port to open the media-stream TCP connection to instead of the TwiML URL's host,
  /// with plain ws://. Twilio always dials wss:// on 443 through the operator's ingress, where
  /// TLS ends; the stand-in talks to the bridge directly, but still signs the URL as written in
  /// the TwiML and sends its host in the Host header. Empty: connect to the TwiML URL itself
  /// (wss:// then needs `tls`).
  std::string stream_connect_address;
  /// The same by the <Stream url>'s host, consulted before stream_connect_address: a <Connect
  /// action> may continue the call on another node's stream URL (NODE_STREAM_URL).
  std::map<std::string, std::string> stream_connect_by_host;
  /// host:port to send the webhook and <Connect action> requests to, by their URL's host, over
  /// plain http: the URL as written is still signed and its host sent in the Host header (what
  /// an ingress in front of the nodes receives). Unlisted hosts: the URL itself.
  std::map<std::string, std::string> http_connect_by_host;
  /// For https:// webhooks and wss:// streams; verifies the chain and the host name.
  std::shared_ptr<net::tls_context> tls;

  // Call identity; empty SIDs are generated (prefix + 32 lower-case hex, 34 characters).
  std::string account_sid;  // AC…
  std::string call_sid;     // CA…
  std::string stream_sid;   // MZ…
  std::string from = "+15005550006";
  std::string to = "+15005550001";
  /// The voice requests' Direction: "inbound" for a call to the number, "outbound-api" for one
  /// placed through the REST API.
  std::string direction = "inbound";
  /// Sent with the webhook and the <Connect action> requests after the standard ones (e.g.
  /// CallerName, FromCity); signed too.
  std::vector<net::form_parameter> extra_webhook_parameters;

  std::vector<caller_step> script;

  /// For the webhook and each <Connect action> request (no answer in time: see
  /// twilio_call_result::action_error).
  std::chrono::milliseconds webhook_timeout{10'000};
  /// <Connect action> requests per call at most: a bridge that answers every action with yet
  /// another stream that it closes cannot keep the stand-in busy forever. Past it the call ends
  /// (action_error says so).
  unsigned max_connect_actions = 10;
  /// Keep the audio the caller heard (8 KB per second of call) for the result.
  bool keep_heard_audio = true;

  /// Paces the call with other calls (see caller_media_clock above); the call must be started
  /// on the clock's io_context. Null: the call has its own strand and timer.
  std::shared_ptr<caller_media_clock> media_clock;

  // ---- observation (benchmarks, the load generator); unset costs nothing
  /// Called on an io thread with each media frame's 160 bytes of μ-law (silence-padded) just
  /// before the frame is written. The span is valid during the call only.
  std::function<void(std::span<const std::uint8_t> audio)> on_media_sent;
  /// Called on an io thread with the decoded payload of each `media` message from the bridge
  /// (this call's stream only), as it arrives. The span is valid during the call only.
  std::function<void(std::span<const std::uint8_t> audio)> on_media_received;
};

// ---- the result ---------------------------------------------------------------------------

/// A `clear` from the bridge, placed in time.
struct caller_clear_event {
  std::chrono::milliseconds since_stream_start{0};
  /// Index in the script of the last speak step begun before the clear, or -1.
  int speak_step = -1;
  /// Time since that speak step's first frame (meaningless when speak_step is -1): how long
  /// the bridge took to stop the agent after the caller began to talk over it.
  std::chrono::milliseconds since_speak_start{0};
  /// Agent audio dropped by the clear, in bytes (ms = bytes / 8).
  std::uint64_t bytes_dropped = 0;
};

/// What a <Connect action> request answered.
enum class connect_action_outcome {
  connect,    // 200 <Connect><Stream>: the call went on on a new stream
  hangup,     // 200 <Hangup/> (or <Say>…<Hangup/>): the call ended as the bridge meant it to
  error,      // no answer, not 200, or TwiML that cannot be played: Twilio says "an application
              // error has occurred" and hangs up
  abandoned,  // the caller hung up (hang_up()) before the answer came
};
std::string_view to_string(connect_action_outcome outcome);

/// One <Connect action> request: a stream ended without the caller hanging up.
struct connect_action_request {
  std::string url;      // as requested, resolved against the TwiML's URL (GET: without the query)
  std::string method;   // POST or GET
  unsigned status = 0;  // the HTTP status; 0: no answer
  connect_action_outcome outcome = connect_action_outcome::abandoned;
  std::string error;  // for outcome error: why
  /// For outcome connect: the silence the caller heard, from the last media frame received on
  /// the old stream (or its end, when it carried none) to the first media frame received on the
  /// new one (steady clock). Empty while the new stream has carried no media.
  std::optional<std::chrono::microseconds> audible_gap;
};

struct twilio_call_result {
  /// stream_sid is the latest stream's; stream_sids lists every stream's, in order.
  std::string account_sid, call_sid, stream_sid;

  unsigned webhook_status = 0;  // 0: no HTTP answer (see error)
  bool twiml_ok = false;        // the webhook answered (or options.twiml was)
                                // <Connect><Stream> TwiML
  // The latest stream (after a <Connect action>, the one its TwiML named):
  std::string stream_url;  // <Stream url> as written (a relative one resolved)
  std::vector<net::form_parameter> stream_parameters;  // its <Parameter>s, sent as
                                                       // customParameters
  unsigned upgrade_status = 0;  // 101 when the stream opened; e.g. 403 when refused; 0: none

  /// Streams opened (101), and their StreamSids in order: 1 unless a <Connect action>
  /// continued the call.
  unsigned streams = 0;
  std::vector<std::string> stream_sids;
  /// Every <Connect action> request, in order.
  std::vector<connect_action_request> actions;
  /// Why the call ended on a <Connect action> that failed (no answer, not 200, unplayable
  /// TwiML, max_connect_actions reached); empty otherwise. Not an `error`: Twilio ends such a
  /// call normally as far as the bridge can tell.
  std::string action_error;
  /// The webhook answered <Say>…</Say><Hangup/> instead of a stream: the bridge declined the
  /// call (it is full). Not an error; `declined_message` is what the caller heard.
  bool declined = false;
  std::string declined_message;

  // Counters over every stream of the call:
  std::uint64_t frames_sent = 0;           // every text frame: connected, start, media, dtmf,
                                           // mark echoes, stop and raw frames
  std::uint64_t media_frames_sent = 0;     // 20 ms each
  std::uint64_t last_sequence_number = 0;  // on the latest stream (each stream counts from 1)

  std::uint64_t agent_bytes_received = 0;  // μ-law from the bridge's media messages
  std::uint64_t agent_bytes_played = 0;    // of those, heard by the caller (ms = bytes / 8)
  std::uint64_t marks_received = 0;
  std::uint64_t marks_echoed = 0;
  std::vector<std::string> echoed_marks;  // names, in the order they were echoed
  std::uint64_t clears_received = 0;
  std::vector<caller_clear_event> clears;
  /// Frames Twilio would warn about: binary (31950) or unparseable / unsupported (31951).
  std::uint64_t invalid_frames_received = 0;

  /// What the caller heard, one 160-byte frame per 20 ms tick (from the first media frame to
  /// the tick that hung up): μ-law, silence where nothing played. The streams' ticks follow
  /// one another: the gap between streams is not in it (see connect_action_request).
  std::vector<std::uint8_t> heard_audio;

  bool script_completed = false;     // every step ran and the caller hung up
  bool server_closed_first = false;  // the bridge ended the latest stream before the caller
                                     // hung up
  std::uint16_t close_code = 0;      // the bridge's close code on the latest stream, if any
  std::string close_reason;

  /// Empty when the call went as scripted (the bridge closing the stream is not an error: a
  /// bridge may end a call). Otherwise what failed: webhook, TwiML, upgrade, a wait step's
  /// timeout, a lost connection (without a <Connect action>; with one, the action decides). A
  /// stream that cannot be opened is an error here even when its <Connect> names an action: the
  /// stand-in does not request the action then.
  std::string error;

  bool ok() const { return error.empty(); }
};

/// A request as Twilio sends its voice requests (the webhook, a <Connect action>, a call's Url,
/// status callbacks): POST form-encoded and signed over the URL and the sorted parameters; GET
/// with the parameters in the query string and signed over that whole URL (protocols.md §A5.1).
net::http_client_request signed_twilio_request(std::string_view method, const std::string& url,
                                               std::span<const net::form_parameter> params,
                                               std::string_view auth_token);

// ---- the call -----------------------------------------------------------------------------

class twilio_caller {
 public:
  using completion = std::function<void(twilio_call_result)>;

  /// Places the call and returns at once. `done` is called exactly once, on an io thread, when
  /// the call has ended (socket closed) or failed to start. The returned handle may be dropped:
  /// the call keeps itself alive until it ends.
  static std::shared_ptr<twilio_caller> start(boost::asio::io_context& io,
                                              twilio_caller_options options, completion done);

  /// Same, delivering the result through a future (for tests and simple tools; the io_context
  /// must run on another thread while you wait).
  static std::future<twilio_call_result> run(boost::asio::io_context& io,
                                             twilio_caller_options options);

  virtual ~twilio_caller() = default;

  /// Ends the call early from any thread: once the stream is open, `stop` and close (the
  /// result then has script_completed false and no error); before the webhook answered, the
  /// set-up is abandoned and the result's error says so. The caller hanging up is never
  /// followed by a <Connect action> request (the call is over); a <Connect action> request
  /// in flight is abandoned.
  virtual void hang_up() = 0;
};

}  // namespace switchboard::sim
