#pragma once
// POST /call-status: Twilio's status callbacks for the calls POST /calls placed (protocols.md
// §A7): form-encoded, signed with X-Twilio-Signature over PUBLIC_URL + "/call-status" (§A5.1).
// Each one moves the call's record in the call_status_book forward (stale ones are ignored:
// Twilio does not promise their order), which also brings the call's call.json up to date.
//
//   403  missing or bad signature (unless signatures are off: no TWILIO_AUTH_TOKEN)
//   405  not a POST (the dialer asks for StatusCallbackMethod=POST)
//   400  no CallSid, or a CallStatus that is not one
//   204  applied, or ignored as stale: Twilio needs nothing back, and must not retry
//
// Pure request → response apart from the book (and the call.json rewrite it may do): tested
// directly, and wired into the server's routes.

#include "actors/call_status_book.hpp"
#include "metrics/bridge_metrics.hpp"
#include "net/http_types.hpp"
#include "net/twilio_webhook.hpp"

#include <chrono>
#include <string_view>

namespace switchboard::app {

inline constexpr std::string_view call_status_path = "/call-status";

/// Handles one status callback; logs it per call ("[call CA..] status ringing") and every
/// refusal with its reason, and counts it in `node` (switchboard_status_callbacks_total) when
/// given.
net::http_response answer_call_status(const net::http_request& request,
                                      const net::twilio_webhook_settings& settings,
                                      actors::call_status_book& book,
                                      std::chrono::system_clock::time_point now,
                                      metrics::bridge_metrics* node = nullptr);

}  // namespace switchboard::app
