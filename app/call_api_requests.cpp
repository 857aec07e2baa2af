#include "app/call_api_requests.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace switchboard::app {

namespace {

namespace json = boost::json;

constexpr std::size_t max_instructions_bytes = 16 * 1024;
constexpr std::array<std::string_view, 10> voices{"alloy", "ash",     "ballad", "coral", "echo",
                                                  "sage",  "shimmer", "verse",  "marin", "cedar"};
constexpr std::string_view calls_prefix = "/calls/";

bool is_call_sid(std::string_view sid) {
  return !sid.empty() && sid.size() <= 64 && std::all_of(sid.begin(), sid.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
  });
}

/// A JSON body's string field, or nullopt when the body is not an object or lacks it.
std::optional<std::string> string_field(std::string_view body, std::string_view key) {
  boost::system::error_code ec;
  const auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object())
    return std::nullopt;
  const auto* value = parsed.as_object().if_contains(key);
  if (value == nullptr || !value->is_string())
    return std::nullopt;
  return std::string(value->as_string());
}

}  // namespace

net::http_response api_error_response(const api_error& error) {
  json::object body{{"error", error.reason}};
  return net::http_response::json(error.status, json::serialize(body) + "\n");
}

bool bearer_token_matches(std::string_view authorization_header, std::string_view token) {
  constexpr std::string_view scheme = "Bearer ";
  if (token.empty() || !authorization_header.starts_with(scheme))
    return false;
  const auto given = authorization_header.substr(scheme.size());
  return given.size() == token.size() &&
         CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

std::optional<api_error> refuse_api_request(const net::http_request& request,
                                            std::string_view api_token) {
  if (api_token.empty())
    return api_error{404, "the call API is off: API_TOKEN is not set"};
  if (!bearer_token_matches(request.header("Authorization"), api_token))
    return api_error{401, "missing or wrong bearer token (Authorization: Bearer <API_TOKEN>)"};
  return std::nullopt;
}

bool is_e164(std::string_view number) {
  if (number.size() < 9 || number.size() > 16 || number[0] != '+' || number[1] == '0')
    return false;
  return std::all_of(number.begin() + 1, number.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<api_error> refuse_destination(std::string_view to,
                                            const std::vector<std::string>& allowed_prefixes) {
  if (!is_e164(to)) {
    return api_error{400,
                     "\"to\" is not an E.164 number (+ and 8 to 15 digits): " + std::string(to)};
  }
  const bool allowed =
      std::any_of(allowed_prefixes.begin(), allowed_prefixes.end(),
                  [&](const std::string& prefix) { return to.starts_with(prefix); });
  if (!allowed) {
    return api_error{
        400, std::string(to) + " is not in ALLOWED_DESTINATIONS" +
                 (allowed_prefixes.empty() ? " (none are allowed: it is unset)" : std::string{})};
  }
  return std::nullopt;
}

boost::system::result<dial_request, api_error> parse_dial_request(
    std::string_view body, const std::vector<std::string>& allowed_prefixes) {
  boost::system::error_code ec;
  const auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object())
    return api_error{400, "the body must be a JSON object: {\"to\": \"+E164\", ...}"};
  const auto& object = parsed.as_object();
  dial_request dial;
  const auto* to = object.if_contains("to");
  if (to == nullptr || !to->is_string())
    return api_error{400, "\"to\" is required: the number to call, in E.164 (+14155550100)"};
  dial.to = std::string(to->as_string());
  if (auto refused = refuse_destination(dial.to, allowed_prefixes))
    return *refused;
  if (const auto* instructions = object.if_contains("instructions")) {
    if (!instructions->is_string() || instructions->as_string().size() > max_instructions_bytes)
      return api_error{400, "\"instructions\" must be a string of at most 16 KiB"};
    dial.instructions = std::string(instructions->as_string());
  }
  if (const auto* voice = object.if_contains("voice")) {
    if (!voice->is_string() || std::find(voices.begin(), voices.end(),
                                         std::string_view(voice->as_string())) == voices.end()) {
      return api_error{400,
                       "\"voice\" must be one of alloy, ash, ballad, coral, echo, sage, "
                       "shimmer, verse, marin, cedar"};
    }
    dial.voice = std::string(voice->as_string());
  }
  if (const auto* metadata = object.if_contains("metadata")) {
    if (!metadata->is_object())
      return api_error{400, "\"metadata\" must be a JSON object"};
    dial.metadata_json = json::serialize(*metadata);
  }
  return dial;
}

std::optional<boost::system::result<call_control_route, api_error>> parse_call_control_route(
    std::string_view method, std::string_view path) {
  using result = boost::system::result<call_control_route, api_error>;
  using action = call_control_route::action;
  const auto wrong_method = [&](std::string_view allowed) -> result {
    return api_error{
        405, std::string(path) + " takes " + std::string(allowed) + ", not " + std::string(method)};
  };
  if (path == "/calls") {
    if (method == "GET")
      return result(call_control_route{action::list, {}, {}});
    return std::nullopt;  // POST /calls is the dialer's
  }
  if (!path.starts_with(calls_prefix))
    return std::nullopt;
  auto rest = path.substr(calls_prefix.size());
  const auto slash = rest.find('/');
  const auto sid = rest.substr(0, slash);
  if (!is_call_sid(sid))
    return result(api_error{404, "no such call: the call sid must be letters and digits"});
  call_control_route route{action::show, std::string(sid), {}};
  if (slash == std::string_view::npos) {
    if (method != "GET")
      return wrong_method("GET");
    return result(route);
  }
  const auto tail = rest.substr(slash + 1);
  if (tail.starts_with("recordings/")) {
    if (method != "GET")
      return wrong_method("GET");
    route.what = action::recording;
    route.file = std::string(tail.substr(std::string_view("recordings/").size()));
    return result(route);
  }
  static constexpr std::array<std::pair<std::string_view, action>, 3> commands{
      {{"hangup", action::hangup}, {"transfer", action::transfer}, {"say", action::say}}};
  for (const auto& [name, what] : commands) {
    if (tail == name) {
      if (method != "POST")
        return wrong_method("POST");
      route.what = what;
      return result(route);
    }
  }
  return result(api_error{404, "not found: " + std::string(path)});
}

boost::system::result<std::string, api_error> parse_say_request(std::string_view body) {
  auto text = string_field(body, "text");
  if (!text || text->empty() || text->size() > max_say_bytes) {
    return api_error{
        400, "the body must be {\"text\": \"...\"}, 1 to 4096 bytes of what the agent says"};
  }
  return std::move(*text);
}

boost::system::result<std::string, api_error> parse_transfer_request(std::string_view body) {
  auto to = string_field(body, "to");
  if (!to)
    return api_error{400, "the body must be {\"to\": \"+E164 number\"}"};
  return std::move(*to);
}

}  // namespace switchboard::app
