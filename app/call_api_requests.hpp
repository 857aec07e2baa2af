#pragma once
// What the call API (POST /calls and the call-control routes) reads from a request before it
// does anything: the bearer token, the route, and the JSON bodies. Pure functions on bytes from
// the socket, with no I/O, so that they are unit-tested and fuzzed (tests/fuzz/
// fuzz_http_request.cpp) on their own; outbound_dialer and call_controller apply them.

#include "net/http_types.hpp"

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::app {

/// An API refusal: the HTTP status and why, in words for the caller of the API.
struct api_error {
  unsigned status = 400;
  std::string reason;
};

/// {"error": reason} with the status.
net::http_response api_error_response(const api_error& error);

/// "Authorization: Bearer <token>", compared in constant time.
bool bearer_token_matches(std::string_view authorization_header, std::string_view token);

/// The API's gate, for POST /calls and call control alike: off without API_TOKEN (404, saying
/// so), then the bearer token (401). nullopt: let the request in.
std::optional<api_error> refuse_api_request(const net::http_request& request,
                                            std::string_view api_token);

/// "+" then 8 to 15 digits, the first not 0 (E.164).
bool is_e164(std::string_view number);

/// Why the bridge may not call `to` (not E.164, or not under an ALLOWED_DESTINATIONS prefix);
/// nullopt when it may. The one check of every number dialled or transferred to.
std::optional<api_error> refuse_destination(std::string_view to,
                                            const std::vector<std::string>& allowed_prefixes);

/// POST /calls {"to", "instructions"?, "voice"?, "metadata"?}.
struct dial_request {
  std::string to;
  std::optional<std::string> instructions;
  std::optional<std::string> voice;
  std::string metadata_json = "{}";  // an object, kept as JSON
};

/// Parses and checks a POST /calls body against the allowed destination prefixes.
boost::system::result<dial_request, api_error> parse_dial_request(
    std::string_view body, const std::vector<std::string>& allowed_prefixes);

/// A request of the call-control API, as its path and method say.
struct call_control_route {
  enum class action { list, show, recording, hangup, transfer, say };
  action what = action::list;
  std::string call_sid;
  std::string file;  // recording
};

/// Parses method + path; nullopt when the request is not for this API. A route on an API path
/// with the wrong method, or a malformed sid, is an api_error (405 / 404).
std::optional<boost::system::result<call_control_route, api_error>> parse_call_control_route(
    std::string_view method, std::string_view path);

/// Longest text POST /calls/{sid}/say takes.
inline constexpr std::size_t max_say_bytes = 4096;

/// POST /calls/{sid}/say {"text"}: what the agent is to say, 1 to max_say_bytes bytes.
boost::system::result<std::string, api_error> parse_say_request(std::string_view body);

/// POST /calls/{sid}/transfer {"to"}: the number, not checked yet (refuse_destination does that,
/// for the API and the model's transfers alike).
boost::system::result<std::string, api_error> parse_transfer_request(std::string_view body);

}  // namespace switchboard::app
