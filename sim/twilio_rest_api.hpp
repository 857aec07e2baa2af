#pragma once
// The decisions of the Twilio REST stand-in (sim/twilio_rest_server.hpp), kept apart from its
// sockets and timers so they can be tested directly: which resource a path names, how a create
// or update request is validated, what a Call looks like in JSON, what a status callback
// carries, and what a TwiML document tells a call to do next (protocols.md §A6, §A7).
//
// Where the reference does not pin down an error code, the code chosen here is marked
// [stand-in's choice]: the shape (status, code, message, more_info) is Twilio's either way.

#include "net/twilio_signature.hpp"
#include "net/twiml.hpp"
#include "sim/twilio_caller.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace switchboard::sim {

// ---- errors -------------------------------------------------------------------------------

/// A Twilio REST error: the HTTP status and Twilio's error code and message (§A6).
struct twilio_rest_error {
  unsigned status = 400;
  int code = 0;
  std::string message;

  /// {"code":…,"message":…,"more_info":"https://www.twilio.com/docs/errors/<code>","status":…}
  std::string to_json() const;

  /// 401, 20003 "Authenticate": missing or wrong credentials.
  static twilio_rest_error authenticate();
  /// 404, 20404: an unknown account, call or path.
  static twilio_rest_error not_found(std::string_view resource);
  /// 400, 21211 "Invalid 'To' Phone Number".
  static twilio_rest_error invalid_to(std::string_view to);
  /// 429, 20429 "Too Many Requests".
  static twilio_rest_error too_many_requests();
  /// 500, 20500 "Internal Server Error".
  static twilio_rest_error internal_error();
  /// 503, 20503 "Service Unavailable".
  static twilio_rest_error service_unavailable();

  bool operator==(const twilio_rest_error&) const = default;
};

// ---- call states --------------------------------------------------------------------------

/// A Call resource's `status` (§A6).
enum class call_status {
  queued,
  ringing,
  in_progress,
  completed,
  busy,
  failed,
  no_answer,
  canceled
};

/// "queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled".
std::string_view to_string(call_status status);
/// completed, busy, failed, no-answer and canceled: the call is over.
bool is_terminal(call_status status);

/// The StatusCallbackEvent values a create request may ask for, as bits.
enum status_event : std::uint8_t {
  event_initiated = 1,
  event_ringing = 2,
  event_answered = 4,   // delivered with CallStatus=in-progress
  event_completed = 8,  // every terminal status: completed, busy, failed, no-answer, canceled
};

// ---- requests -----------------------------------------------------------------------------

/// Which REST resource a request path names.
struct calls_resource {  // /2010-04-01/Accounts/{AccountSid}/Calls.json
  std::string account_sid;
};
struct call_resource {  // /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json
  std::string account_sid;
  std::string call_sid;
};
struct unknown_resource {};
using rest_resource = std::variant<calls_resource, call_resource, unknown_resource>;
rest_resource parse_rest_path(std::string_view path);

/// The user and password of an `Authorization: Basic …` header (RFC 7617), or nothing when the
/// header is absent or not Basic.
struct basic_credentials {
  std::string user;
  std::string password;
};
std::optional<basic_credentials> parse_basic_authorization(std::string_view header);

/// A validated `POST …/Calls.json`.
struct create_call_request {
  std::string to;
  std::string from;
  std::string url;  // when set, Twilio fetches the TwiML from it and ignores `twiml`
  std::string method = "POST";
  std::string twiml;
  std::string status_callback;  // empty: no status callbacks
  std::string status_callback_method = "POST";
  std::uint8_t status_events = event_completed;  // Twilio's default: completed only
};

/// Twilio's limit on inline TwiML, in characters (§A6).
constexpr std::size_t max_twiml_characters = 4000;

/// Checks a create request as Twilio does: To and From present and well-formed (E.164, or a
/// client:/sip: address for To), one of Url or Twiml (ApplicationSid is not emulated), Twiml at
/// most 4000 characters, URLs http(s), StatusCallbackEvent repeated (or space-separated)
/// among initiated, ringing, answered, completed.
boost::system::result<create_call_request, twilio_rest_error> parse_create_call(
    std::span<const net::form_parameter> params);

/// A validated `POST …/Calls/{Sid}.json`.
struct update_call_request {
  std::optional<call_status> status;  // completed or canceled
  std::string twiml;                  // a redirect: replaces the executing TwiML
  std::string url;                    // or a redirect to TwiML fetched from here
  std::string method = "POST";
};
boost::system::result<update_call_request, twilio_rest_error> parse_update_call(
    std::span<const net::form_parameter> params);

// ---- TwiML --------------------------------------------------------------------------------

/// <Dial>: the call is transferred to this number (or client:/sip: address).
struct twiml_dial {
  std::string number;
};
/// <Hangup>, or TwiML that runs out without anything that keeps the call up.
struct twiml_hangup {};
/// What a call does with a TwiML document: the first of <Connect><Stream>, <Dial> or <Hangup>
/// decides (<Say>, <Play>, <Pause> before it only take time on a real call).
using twiml_instruction = std::variant<net::connect_stream, twiml_dial, twiml_hangup>;
boost::system::result<twiml_instruction, std::string> parse_call_twiml(std::string_view xml);

// ---- the call record ----------------------------------------------------------------------

/// A status callback the stand-in sent, and what the receiver answered.
struct sent_status_callback {
  std::string call_sid;
  std::string url;
  std::string method;  // POST, or GET with the parameters in the query
  std::vector<net::form_parameter> params;
  std::string signature;     // X-Twilio-Signature as sent
  unsigned http_status = 0;  // 0: no answer (error says why)
  std::string error;
};

/// One outbound call as the stand-in knows it. Copies are snapshots.
struct outbound_call {
  std::string sid;  // CA + 32 hex
  std::string account_sid;
  std::string from;
  std::string to;
  create_call_request request;  // as created

  call_status status = call_status::queued;
  std::vector<call_status> history;  // every status the call has had, in order, from queued
  std::chrono::system_clock::time_point created;
  std::chrono::system_clock::time_point updated;
  std::optional<std::chrono::system_clock::time_point> answered;  // start_time
  std::optional<std::chrono::system_clock::time_point> ended;     // end_time

  std::vector<twilio_call_result> streams;  // media streams played, in order
  /// Per stream after the first (a redirect's): from the end of the stream before to the first
  /// caller frame of this one, the caller's side of the switch (e.g. a drain's hand-over).
  std::vector<std::chrono::milliseconds> stream_gaps;
  std::string transferred_to;                   // where a <Dial> redirect connected the call
  std::vector<std::string> twiml_errors;        // TwiML that could not be fetched or executed
  std::vector<sent_status_callback> callbacks;  // in the order they were sent
  /// Over, with every status callback answered (or failed) and every stream closed.
  bool finished = false;

  /// Seconds between answer and end (0 when never answered), rounded down as Twilio bills.
  std::uint64_t duration_seconds() const;
};

/// The Call resource as the REST API returns it (snake_case, §A6).
std::string call_json(const outbound_call& call);

/// "Tue, 31 Aug 2010 20:36:28 +0000" (RFC 2822, UTC), Twilio's date format.
std::string rfc2822_time(std::chrono::system_clock::time_point time);

/// The form parameters of one status callback (§A7). `callback_status` is a call status or
/// "initiated"; terminal ones carry CallDuration and SipResponseCode, completed also Duration.
std::vector<net::form_parameter> status_callback_parameters(
    const outbound_call& call, std::string_view callback_status, std::uint64_t sequence_number,
    unsigned sip_response_code, std::chrono::system_clock::time_point now);

/// The parameters Twilio sends when it fetches a call's TwiML from its Url (the voice request of
/// an outbound-api call, CallStatus in-progress).
std::vector<net::form_parameter> voice_request_parameters(const outbound_call& call);

/// "CA" + 32 lower-case hex digits.
std::string generate_call_sid();

}  // namespace switchboard::sim
