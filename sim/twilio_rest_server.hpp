#pragma once
// The Twilio REST stand-in: the part of api.twilio.com that places and steers calls
// (protocols.md §A6), so outbound calls can be tried and tested without paying for them. Point
// TWILIO_API_BASE at base_url().
//
//   POST /2010-04-01/Accounts/{AccountSid}/Calls.json        create → 201 Call JSON (queued)
//   POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json  Status=completed|canceled, or a
//                                                            redirect (Twiml=… or Url=…) → 200
//   GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json  fetch → 200 Call JSON
//   GET  /2010-04-01/Accounts/{AccountSid}/Calls.json        list → 200 {"calls":[…]}
// Basic auth with AccountSid:AuthToken (or an API key pair); errors are Twilio's JSON
// ({"code","message","more_info","status"}). An update answers the call as it is at that
// moment: Status=completed on a streaming call reads in-progress until its stream has closed.
//
// Then, for each created call, on the io_context (the callee's behaviour says which path):
//
//   queued ─▶ initiated ─▶ ringing ──ring_time──▶ in-progress ──stream ends──▶ completed
//               │   │          ├──ring_time──▶ no-answer                  ▲
//               │   └─▶ busy   └──update Status=canceled|completed──▶ canceled
//               └─▶ failed            in-progress ──update Status=completed──┘
//                                     in-progress ──redirect <Dial>──▶ (transferred) ─▶ completed
//                                     in-progress ──the bridge closes the stream, <Connect
//                                         action>──▶ <Connect><Stream>: in-progress, a new stream
//                                                 ─▶ <Hangup/> or a failure: completed
//
// Answered means: the call's TwiML (inline, or fetched from its Url with a signed request) is
// executed; a <Connect><Stream> is played by a sim::twilio_caller exactly like an inbound call's
// stream (signed upgrade, `connected`, `start` with the <Parameter>s, then the callee's script).
// When the bridge closes the stream and the <Connect> has an action, that same twilio_caller
// requests the action (Direction outbound-api) and plays its answer: a new stream continues the
// callee's script where it was, and the call completes when the last stream ends. Status=completed
// and a redirect hang the caller up instead: the executing TwiML is over, no action is requested.
// Each status change the create request asked for (StatusCallbackEvent) is POSTed, form-encoded
// and signed with X-Twilio-Signature, to StatusCallback (§A5.1, §A7), one at a time per call.
//
// Threading: runs on the caller's io_context (any number of threads), no thread of its own.
// Every accessor may be called from any thread; the futures let tests wait without sleeping.

#include "net/tls.hpp"
#include "sim/twilio_caller.hpp"
#include "sim/twilio_rest_api.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {
class http_server;
}

namespace switchboard::sim {

/// What the called party does.
enum class callee_outcome {
  answer,     // rings for ring_time, answers, plays the TwiML; completed when it ends
  busy,       // busy at once (SIP 486), no ringing
  no_answer,  // rings for ring_time, then no-answer (SIP 487)
  fail,       // the call cannot be placed: failed (SIP 404, unreachable)
};

struct callee_behaviour {
  callee_outcome outcome = callee_outcome::answer;
  /// From ringing to answer (or to no-answer). Twilio would ring up to the request's Timeout.
  std::chrono::milliseconds ring_time{0};
  /// What the callee does on the media stream once answered. Empty: it stays on the line,
  /// silent, until the call is ended through the API (or after `listen_limit`).
  std::vector<caller_step> script;
  /// What the callee does on a stream a redirect started (Twilio plays the new TwiML on the
  /// same call: a drain's hand-over to another node). Empty: `script` again. A stream that a
  /// <Connect action> continues the call on goes on with the script that was playing instead.
  std::vector<caller_step> script_after_redirect;
  std::chrono::milliseconds listen_limit{std::chrono::minutes(10)};
};

struct twilio_rest_server_options {
  // ---- listening
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: the kernel picks; read it back with port()

  // ---- the account
  std::string account_sid;  // AC…; required
  std::string auth_token;   // required: basic-auth password, and signs callbacks and streams
  /// An API key pair also accepted as basic-auth credentials (§A6); empty: none.
  std::string api_key_sid;  // SK…
  std::string api_key_secret;

  // ---- the called parties
  callee_behaviour callee;                                   // for every call…
  std::map<std::string, callee_behaviour> callee_by_number;  // …unless its To is listed here
  /// host:port to open media streams to instead of the <Stream url>'s host, with plain ws://
  /// (see twilio_caller_options::stream_connect_address). Empty: the URL itself.
  std::string stream_connect_address;
  /// The same by the <Stream url>'s host, before stream_connect_address: the nodes of a
  /// cluster each advertise their own stream URL (NODE_STREAM_URL). Also routes the streams a
  /// <Connect action> continues a call on.
  std::map<std::string, std::string> stream_connect_by_host;
  /// Client TLS for https:// callbacks and Url fetches and wss:// streams.
  std::shared_ptr<net::tls_context> tls;
  /// How long the party a <Dial> redirect connected talks before hanging up.
  std::chrono::milliseconds transfer_duration{0};

  // ---- faults
  /// The next create requests, whatever they carry, are answered with these, in order (e.g.
  /// twilio_rest_error::too_many_requests()); then creates are served normally.
  std::vector<twilio_rest_error> create_faults;
  /// Holds a call's status callbacks until it has ended, then sends them last-first: Twilio
  /// does not promise order (§A7), and a receiver must cope.
  bool reverse_callbacks = false;
  std::chrono::milliseconds callback_timeout{5'000};
};

/// A request the stand-in received, and how it answered.
struct received_rest_request {
  std::string method;
  std::string target;                       // path and query as sent
  std::vector<net::form_parameter> params;  // the form body (POST) or the query (GET)
  bool authenticated = false;               // the credentials checked out
  unsigned status = 0;                      // the HTTP status answered
  std::string body;                         // the JSON answered
};

class twilio_rest_server {
 public:
  /// Binds and starts accepting. Fails (as a value) on an unusable option (no account_sid or
  /// auth_token) or when the address cannot be bound.
  static boost::system::result<std::unique_ptr<twilio_rest_server>, std::string> start(
      boost::asio::io_context& io, twilio_rest_server_options options);

  /// Calls stop(). Destroy the server before its io_context.
  ~twilio_rest_server();
  twilio_rest_server(const twilio_rest_server&) = delete;
  twilio_rest_server& operator=(const twilio_rest_server&) = delete;

  std::uint16_t port() const;
  /// http://127.0.0.1:<port> (what TWILIO_API_BASE is set to).
  std::string base_url() const;
  /// Stops accepting and ends every live call's stream (the callee hangs up).
  void stop();

  // ---- steering, from any thread
  /// Answers the next create request with `fault` (after those already queued).
  void inject_create_fault(twilio_rest_error fault);
  /// The behaviour of calls created from now on to `number`.
  void set_callee(std::string number, callee_behaviour behaviour);
  /// Where answered calls open their media stream (host:port), for a bridge that can only be
  /// started once this server's base_url() is known.
  void set_stream_connect_address(std::string address);
  /// Where streams whose <Stream url> names `host` open (host:port, plain ws://).
  void set_stream_connect_address_for(std::string host, std::string address);

  // ---- observation, from any thread (copies)
  std::vector<received_rest_request> requests() const;
  /// Every status callback sent, all calls, in the order they were answered.
  std::vector<sent_status_callback> callbacks() const;
  /// Every call created, in order.
  std::vector<outbound_call> calls() const;
  std::optional<outbound_call> call(std::string_view sid) const;

  /// Ready with the `index`-th call created (0-based) once it exists.
  std::future<outbound_call> when_created(std::size_t index);
  /// Ready once the call has had `status`, or has finished without it (check its history).
  /// An unknown sid is ready at once with an empty record.
  std::future<outbound_call> when_status(std::string_view sid, call_status status);
  /// Ready once the call is finished: ended, streams closed, every callback answered.
  std::future<outbound_call> when_finished(std::string_view sid);

  struct state;  // shared with the calls' timers and requests; defined in the .cpp

 private:
  twilio_rest_server(std::shared_ptr<state> shared, std::unique_ptr<net::http_server> http);

  std::shared_ptr<state> state_;
  // Held here, not in state_: its routes hold state_, and state_ must not hold them back.
  std::unique_ptr<net::http_server> http_;
};

}  // namespace switchboard::sim
