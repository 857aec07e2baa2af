#pragma once
// Outbound calls: POST /calls {"to", "instructions"?, "voice"?, "metadata"?} creates a call
// through Twilio's REST API, whose inline TwiML streams it back to this bridge. An open dial
// endpoint is a toll-fraud hole, so every request passes, in order: the API is on (API_TOKEN),
// the bearer token, the JSON, an E.164 destination allowed by ALLOWED_DESTINATIONS, and the
// CALLS_PER_MINUTE limit; then the node must have room for the call (MAX_CALLS, event-loop lag:
// 503 otherwise). Errors are JSON {"error": "..."}; Twilio's own come back with its code.
//
// The checks are plain functions (app/call_api_requests.hpp), tested directly; outbound_dialer
// wires them to the REST call.

#include "actors/bridge_environment.hpp"
#include "app/call_api_requests.hpp"
#include "config/settings.hpp"
#include "net/call_token.hpp"
#include "net/http_types.hpp"
#include "net/twilio_rest.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::app {

/// Twilio refusing a request (a bad number, an unverified caller id) is the API client's to fix
/// (400); Twilio failing, unreachable, or refusing our credentials or rate is a bad gateway (502).
unsigned status_for_twilio_error(const net::twilio_api_error& error);

/// At most `per_minute` acquisitions in any 60 s window. Thread-safe.
class call_rate_limiter {
 public:
  explicit call_rate_limiter(unsigned per_minute) : per_minute_(per_minute) {}
  bool try_acquire(std::chrono::steady_clock::time_point now);

 private:
  std::mutex mutex_;
  unsigned per_minute_;
  std::deque<std::chrono::steady_clock::time_point> recent_;
};

/// The form of Calls.json for one dial: To, From, inline TwiML streaming to `stream_url` with
/// the dial's token (and its overrides, when they travel) and `action_url` as its <Connect
/// action> (empty: none), and a status callback for every event.
std::vector<net::form_parameter> create_call_parameters(
    const dial_request& dial, const std::string& from, const std::string& stream_url,
    const std::string& status_callback_url, const std::string& dial_id, const std::string& token,
    bool with_overrides = false, const std::string& action_url = {});

/// Twilio's limit on inline TwiML (Calls.json `Twiml`; error 32018 beyond it).
inline constexpr std::size_t max_inline_twiml_chars = 4000;
/// The most of a dial's overrides (XML-escaped) that travel in its TwiML: the rest of the
/// TwiML (stream URL, token, numbers) fits in what Twilio leaves. Longer ones keep the call on
/// the node that dials it, in that node's memory (dial_overrides).
inline constexpr std::size_t max_travelling_overrides_chars = 3000;

/// The <Parameter>s that carry a dial's overrides to whichever node takes its stream (empty
/// ones left out; metadata "{}" is none), and whether they fit in the TwiML.
std::vector<net::form_parameter> dial_override_parameters(const dial_request& dial);
bool overrides_travel(const dial_request& dial);

class call_placer;
struct placed_call;

/// POST /calls, answered asynchronously (the REST call is I/O). Lives as long as the server.
class outbound_dialer : public std::enable_shared_from_this<outbound_dialer> {
 public:
  outbound_dialer(const config::settings& settings, boost::asio::io_context& io,
                  std::shared_ptr<net::tls_context> tls, const net::call_token_issuer& tokens,
                  std::function<std::chrono::system_clock::time_point()> wall_clock,
                  std::shared_ptr<actors::dial_overrides> dials,
                  std::shared_ptr<actors::call_status_book> statuses,
                  std::shared_ptr<actors::call_admission> admission =
                      std::make_shared<actors::call_admission>(),
                  std::shared_ptr<metrics::bridge_metrics> metrics =
                      std::make_shared<metrics::bridge_metrics>());

  /// An http_routes::on_request_async: takes POST /calls, leaves every other request.
  bool handle(const net::http_request& request, const net::http_responder& respond);

  /// Where calls go (app/call_placement.hpp): this node or a peer with room. Unset: this node,
  /// by its own admission.
  void place_with(std::shared_ptr<call_placer> placer) { placer_ = std::move(placer); }
  /// CALLS_PER_MINUTE for the whole cluster: `take` asks the node that keeps the budget for one
  /// dial (true: granted; nullopt: it could not be asked, and this node's own limit decides).
  /// Unset: this node's limit alone.
  using dial_budget = std::function<void(std::function<void(std::optional<bool>)>)>;
  void take_dials_from(dial_budget take) { take_dial_ = std::move(take); }
  /// This node's CALLS_PER_MINUTE: the cluster's budget when this node keeps it.
  std::shared_ptr<call_rate_limiter> rate_limiter() const { return limiter_; }

 private:
  void place_and_dial(dial_request dial, const net::http_responder& respond);
  void dial_placed(const dial_request& dial, const std::string& dial_id, const std::string& place,
                   bool has_overrides, bool travelling, std::optional<placed_call> where,
                   const net::http_responder& respond);
  /// The place a dial held is free again (the dial was refused or failed).
  void give_back(const placed_call& where, const std::string& place);
  void dial_budgeted(const dial_request& dial, const std::string& dial_id, const std::string& place,
                     bool has_overrides, bool travelling, const placed_call& where,
                     const net::http_responder& respond);
  config::settings settings_;
  boost::asio::io_context& io_;
  std::shared_ptr<net::tls_context> tls_;
  const net::call_token_issuer& tokens_;
  std::function<std::chrono::system_clock::time_point()> wall_clock_;
  std::shared_ptr<call_rate_limiter> limiter_;
  dial_budget take_dial_;                               // may be empty
  std::shared_ptr<actors::dial_overrides> dials_;       // per-call prompt and voice, by dial id
  std::shared_ptr<actors::call_status_book> statuses_;  // each call created, for /call-status
  std::shared_ptr<actors::call_admission> admission_;   // MAX_CALLS and lag: 503 when full
  std::shared_ptr<metrics::bridge_metrics> metrics_;
  std::shared_ptr<call_placer> placer_;  // may be null
};

}  // namespace switchboard::app
