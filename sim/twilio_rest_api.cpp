#include "sim/twilio_rest_api.hpp"

#include "net/base64.hpp"
#include "net/http_client.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>

namespace switchboard::sim {

namespace {

namespace json = boost::json;

constexpr std::string_view api_version = "2010-04-01";
constexpr std::string_view accounts_prefix = "/2010-04-01/Accounts/";

twilio_rest_error bad_request(int code, std::string message) {
  return {400, code, std::move(message)};
}

/// The first value of `name`, or nothing.
std::optional<std::string_view> find_param(std::span<const net::form_parameter> params,
                                           std::string_view name) {
  for (const auto& param : params) {
    if (param.name == name)
      return std::string_view(param.value);
  }
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// +, a non-zero digit, then up to 14 more digits (ITU-T E.164: at most 15 digits).
bool is_e164(std::string_view number) {
  if (number.size() < 3 || number.size() > 16 || number[0] != '+' || number[1] == '0')
    return false;
  return std::all_of(number.begin() + 1, number.end(), is_digit);
}

/// What Twilio dials besides phone numbers: a Voice SDK client or a SIP address.
bool is_client_or_sip(std::string_view address) {
  for (const std::string_view scheme : {"client:", "sip:"}) {
    if (address.starts_with(scheme) && address.size() > scheme.size())
      return true;
  }
  return false;
}

bool is_http_url(std::string_view url) {
  return net::parse_http_url(url).has_value();
}

/// Twilio counts characters, not bytes: UTF-8 continuation bytes do not start one.
std::size_t utf8_characters(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::optional<std::uint8_t> parse_status_event(std::string_view name) {
  if (name == "initiated")
    return event_initiated;
  if (name == "ringing")
    return event_ringing;
  if (name == "answered")
    return event_answered;
  if (name == "completed")
    return event_completed;
  return std::nullopt;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

bool is_method(std::string_view method) {
  return method == "GET" || method == "POST";
}

json::value optional_time(const std::optional<std::chrono::system_clock::time_point>& time) {
  if (!time)
    return nullptr;
  return json::value(rfc2822_time(*time));
}

}  // namespace

// ---- errors -------------------------------------------------------------------------------

std::string twilio_rest_error::to_json() const {
  json::object body;
  body["code"] = code;
  body["message"] = message;
  body["more_info"] = "https://www.twilio.com/docs/errors/" + std::to_string(code);
  body["status"] = status;
  return json::serialize(body);
}

twilio_rest_error twilio_rest_error::authenticate() {
  return {401, 20003, "Authenticate"};
}

twilio_rest_error twilio_rest_error::not_found(std::string_view resource) {
  return {404, 20404, "The requested resource " + std::string(resource) + " was not found"};
}

twilio_rest_error twilio_rest_error::invalid_to(std::string_view to) {
  return bad_request(21211, "Invalid 'To' Phone Number: " + std::string(to));
}

twilio_rest_error twilio_rest_error::too_many_requests() {
  return {429, 20429, "Too Many Requests"};
}

twilio_rest_error twilio_rest_error::internal_error() {
  return {500, 20500, "Internal Server Error"};
}

twilio_rest_error twilio_rest_error::service_unavailable() {
  return {503, 20503, "Service Unavailable"};
}

// ---- call states --------------------------------------------------------------------------

std::string_view to_string(call_status status) {
  switch (status) {
    case call_status::queued:
      return "queued";
    case call_status::ringing:
      return "ringing";
    case call_status::in_progress:
      return "in-progress";
    case call_status::completed:
      return "completed";
    case call_status::busy:
      return "busy";
    case call_status::failed:
      return "failed";
    case call_status::no_answer:
      return "no-answer";
    case call_status::canceled:
      return "canceled";
  }
  return "unknown";
}

bool is_terminal(call_status status) {
  return status != call_status::queued && status != call_status::ringing &&
         status != call_status::in_progress;
}

// ---- requests -----------------------------------------------------------------------------

rest_resource parse_rest_path(std::string_view path) {
  if (!path.starts_with(accounts_prefix))
    return unknown_resource{};
  path.remove_prefix(accounts_prefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return unknown_resource{};
  std::string account_sid(path.substr(0, slash));
  const auto rest = path.substr(slash);
  if (rest == "/Calls.json")
    return calls_resource{std::move(account_sid)};
  constexpr std::string_view calls_prefix = "/Calls/";
  constexpr std::string_view json_suffix = ".json";
  if (rest.starts_with(calls_prefix) && rest.ends_with(json_suffix) &&
      rest.size() > calls_prefix.size() + json_suffix.size()) {
    const auto sid =
        rest.substr(calls_prefix.size(), rest.size() - calls_prefix.size() - json_suffix.size());
    if (sid.find('/') == std::string_view::npos)
      return call_resource{std::move(account_sid), std::string(sid)};
  }
  return unknown_resource{};
}

std::optional<basic_credentials> parse_basic_authorization(std::string_view header) {
  constexpr std::string_view scheme = "Basic ";
  if (header.size() <= scheme.size())
    return std::nullopt;
  // The scheme name is case-insensitive (RFC 7617 §2).
  for (std::size_t i = 0; i + 1 < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return std::nullopt;
  }
  if (header[scheme.size() - 1] != ' ')
    return std::nullopt;
  auto decoded = net::decode_base64(trim(header.substr(scheme.size())));
  if (!decoded)
    return std::nullopt;
  const std::string text(decoded->begin(), decoded->end());
  const auto colon = text.find(':');
  if (colon == std::string::npos)
    return std::nullopt;
  return basic_credentials{text.substr(0, colon), text.substr(colon + 1)};
}

boost::system::result<create_call_request, twilio_rest_error> parse_create_call(
    std::span<const net::form_parameter> params) {
  create_call_request request;
  const auto to = find_param(params, "To");
  if (!to || to->empty())
    return bad_request(21201, "No 'To' number is specified");
  if (!is_e164(*to) && !is_client_or_sip(*to))
    return twilio_rest_error::invalid_to(*to);
  request.to = std::string(*to);

  const auto from = find_param(params, "From");
  if (!from || from->empty())
    return bad_request(21213, "No 'From' number is specified");
  if (!is_e164(*from) && !from->starts_with("client:"))
    return bad_request(21212, "Invalid 'From' Phone Number: " + std::string(*from));
  request.from = std::string(*from);

  const auto url = find_param(params, "Url");
  const auto twiml = find_param(params, "Twiml");
  if (find_param(params, "ApplicationSid") && !url && !twiml) {
    // [stand-in's choice] Twilio would run the application; the stand-in has none.
    return bad_request(21218, "ApplicationSid is not supported by the Twilio stand-in");
  }
  if ((!url || url->empty()) && (!twiml || twiml->empty()))
    return bad_request(21205, "Either Url, Twiml or ApplicationSid must be provided");
  if (url && !url->empty()) {
    if (!is_http_url(*url))
      return bad_request(21205, "Url is not a valid URL: " + std::string(*url));
    request.url = std::string(*url);
  }
  if (twiml && !twiml->empty()) {
    if (utf8_characters(*twiml) > max_twiml_characters) {
      // [stand-in's choice] for the code; the 4000-character limit is Twilio's (§A6).
      return bad_request(21232, "Twiml exceeds the maximum length of " +
                                    std::to_string(max_twiml_characters) + " characters");
    }
    request.twiml = std::string(*twiml);
  }
  if (const auto method = find_param(params, "Method")) {
    if (!is_method(*method))
      return bad_request(21207, "Method must be GET or POST");  // [stand-in's choice]
    request.method = std::string(*method);
  }

  if (const auto callback = find_param(params, "StatusCallback"); callback && !callback->empty()) {
    if (!is_http_url(*callback))
      return bad_request(21609, "StatusCallback is not a valid URL: " + std::string(*callback));
    request.status_callback = std::string(*callback);
  }
  if (const auto method = find_param(params, "StatusCallbackMethod")) {
    if (!is_method(*method))
      return bad_request(21207, "StatusCallbackMethod must be GET or POST");
    request.status_callback_method = std::string(*method);
  }
  // Repeated parameters (§A6); some clients join the values with spaces instead.
  std::uint8_t events = 0;
  bool any_event = false;
  for (const auto& param : params) {
    if (param.name != "StatusCallbackEvent")
      continue;
    std::string_view values = param.value;
    while (!values.empty()) {
      const auto space = values.find(' ');
      const auto value = values.substr(0, space);
      values = space == std::string_view::npos ? std::string_view{} : values.substr(space + 1);
      if (value.empty())
        continue;
      const auto event = parse_status_event(value);
      if (!event) {
        return bad_request(21626,
                           "StatusCallbackEvent must be initiated, ringing, answered or "
                           "completed, not " +
                               std::string(value));  // [stand-in's choice] for the code
      }
      events = static_cast<std::uint8_t>(events | *event);
      any_event = true;
    }
  }
  if (any_event)
    request.status_events = events;
  return request;
}

boost::system::result<update_call_request, twilio_rest_error> parse_update_call(
    std::span<const net::form_parameter> params) {
  update_call_request request;
  if (const auto status = find_param(params, "Status")) {
    if (*status == "completed") {
      request.status = call_status::completed;
    } else if (*status == "canceled") {
      request.status = call_status::canceled;
    } else {
      return bad_request(21218, "Status must be completed or canceled, not " +
                                    std::string(*status));  // [stand-in's choice] for the code
    }
  }
  const auto url = find_param(params, "Url");
  const auto twiml = find_param(params, "Twiml");
  if (url && twiml)
    return bad_request(21205, "Twiml and Url are mutually exclusive");
  if (url) {
    if (!is_http_url(*url))
      return bad_request(21205, "Url is not a valid URL: " + std::string(*url));
    request.url = std::string(*url);
  }
  if (twiml) {
    if (twiml->empty())
      return bad_request(21232, "Twiml is empty");
    if (utf8_characters(*twiml) > max_twiml_characters) {
      return bad_request(21232, "Twiml exceeds the maximum length of " +
                                    std::to_string(max_twiml_characters) + " characters");
    }
    request.twiml = std::string(*twiml);
  }
  if (const auto method = find_param(params, "Method")) {
    if (!is_method(*method))
      return bad_request(21207, "Method must be GET or POST");
    request.method = std::string(*method);
  }
  return request;
}

// ---- TwiML --------------------------------------------------------------------------------

boost::system::result<twiml_instruction, std::string> parse_call_twiml(std::string_view xml) {
  namespace pt = boost::property_tree;
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& error) {
    return {boost::system::in_place_error, std::string("TwiML is not XML: ") + error.what()};
  }
  const auto response = tree.get_child_optional("Response");
  if (!response)
    return {boost::system::in_place_error, std::string("TwiML has no <Response>")};
  for (const auto& [verb, element] : *response) {
    if (verb == "Connect" && element.get_child_optional("Stream")) {
      auto stream = net::parse_connect_stream_twiml(xml);
      if (!stream)
        return {boost::system::in_place_error, stream.error()};
      return twiml_instruction{std::move(*stream)};
    }
    if (verb == "Dial") {
      // <Dial>+1555…</Dial>, or the number in a <Number>, <Sip> or <Client> noun.
      std::string number(trim(element.data()));
      for (const auto& [noun, child] : element) {
        if (number.empty() && (noun == "Number" || noun == "Sip" || noun == "Client")) {
          number = std::string(trim(child.data()));
          if (noun == "Client" && !number.empty())
            number = "client:" + number;
        }
      }
      if (number.empty())
        return {boost::system::in_place_error, std::string("<Dial> names no number")};
      return twiml_instruction{twiml_dial{std::move(number)}};
    }
    if (verb == "Hangup" || verb == "Reject")
      return twiml_instruction{twiml_hangup{}};
  }
  // The document ran out: Twilio hangs up.
  return twiml_instruction{twiml_hangup{}};
}

// ---- the call record ----------------------------------------------------------------------

std::uint64_t outbound_call::duration_seconds() const {
  if (!answered)
    return 0;
  const auto end = ended.value_or(std::chrono::system_clock::now());
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(end - *answered).count();
  return seconds > 0 ? static_cast<std::uint64_t>(seconds) : 0;
}

std::string call_json(const outbound_call& call) {
  const std::string uri = std::string(accounts_prefix) + call.account_sid + "/Calls/" + call.sid;
  json::object body;
  body["sid"] = call.sid;
  body["account_sid"] = call.account_sid;
  body["parent_call_sid"] = nullptr;
  body["date_created"] = rfc2822_time(call.created);
  body["date_updated"] = rfc2822_time(call.updated);
  body["to"] = call.to;
  body["to_formatted"] = call.to;
  body["from"] = call.from;
  body["from_formatted"] = call.from;
  body["phone_number_sid"] = nullptr;
  body["status"] = to_string(call.status);
  body["start_time"] = optional_time(call.answered);
  body["end_time"] = optional_time(call.ended);
  if (call.ended) {
    body["duration"] = std::to_string(call.duration_seconds());
  } else {
    body["duration"] = nullptr;
  }
  body["price"] = nullptr;
  body["price_unit"] = "USD";
  body["direction"] = "outbound-api";
  body["answered_by"] = nullptr;
  body["api_version"] = api_version;
  body["forwarded_from"] = nullptr;
  body["group_sid"] = nullptr;
  body["caller_name"] = nullptr;
  body["queue_time"] = "0";
  body["trunk_sid"] = nullptr;
  body["uri"] = uri + ".json";
  json::object subresources;
  for (const std::string_view name :
       {"feedback", "notifications", "recordings", "streams", "payments", "siprec", "events",
        "feedback_summaries", "user_defined_message_subscriptions", "user_defined_messages"}) {
    subresources[name] = uri + "/" + std::string(name) + ".json";
  }
  body["subresource_uris"] = std::move(subresources);
  return json::serialize(body);
}

std::string rfc2822_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  // Day and month names from tables, not strftime: the C locale is not guaranteed.
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed",
                                                      "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                days[static_cast<std::size_t>(utc.tm_wday) % days.size()], utc.tm_mday,
                months[static_cast<std::size_t>(utc.tm_mon) % months.size()], utc.tm_year + 1900,
                utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

std::vector<net::form_parameter> status_callback_parameters(
    const outbound_call& call, std::string_view callback_status, std::uint64_t sequence_number,
    unsigned sip_response_code, std::chrono::system_clock::time_point now) {
  std::vector<net::form_parameter> params = {
      {"AccountSid", call.account_sid},
      {"ApiVersion", std::string(api_version)},
      {"CallSid", call.sid},
      {"CallStatus", std::string(callback_status)},
      {"CallbackSource", "call-progress-events"},
      {"Called", call.to},
      {"Caller", call.from},
      {"Direction", "outbound-api"},
      {"From", call.from},
      {"SequenceNumber", std::to_string(sequence_number)},
      {"Timestamp", rfc2822_time(now)},
      {"To", call.to},
  };
  const bool terminal = callback_status != "initiated" && callback_status != "queued" &&
                        callback_status != "ringing" && callback_status != "in-progress";
  if (terminal) {
    const auto seconds = call.duration_seconds();
    params.push_back({"CallDuration", std::to_string(seconds)});
    params.push_back({"SipResponseCode", std::to_string(sip_response_code)});
    if (callback_status == "completed") {
      // Billed minutes, rounded up (§A7).
      params.push_back({"Duration", std::to_string((seconds + 59) / 60)});
    }
  }
  return params;
}

std::vector<net::form_parameter> voice_request_parameters(const outbound_call& call) {
  return {
      {"AccountSid", call.account_sid},
      {"ApiVersion", std::string(api_version)},
      {"CallSid", call.sid},
      {"CallStatus", std::string(to_string(call.status))},
      {"Called", call.to},
      {"Caller", call.from},
      {"Direction", "outbound-api"},
      {"From", call.from},
      {"To", call.to},
  };
}

std::string generate_call_sid() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string sid = "CA";
  for (int word = 0; word < 2; ++word) {
    auto bits = generator();
    for (int digit = 0; digit < 16; ++digit, bits >>= 4)
      sid.push_back(hex[bits & 0x0F]);
  }
  return sid;
}

}  // namespace switchboard::sim
