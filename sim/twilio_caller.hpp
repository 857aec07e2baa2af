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

#include "net/tls.hpp"
#include "net/twilio_signature.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
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

using caller_step =
    std::variant<speak_step, silence_step, wait_for_agent_audio_step, wait_for_agent_silence_step,
                 hold_step, dtmf_step, send_raw_step, hangup_step>;

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
  /// For https:// webhooks and wss:// streams; verifies the chain and the host name.
  std::shared_ptr<net::tls_context> tls;

  // Call identity; empty SIDs are generated (prefix + 32 lower-case hex, 34 characters).
  std::string account_sid;  // AC…
  std::string call_sid;     // CA…
  std::string stream_sid;   // MZ…
  std::string from = "+15005550006";
  std::string to = "+15005550001";
  /// Sent with the webhook after the standard ones (e.g. CallerName, FromCity); signed too.
  std::vector<net::form_parameter> extra_webhook_parameters;

  std::vector<caller_step> script;

  std::chrono::milliseconds webhook_timeout{10'000};
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

struct twilio_call_result {
  std::string account_sid, call_sid, stream_sid;

  unsigned webhook_status = 0;  // 0: no HTTP answer (see error)
  bool twiml_ok = false;        // the webhook answered (or options.twiml was)
                                // <Connect><Stream> TwiML
  std::string stream_url;       // <Stream url> as written
  std::vector<net::form_parameter> stream_parameters;  // its <Parameter>s, sent as
                                                       // customParameters
  unsigned upgrade_status = 0;  // 101 when the stream opened; e.g. 403 when refused; 0: none
  /// The webhook answered <Say>…</Say><Hangup/> instead of a stream: the bridge declined the
  /// call (it is full). Not an error; `declined_message` is what the caller heard.
  bool declined = false;
  std::string declined_message;

  std::uint64_t frames_sent = 0;        // every text frame: connected, start, media, dtmf,
                                        // mark echoes, stop and raw frames
  std::uint64_t media_frames_sent = 0;  // 20 ms each
  std::uint64_t last_sequence_number = 0;

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
  /// the tick that hung up): μ-law, silence where nothing played.
  std::vector<std::uint8_t> heard_audio;

  bool script_completed = false;     // every step ran and the caller hung up
  bool server_closed_first = false;  // the bridge ended the stream before the caller hung up
  std::uint16_t close_code = 0;      // the bridge's close code, when it sent one
  std::string close_reason;

  /// Empty when the call went as scripted (the bridge closing the stream is not an error: a
  /// bridge may end a call). Otherwise what failed: webhook, TwiML, upgrade, a wait step's
  /// timeout, a lost connection.
  std::string error;

  bool ok() const { return error.empty(); }
};

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
  /// set-up is abandoned and the result's error says so.
  virtual void hang_up() = 0;
};

}  // namespace switchboard::sim
