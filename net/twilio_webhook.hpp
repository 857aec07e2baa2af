#pragma once
// The HTTP side of an inbound call (pure request → response logic, no sockets):
//   POST|GET /incoming-call  Twilio's voice webhook: check X-Twilio-Signature, answer TwiML that
//                            connects the call to our media stream, with a per-call token.
//   GET /media-stream        the WebSocket upgrade: check its signature before any model
//                            connection is made (protocols.md §A5.3).
//   POST /connect-action     <Connect action>: Twilio asks what next when a stream ended
//                            (app/connect_action.hpp decides; signed and checked like the
//                            webhook).

#include "net/call_token.hpp"
#include "net/http_types.hpp"
#include "net/twilio_signature.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace switchboard::net {

struct twilio_webhook_settings {
  /// PUBLIC_URL (https://voice.example.com[/prefix]); without it, the host comes from the
  /// request (Host, X-Forwarded-Proto), as the webhook was reached.
  std::optional<std::string> public_url;
  /// NODE_STREAM_URL (wss://node-0.voice.example.com/media-stream): this node's own stream URL,
  /// named in its TwiML and signed by Twilio on the upgrade; empty = built on public_url.
  std::string node_stream_url;
  std::string auth_token;        // TWILIO_AUTH_TOKEN; empty = signatures not checked
  bool check_signatures = true;  // false only with ALLOW_UNSIGNED_TWILIO and no token
  /// FULL_MESSAGE: what a caller hears when the node will not take the call.
  std::string full_message = "Sorry, all our lines are busy right now. Please call again later.";
};

/// Admission control for one call, by its CallSid: true takes it (and holds a place for its
/// stream), false refuses it. Asked only for a signed request that names a CallSid.
using admit_call = std::function<bool(std::string_view call_sid)>;

inline constexpr std::string_view incoming_call_path = "/incoming-call";
inline constexpr std::string_view media_stream_path = "/media-stream";
inline constexpr std::string_view connect_action_path = "/connect-action";

/// The URL Twilio requested (and signed): PUBLIC_URL + target, or scheme://Host + target.
std::string requested_url(const http_request& request, const twilio_webhook_settings& settings);

/// NODE_STREAM_URL when set; else wss://HOST[/prefix]/media-stream (ws:// when PUBLIC_URL is
/// plain http://, for local use).
std::string media_stream_url(const http_request& request, const twilio_webhook_settings& settings);

/// The <Connect action> URL every stream TwiML names: PUBLIC_URL (else as the webhook was
/// reached) + /connect-action. Any node answers it: it is the cluster's address, not a node's.
std::string connect_action_url(const http_request& request,
                               const twilio_webhook_settings& settings);
/// The same from PUBLIC_URL alone (TwiML made without a request: POST /calls, a hand-over);
/// empty without PUBLIC_URL.
std::string connect_action_url(const twilio_webhook_settings& settings);

/// Where a webhook's call streams when this node does not take it itself: a peer's stream URL
/// (a draining node sends new calls to a ready peer). Asked first, for a signed request that
/// names a CallSid; nullopt: this node answers for itself (`admit`).
using redirect_call = std::function<std::optional<std::string>(std::string_view call_sid)>;

/// What a signed voice webhook says of its call.
struct incoming_call {
  std::string call_sid;
  std::string from;
  std::string to;
  std::string call_status;  // CallStatus: ringing at the webhook; in-progress at an action
};

/// The voice webhook's checks: the method (405), the signature (403), a CallSid (400). Either
/// the call, or the response that refuses the request.
std::variant<incoming_call, http_response> read_incoming_call(
    const http_request& request, const twilio_webhook_settings& settings);

/// TwiML that streams `call` to `stream_url`, with its From, To and a call token valid for
/// `token_validity`, and `action_url` as its <Connect action> (empty: none). `extra`
/// parameters follow (a hand-over key for a continued call).
http_response stream_call_response(const incoming_call& call, const std::string& stream_url,
                                   const call_token_issuer& tokens,
                                   std::chrono::system_clock::time_point now,
                                   const std::string& action_url = {},
                                   std::span<const form_parameter> extra = {},
                                   std::chrono::seconds token_validity = std::chrono::minutes(5));

/// <Say>FULL_MESSAGE</Say><Hangup/> (200, so that Twilio plays it): no node takes the call.
http_response full_response(const twilio_webhook_settings& settings);

/// The voice webhook. 403 on a missing or bad signature; 400 without a CallSid; else TwiML:
/// the media stream (a peer's, when `redirect` names one; else this node's), or — when `admit`
/// refuses the call — <Say>FULL_MESSAGE</Say><Hangup/> (200, so that Twilio plays it).
http_response answer_incoming_call(const http_request& request,
                                   const twilio_webhook_settings& settings,
                                   const call_token_issuer& tokens,
                                   std::chrono::system_clock::time_point now,
                                   const admit_call& admit = {},
                                   const redirect_call& redirect = {});

/// Empty when the media-stream upgrade may proceed, else why it is refused (answer 403).
std::string check_media_stream_upgrade(const http_request& request,
                                       const twilio_webhook_settings& settings);

}  // namespace switchboard::net
