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
/// the dial's token, and a status callback for every event.
std::vector<net::form_parameter> create_call_parameters(
    const dial_request& dial, const std::string& from, const std::string& stream_url,
    const std::string& status_callback_url, const std::string& dial_id, const std::string& token);

/// POST /calls, answered asynchronously (the REST call is I/O). Lives as long as the server.
class outbound_dialer {
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

  /// Where a new call streams instead of this node (a draining node's ready peer); nullopt from
  /// `peer_stream`: here. A dial with its own instructions, voice or metadata always streams
  /// here: those stay on this node (dial_overrides), the peer would not find them.
  void redirect_streams(std::function<std::optional<std::string>()> peer_stream) {
    peer_stream_ = std::move(peer_stream);
  }

 private:
  config::settings settings_;
  boost::asio::io_context& io_;
  std::shared_ptr<net::tls_context> tls_;
  const net::call_token_issuer& tokens_;
  std::function<std::chrono::system_clock::time_point()> wall_clock_;
  call_rate_limiter limiter_;
  std::shared_ptr<actors::dial_overrides> dials_;       // per-call prompt and voice, by dial id
  std::shared_ptr<actors::call_status_book> statuses_;  // each call created, for /call-status
  std::shared_ptr<actors::call_admission> admission_;   // MAX_CALLS and lag: 503 when full
  std::shared_ptr<metrics::bridge_metrics> metrics_;
  std::function<std::optional<std::string>()> peer_stream_;  // may be empty
};

}  // namespace switchboard::app
