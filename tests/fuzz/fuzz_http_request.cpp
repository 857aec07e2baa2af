// libFuzzer target: the HTTP request path. Raw bytes from a client go through Beast's request
// parser with the server's limits, then through what the server does with a request, in its
// order: POST /calls (bearer token, JSON body), the call-control routes (route, bearer token,
// say/transfer bodies), the voice webhook (form, signature, TwiML), the status callback's form,
// the media-stream upgrade check; and every answer is written as the server writes it.
//
// Properties, beyond "no crash": the converted request matches Beast's; a bearer token is
// accepted only when the header is exactly "Bearer <API_TOKEN>"; a form re-encodes and parses
// back equal; what the JSON parsers accept is within their limits and round-trips; a signed
// webhook answers TwiML that carries the form's CallSid/From/To and a token that verifies, an
// unsigned one is refused; an upgrade is accepted only when signed and for /media-stream; every
// answer serialises to a response that parses back with the same status and body.

#include "app/call_api_requests.hpp"
#include "net/call_token.hpp"
#include "net/detail/http_message.hpp"
#include "net/form_body.hpp"
#include "net/http_types.hpp"
#include "net/twilio_signature.hpp"
#include "net/twilio_webhook.hpp"
#include "net/twiml.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace switchboard;

void require(bool condition, const char* what, std::string_view detail = {}) {
  if (condition)
    return;
  std::fprintf(stderr, "property failed: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// What the server is configured with (bridge_server.cpp): a call API token, allowed prefixes,
// a signed webhook behind PUBLIC_URL, tokens keyed by the auth token.
constexpr std::string_view api_token = "fuzz-api-token-7c1e0f3a9b";
const std::vector<std::string> allowed_prefixes{"+1", "+4420"};
constexpr std::array<std::string_view, 10> voices{"alloy", "ash",     "ballad", "coral", "echo",
                                                  "sage",  "shimmer", "verse",  "marin", "cedar"};

net::twilio_webhook_settings signed_webhook() {
  net::twilio_webhook_settings settings;
  settings.public_url = "https://voice.example.com";
  settings.auth_token = "fuzz-twilio-auth-token";
  settings.check_signatures = true;
  return settings;
}

const net::twilio_webhook_settings webhook = signed_webhook();
const net::call_token_issuer tokens = net::call_token_issuer::from_secret(webhook.auth_token);
const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'767'225'600));

/// Boost.JSON 1.81 does not always read a double back to the same bits it wrote (see
/// fuzz_realtime_events.cpp), so JSON holding one is not compared byte for byte.
bool has_double(const json::value& value) {
  if (value.is_double())
    return true;
  if (value.is_array()) {
    const auto& array = value.get_array();
    return std::any_of(array.begin(), array.end(),
                       [](const auto& item) { return has_double(item); });
  }
  if (value.is_object()) {
    const auto& object = value.get_object();
    return std::any_of(object.begin(), object.end(),
                       [](const auto& member) { return has_double(member.value()); });
  }
  return false;
}

bool same_params(const std::vector<net::form_parameter>& a,
                 const std::vector<net::form_parameter>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.name == y.name && x.value == y.value;
  });
}

std::string_view first_value(const std::vector<net::form_parameter>& params,
                             std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name)
      return param.value;
  }
  return {};
}

/// A form decodes, re-encodes to form characters only, and decodes back to the same fields.
void check_form(std::string_view body) {
  const auto params = net::parse_form_body(body);
  const auto encoded = net::encode_form_body(params);
  for (const char c : encoded) {
    const auto byte = static_cast<unsigned char>(c);
    require(std::isalnum(byte) != 0 || std::string_view("-._*+%=&").find(c) != std::string::npos,
            "an encoded form holds only form characters", encoded);
  }
  require(same_params(net::parse_form_body(encoded), params), "a form re-encodes equal", body);
}

/// The answer as the server writes it must read back as the same status and body: nothing
/// from the request may break the response's framing.
void check_answer(const net::http_response& answer, unsigned version, bool keep_alive) {
  const auto beast_response = net::detail::to_beast_response(answer, version, keep_alive);
  std::ostringstream wire;
  wire << beast_response;
  const auto bytes = wire.str();
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(bytes.size());
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes), ec);
  if (!ec && !parser.is_done())
    parser.put_eof(ec);
  require(!ec && parser.is_done(), "an answer parses back", bytes);
  require(parser.get().result_int() == answer.status, "an answer keeps its status", bytes);
  require(parser.get().body() == answer.body, "an answer keeps its body", bytes);
}

void check_bearer(const net::http_request& request) {
  const auto authorization = request.header("Authorization");
  const bool exact = authorization.size() == 7 + api_token.size() &&
                     authorization.starts_with("Bearer ") && authorization.ends_with(api_token);
  const auto refused = app::refuse_api_request(request, api_token);
  require(refused.has_value() != exact, "the API admits exactly Bearer <API_TOKEN>", authorization);
  if (refused)
    require(refused->status == 401, "a wrong token is 401");
  const auto off = app::refuse_api_request(request, "");
  require(off.has_value() && off->status == 404, "without API_TOKEN the API is off");
  // Any token: the header that names it matches it, and nothing else does.
  if (authorization.starts_with("Bearer ")) {
    const auto given = authorization.substr(7);
    require(app::bearer_token_matches(authorization, given) == !given.empty(),
            "a token matches the header that names it", authorization);
    if (!given.empty()) {
      std::string other(given);
      other.back() = static_cast<char>(other.back() ^ 1);
      require(!app::bearer_token_matches(authorization, other), "a different token never matches",
              authorization);
      require(!app::bearer_token_matches(authorization, other.substr(0, other.size() - 1)),
              "a prefix of the token never matches", authorization);
    }
  }
}

void check_dial(std::string_view body) {
  const auto dial = app::parse_dial_request(body, allowed_prefixes);
  if (!dial) {
    require(dial.error().status == 400 && !dial.error().reason.empty(), "a refusal says why");
    return;
  }
  require(app::is_e164(dial->to), "a dialled number is E.164", dial->to);
  require(std::any_of(allowed_prefixes.begin(), allowed_prefixes.end(),
                      [&](const auto& prefix) { return dial->to.starts_with(prefix); }),
          "a dialled number is allowed", dial->to);
  require(!dial->instructions || dial->instructions->size() <= 16 * 1024, "instructions fit");
  require(!dial->voice || std::find(voices.begin(), voices.end(), *dial->voice) != voices.end(),
          "a voice is one of the voices");
  boost::system::error_code ec;
  const auto metadata = json::parse(dial->metadata_json, ec);
  require(!ec && metadata.is_object(), "metadata is a JSON object", dial->metadata_json);
  // What was accepted, written back as JSON, is accepted as the same request.
  json::object again{{"to", dial->to}, {"metadata", metadata}};
  if (dial->instructions)
    again["instructions"] = *dial->instructions;
  if (dial->voice)
    again["voice"] = *dial->voice;
  const auto reparsed = app::parse_dial_request(json::serialize(again), allowed_prefixes);
  require(reparsed.has_value() && reparsed->to == dial->to &&
              reparsed->instructions == dial->instructions && reparsed->voice == dial->voice &&
              (reparsed->metadata_json == dial->metadata_json || has_double(metadata)),
          "a dial request round-trips", body);
}

void check_control_bodies(std::string_view body) {
  if (const auto text = app::parse_say_request(body)) {
    require(!text->empty() && text->size() <= app::max_say_bytes, "say text is 1 to 4096 bytes");
    const auto again = app::parse_say_request(json::serialize(json::object{{"text", *text}}));
    require(again.has_value() && *again == *text, "say text round-trips", body);
  } else {
    require(text.error().status == 400, "a bad say body is 400");
  }
  if (const auto to = app::parse_transfer_request(body)) {
    const auto again = app::parse_transfer_request(json::serialize(json::object{{"to", *to}}));
    require(again.has_value() && *again == *to, "transfer number round-trips", body);
  } else {
    require(to.error().status == 400, "a bad transfer body is 400");
  }
}

void check_control_route(const net::http_request& request) {
  const auto path = request.path();
  const auto route = app::parse_call_control_route(request.method, path);
  if (!route) {
    require(path != "/calls" || request.method != "GET", "GET /calls is the API's");
    require(!path.starts_with("/calls/"), "every /calls/ path is the API's", path);
    return;
  }
  require(path == "/calls" || path.starts_with("/calls/"), "the API takes only its paths", path);
  if (!*route) {
    require((*route).error().status == 404 || (*route).error().status == 405,
            "a bad route is 404 or 405");
    return;
  }
  const auto& call = **route;
  using action = app::call_control_route::action;
  if (call.what == action::list) {
    require(path == "/calls" && request.method == "GET", "only GET /calls lists");
    return;
  }
  require(!call.call_sid.empty() && call.call_sid.size() <= 64 &&
              std::all_of(call.call_sid.begin(), call.call_sid.end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }),
          "a routed call sid is letters and digits", call.call_sid);
  require(path.substr(7).starts_with(call.call_sid), "the sid comes from the path", path);
  if (call.what == action::recording)
    require(path.ends_with("/recordings/" + call.file), "the file comes from the path", path);
  const bool is_post =
      call.what == action::hangup || call.what == action::transfer || call.what == action::say;
  require(request.method == (is_post ? "POST" : "GET"), "each route has its method", path);
}

/// The request with its X-Twilio-Signature headers replaced by `signature` (none when empty).
net::http_request with_signature(const net::http_request& request, const std::string& signature) {
  auto copy = request;
  std::erase_if(copy.headers, [](const auto& header) {
    return header.first.size() == 18 &&
           std::equal(
               header.first.begin(), header.first.end(), "x-twilio-signature",
               [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  });
  if (!signature.empty())
    copy.headers.insert(copy.headers.begin(), {"X-Twilio-Signature", signature});
  return copy;
}

bool xml_text(std::string_view text) {
  // XML 1.0 has no C0 controls but tab, LF and CR, and its parsers end text at a NUL: Twilio
  // never sends them in a CallSid, From or To.
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 || c == '\t' || c == '\n' || c == '\r';
  });
}

net::http_response check_incoming_call(const net::http_request& request) {
  const auto unsigned_request = with_signature(request, "");
  const auto refused = net::answer_incoming_call(unsigned_request, webhook, tokens, now);
  require(refused.status == 403 || refused.status == 405, "an unsigned webhook is refused");
  auto tokenless = webhook;
  tokenless.auth_token.clear();
  const auto as_sent = net::answer_incoming_call(request, tokenless, tokens, now);
  require(as_sent.status == 403 || as_sent.status == 405,
          "signatures checked without a token refuse everything");

  std::vector<net::form_parameter> params;
  if (request.method == "POST") {
    params = net::parse_form_body(request.body);
  } else if (const auto query = request.target.find('?'); query != std::string::npos) {
    params = net::parse_form_body(std::string_view(request.target).substr(query + 1));
  }
  const auto signed_params = request.method == "POST" ? params : std::vector<net::form_parameter>{};
  const auto signature = net::compute_twilio_signature(
      webhook.auth_token, net::requested_url(request, webhook), signed_params);
  auto answer = net::answer_incoming_call(with_signature(request, signature), webhook, tokens, now);
  if (request.method != "POST" && request.method != "GET") {
    require(answer.status == 405, "only GET and POST reach the webhook");
    return answer;
  }
  const auto call_sid = first_value(params, "CallSid");
  if (call_sid.empty()) {
    require(answer.status == 400, "no CallSid is 400");
    return answer;
  }
  require(answer.status == 200, "a signed webhook with a CallSid is answered", answer.body);
  const auto from = first_value(params, "From");
  const auto to = first_value(params, "To");
  if (!xml_text(call_sid) || !xml_text(from) || !xml_text(to))
    return answer;
  const auto twiml = net::parse_connect_stream_twiml(answer.body);
  require(twiml.has_value(), "the webhook answers TwiML", answer.body);
  require(twiml->url == net::media_stream_url(request, webhook), "TwiML streams to us", twiml->url);
  require(twiml->parameters.size() == 4 && twiml->parameters[0].name == "CallSid" &&
              twiml->parameters[0].value == call_sid && twiml->parameters[1].value == from &&
              twiml->parameters[2].value == to && twiml->parameters[3].name == "token",
          "TwiML carries the form's CallSid, From and To intact", answer.body);
  require(tokens.check(twiml->parameters[3].value, {call_sid, from, to}, now).empty(),
          "the call token verifies for its call and numbers", answer.body);
  const std::string other_call = std::string(call_sid) + "x";
  require(!tokens.check(twiml->parameters[3].value, {other_call, from, to}, now).empty(),
          "the call token is bound to its CallSid", answer.body);
  return answer;
}

/// The status callback as far as it reads the request: its form, then its signature.
void check_call_status(const net::http_request& request) {
  const auto params = net::parse_form_body(request.body);
  const auto url = net::requested_url(request, webhook);
  const auto signature = net::compute_twilio_signature(webhook.auth_token, url, params);
  require(net::is_valid_twilio_signature(webhook.auth_token, signature, url, params),
          "a status callback we sign verifies");
  require(!net::is_valid_twilio_signature(webhook.auth_token, request.header("x-twilio-signature"),
                                          url + "x", params),
          "a signature never verifies for another URL");
}

void check_upgrade(const net::http_request& request) {
  const auto unsigned_request = with_signature(request, "");
  require(!net::check_media_stream_upgrade(unsigned_request, webhook).empty(),
          "an unsigned upgrade is refused", request.target);
  const auto signature = net::compute_twilio_signature(webhook.auth_token,
                                                       net::media_stream_url(request, webhook), {});
  const auto why = net::check_media_stream_upgrade(with_signature(request, signature), webhook);
  const bool ours =
      request.path() == net::media_stream_path && request.target.find('?') == std::string::npos;
  require(why.empty() == ours, "a signed upgrade is accepted exactly at /media-stream",
          request.target);
}

void check_conversion(const http::request<http::string_body>& parsed,
                      const net::http_request& request) {
  require(request.method == parsed.method_string(), "method");
  require(request.target == parsed.target(), "target");
  require(request.body == parsed.body(), "body");
  require(request.path() == request.target.substr(0, request.target.find('?')), "path");
  require(request.path().find('?') == std::string_view::npos, "a path has no query");
  for (const auto field :
       {http::field::authorization, http::field::host, http::field::content_type}) {
    const auto name = http::to_string(field);
    const auto beast_value = parsed[field];
    require(request.header(name) == std::string_view(beast_value.data(), beast_value.size()),
            "a header reads as Beast reads it", name);
  }
}

/// One request as the server handles it (bridge_server.cpp's routes, in their order); returns
/// the answer.
net::http_response handle(const net::http_request& request) {
  check_form(request.body);
  if (const auto query = request.target.find('?'); query != std::string::npos)
    check_form(std::string_view(request.target).substr(query + 1));
  check_bearer(request);
  check_control_bodies(request.body);
  check_control_route(request);
  check_dial(request.body);

  const auto path = request.path();
  if (path == "/calls" && request.method == "POST") {
    if (auto refused = app::refuse_api_request(request, api_token))
      return app::api_error_response(*refused);
    auto dial = app::parse_dial_request(request.body, allowed_prefixes);
    if (!dial)
      return app::api_error_response(dial.error());
    return net::http_response::json(201, R"({"call_sid":"CAfuzz","status":"queued"})");
  }
  if (auto route = app::parse_call_control_route(request.method, path)) {
    if (auto refused = app::refuse_api_request(request, api_token))
      return app::api_error_response(*refused);
    if (!*route)
      return app::api_error_response(route->error());
    return app::api_error_response({404, "no such call on this node: " + (*route)->call_sid});
  }
  if (path == net::incoming_call_path)
    return check_incoming_call(request);
  if (path == "/call-status") {
    check_call_status(request);
    return net::http_response::text(403, "invalid X-Twilio-Signature\n");
  }
  return net::http_response::text(404, "not found\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::beast::flat_buffer buffer;
  const auto input = boost::asio::buffer(data, size);
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(size), input));
  // A keep-alive connection reads request after request; a few are enough to cover pipelining.
  for (int requests = 0; requests < 4; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(net::http_server_options{}.max_body_bytes);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (buffer.size() == 0) {
        parser.put_eof(ec);  // the client closed: a message without a length ends here
        break;
      }
      const auto used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more)
        ec = {};
      if (ec)
        break;
      if (used == 0)
        return 0;  // Beast needs more than the rest of the input: the server would wait
    }
    if (ec || !parser.is_done())
      return 0;  // 413 for body_limit, else the server drops the connection
    const auto& parsed = parser.get();
    const auto request = net::detail::to_http_request(parsed, "203.0.113.7");
    check_conversion(parsed, request);
    if (boost::beast::websocket::is_upgrade(parsed)) {
      check_upgrade(request);
      return 0;  // the connection is a WebSocket's (or refused and closed) from here
    }
    check_answer(handle(request), parsed.version(), parsed.keep_alive());
    if (!parsed.keep_alive() || buffer.size() == 0)
      return 0;
  }
  return 0;
}
