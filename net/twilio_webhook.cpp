#include "net/twilio_webhook.hpp"

#include "net/twilio_signature.hpp"
#include "net/twiml.hpp"

#include <vector>

namespace switchboard::net {

namespace {

/// scheme://host[/prefix] of this server as Twilio reaches it.
std::string public_base(const http_request& request, const twilio_webhook_settings& settings) {
  if (settings.public_url)
    return *settings.public_url;
  // Behind an ingress that ends TLS, the original scheme is in X-Forwarded-Proto.
  const auto forwarded = request.header("x-forwarded-proto");
  const std::string scheme = forwarded.empty() ? "http" : std::string(forwarded);
  return scheme + "://" + std::string(request.header("host"));
}

std::string_view value_of(const std::vector<form_parameter>& params, std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name)
      return param.value;
  }
  return {};
}

}  // namespace

std::string requested_url(const http_request& request, const twilio_webhook_settings& settings) {
  return public_base(request, settings) + request.target;
}

std::string connect_action_url(const http_request& request,
                               const twilio_webhook_settings& settings) {
  return public_base(request, settings) + std::string(connect_action_path);
}

std::string connect_action_url(const twilio_webhook_settings& settings) {
  return settings.public_url ? *settings.public_url + std::string(connect_action_path)
                             : std::string();
}

std::string media_stream_url(const http_request& request, const twilio_webhook_settings& settings) {
  if (!settings.node_stream_url.empty())
    return settings.node_stream_url;
  auto base = public_base(request, settings);
  if (base.starts_with("https://")) {
    base.replace(0, 5, "wss");
  } else if (base.starts_with("http://")) {
    // A plain-http PUBLIC_URL is a local set-up (no TLS anywhere): keep it plain.
    base.replace(0, 4, settings.public_url ? "ws" : "wss");
  }
  return base + std::string(media_stream_path);
}

std::variant<incoming_call, http_response> read_incoming_call(
    const http_request& request, const twilio_webhook_settings& settings) {
  if (request.method != "POST" && request.method != "GET") {
    return http_response::text(405, "method not allowed\n");
  }
  // POST: the form body is signed with the URL. GET: the parameters are in the URL itself.
  std::vector<form_parameter> params;
  if (request.method == "POST") {
    params = parse_form_body(request.body);
  } else if (const auto query = request.target.find('?'); query != std::string::npos) {
    params = parse_form_body(std::string_view(request.target).substr(query + 1));
  }
  if (settings.check_signatures) {
    const auto signature = request.header("x-twilio-signature");
    const std::vector<form_parameter> signed_params =
        request.method == "POST" ? params : std::vector<form_parameter>{};
    if (!is_valid_twilio_signature(settings.auth_token, signature, requested_url(request, settings),
                                   signed_params)) {
      return http_response::text(403, "invalid or missing X-Twilio-Signature\n");
    }
  }
  const auto call_sid = value_of(params, "CallSid");
  if (call_sid.empty())
    return http_response::text(400, "CallSid is missing\n");
  return incoming_call{std::string(call_sid), std::string(value_of(params, "From")),
                       std::string(value_of(params, "To")),
                       std::string(value_of(params, "CallStatus"))};
}

http_response stream_call_response(const incoming_call& call, const std::string& stream_url,
                                   const call_token_issuer& tokens,
                                   std::chrono::system_clock::time_point now,
                                   const std::string& action_url,
                                   std::span<const form_parameter> extra,
                                   std::chrono::seconds token_validity) {
  std::vector<form_parameter> stream_parameters{
      {"CallSid", call.call_sid},
      {"From", call.from},
      {"To", call.to},
      {"token", tokens.issue({call.call_sid, call.from, call.to}, now, token_validity)},
  };
  stream_parameters.insert(stream_parameters.end(), extra.begin(), extra.end());
  http_response response;
  response.content_type = "text/xml";
  response.body = connect_stream_twiml(stream_url, stream_parameters, action_url);
  return response;
}

http_response full_response(const twilio_webhook_settings& settings) {
  // Answered at once: the caller hears why instead of a ringing line, and Twilio's status
  // callbacks show a completed call, not a failed webhook.
  http_response refused;
  refused.content_type = "text/xml";
  refused.body = say_and_hang_up_twiml(settings.full_message);
  return refused;
}

http_response answer_incoming_call(const http_request& request,
                                   const twilio_webhook_settings& settings,
                                   const call_token_issuer& tokens,
                                   std::chrono::system_clock::time_point now,
                                   const admit_call& admit, const redirect_call& redirect) {
  auto read = read_incoming_call(request, settings);
  if (auto* refused = std::get_if<http_response>(&read))
    return std::move(*refused);
  const auto& call = std::get<incoming_call>(read);
  // A peer's stream takes no place here: the peer admits the call when its stream starts.
  std::optional<std::string> peer_stream;
  if (redirect)
    peer_stream = redirect(call.call_sid);
  if (!peer_stream && admit && !admit(call.call_sid))
    return full_response(settings);
  return stream_call_response(call,
                              peer_stream ? *peer_stream : media_stream_url(request, settings),
                              tokens, now, connect_action_url(request, settings));
}

std::string check_media_stream_upgrade(const http_request& request,
                                       const twilio_webhook_settings& settings) {
  if (request.path() != media_stream_path)
    return "no WebSocket at " + std::string(request.path());
  // Twilio strips query strings from stream URLs; one here did not come from our TwiML.
  if (request.target.find('?') != std::string::npos)
    return "query string on the stream URL";
  if (!settings.check_signatures)
    return {};
  const auto signature = request.header("x-twilio-signature");
  if (signature.empty())
    return "missing X-Twilio-Signature";
  if (!is_valid_twilio_signature(settings.auth_token, signature,
                                 media_stream_url(request, settings), {})) {
    return "invalid X-Twilio-Signature";
  }
  return {};
}

}  // namespace switchboard::net
