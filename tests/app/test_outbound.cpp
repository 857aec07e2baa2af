// Outbound calls: the checks of POST /calls one by one, then whole calls through the Twilio
// REST stand-in, which answers and streams the call back into the bridge.
#include "app/outbound_calls.hpp"
#include "bridge_harness.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/running_io.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

TEST_CASE("E.164: a plus, 8 to 15 digits, no leading zero", "[outbound]") {
  CHECK(app::is_e164("+14155550100"));
  CHECK(app::is_e164("+441632960001"));
  for (const auto* bad : {"14155550100", "+1415", "+04155550100", "+1415555010x", "+1 415 555",
                          "+1234567890123456", ""}) {
    INFO(bad);
    CHECK_FALSE(app::is_e164(bad));
  }
}

TEST_CASE("a dial request is checked field by field, destination against the allow-list",
          "[outbound]") {
  const std::vector<std::string> allowed{"+1415", "+44"};
  auto ok = app::parse_dial_request(
      R"({"to":"+14155550100","instructions":"Be brief.","voice":"cedar","metadata":{"crm":7}})",
      allowed);
  REQUIRE(ok.has_value());
  CHECK(ok->to == "+14155550100");
  CHECK(ok->instructions == "Be brief.");
  CHECK(ok->voice == "cedar");
  CHECK(ok->metadata_json == R"({"crm":7})");

  const auto reason = [&](std::string_view body, const std::vector<std::string>& prefixes) {
    auto parsed = app::parse_dial_request(body, prefixes);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().status == 400);
    return parsed.error().reason;
  };
  CHECK(reason("not json", allowed).find("JSON object") != std::string::npos);
  CHECK(reason("{}", allowed).find("\"to\" is required") != std::string::npos);
  CHECK(reason(R"({"to":"14155550100"})", allowed).find("E.164") != std::string::npos);
  CHECK(reason(R"({"to":"+33123456789"})", allowed).find("ALLOWED_DESTINATIONS") !=
        std::string::npos);
  CHECK(reason(R"({"to":"+14155550100"})", {}).find("none are allowed") != std::string::npos);
  CHECK(reason(R"({"to":"+14155550100","voice":"nova"})", allowed).find("voice") !=
        std::string::npos);
  CHECK(reason(R"({"to":"+14155550100","metadata":[1]})", allowed).find("metadata") !=
        std::string::npos);
}

TEST_CASE("the bearer token must match exactly", "[outbound]") {
  CHECK(app::bearer_token_matches("Bearer s3cret", "s3cret"));
  CHECK_FALSE(app::bearer_token_matches("Bearer s3cre", "s3cret"));
  CHECK_FALSE(app::bearer_token_matches("Bearer s3cret ", "s3cret"));
  CHECK_FALSE(app::bearer_token_matches("Basic s3cret", "s3cret"));
  CHECK_FALSE(app::bearer_token_matches("", "s3cret"));
  CHECK_FALSE(app::bearer_token_matches("Bearer ", ""));
}

TEST_CASE("the rate limiter allows N calls in any minute", "[outbound]") {
  app::call_rate_limiter limiter(2);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  CHECK(limiter.try_acquire(t0));
  CHECK(limiter.try_acquire(t0 + 10s));
  CHECK_FALSE(limiter.try_acquire(t0 + 59s));
  CHECK(limiter.try_acquire(t0 + 60s));  // the first has left the window
  CHECK_FALSE(limiter.try_acquire(t0 + 61s));
}

TEST_CASE("Calls.json gets To, From, inline TwiML with the dial's token, and every callback",
          "[outbound]") {
  app::dial_request dial;
  dial.to = "+14155550100";
  const auto parameters =
      app::create_call_parameters(dial, "+15005550006", "wss://voice.example.com/media-stream",
                                  "https://voice.example.com/call-status", "d1a1", "tok", false,
                                  "https://voice.example.com/connect-action");
  std::multimap<std::string, std::string> by_name;
  for (const auto& parameter : parameters)
    by_name.emplace(parameter.name, parameter.value);
  CHECK(by_name.find("To")->second == "+14155550100");
  CHECK(by_name.find("From")->second == "+15005550006");
  CHECK(by_name.find("StatusCallback")->second == "https://voice.example.com/call-status");
  CHECK(by_name.count("StatusCallbackEvent") == 4);
  const auto stream = net::parse_connect_stream_twiml(by_name.find("Twiml")->second);
  REQUIRE(stream.has_value());
  CHECK(stream->url == "wss://voice.example.com/media-stream");
  // A stream lost with its node is not the call's end: Twilio asks the cluster what next.
  CHECK(stream->action == "https://voice.example.com/connect-action");
  REQUIRE(stream->parameters.size() == 4);
  CHECK(stream->parameters[0].name == "dial_id");
  CHECK(stream->parameters[1].value == "tok");
  CHECK(stream->parameters[2].name == "From");
  CHECK(stream->parameters[2].value == "+15005550006");
  CHECK(stream->parameters[3].name == "To");
  CHECK(stream->parameters[3].value == "+14155550100");
}

TEST_CASE("a dial's overrides travel in its TwiML when they fit and stay on the node otherwise",
          "[outbound]") {
  app::dial_request dial;
  dial.to = "+14155550100";
  CHECK(app::dial_override_parameters(dial).empty());  // none: nothing travels
  dial.instructions = "Confirm slot 7 & <nothing> else.";
  dial.voice = "cedar";
  dial.metadata_json = R"({"order":42})";
  REQUIRE(app::overrides_travel(dial));
  const auto parameters =
      app::create_call_parameters(dial, "+15005550006", "wss://node-b.example.com/media-stream",
                                  "https://voice.example.com/call-status", "d1a1", "tok", true);
  const auto twiml = std::find_if(parameters.begin(), parameters.end(),
                                  [](const auto& parameter) { return parameter.name == "Twiml"; });
  REQUIRE(twiml != parameters.end());
  const auto stream = net::parse_connect_stream_twiml(twiml->value);
  REQUIRE(stream.has_value());
  std::map<std::string, std::string> carried;
  for (const auto& parameter : stream->parameters)
    carried[parameter.name] = parameter.value;
  // As written, XML escapes undone: what the stream's node checks under the token's MAC.
  CHECK(carried["instructions"] == "Confirm slot 7 & <nothing> else.");
  CHECK(carried["voice"] == "cedar");
  CHECK(carried["metadata"] == R"({"order":42})");
  CHECK(twiml->value.size() <= app::max_inline_twiml_chars);
  // Longer than Twilio's inline TwiML leaves room for (escapes counted): they stay here.
  dial.instructions = std::string(2000, '&');  // 10 000 characters escaped
  CHECK_FALSE(app::overrides_travel(dial));
}

TEST_CASE("Twilio's answers to Calls.json become a call or an error with Twilio's code",
          "[outbound]") {
  auto created = net::interpret_create_call_answer(201, R"({"sid":"CA1","status":"queued"})");
  REQUIRE(created.has_value());
  CHECK(created->call_sid == "CA1");
  CHECK(created->status == "queued");
  auto refused = net::interpret_create_call_answer(
      400, R"({"code":21211,"message":"Invalid 'To' Phone Number","status":400})");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == 21211);
  CHECK(refused.error().message == "Invalid 'To' Phone Number");
  auto garbage = net::interpret_create_call_answer(502, "<html>bad gateway</html>");
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().http_status == 502);
  CHECK(garbage.error().code == 0);
}

namespace {

constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* api_token = "api-token-for-tests";

net::http_client_request dial_request_to(std::string to, std::string token = api_token) {
  net::http_client_request post;
  post.method = "POST";
  post.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  post.body = R"({"to":")" + to + R"("})";
  return post;
}

std::string json_string(const std::string& body, std::string_view key) {
  const auto parsed = boost::json::parse(body).as_object();
  const auto* value = parsed.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string{};
}

}  // namespace

TEST_CASE("POST /calls places a call through Twilio's REST API and the call streams back in",
          "[outbound][end_to_end]") {
  testing::running_io twilio_io;
  sim::twilio_rest_server_options rest;
  rest.account_sid = account_sid;
  rest.auth_token = "harness-auth-token";  // the bridge's TWILIO_AUTH_TOKEN
  rest.callee.script = {
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),
      sim::hangup(),
  };
  auto twilio = sim::twilio_rest_server::start(twilio_io.io, rest);
  REQUIRE(twilio.has_value());

  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    settings.api_token = api_token;
    settings.allowed_destinations = {"+1415"};
    settings.calls_per_minute = 3;
    settings.twilio_account_sid = account_sid;
    settings.twilio_phone_number = "+15005550006";
    settings.twilio_api_base = (*twilio)->base_url();
    // Status callbacks go to PUBLIC_URL/call-status: a closed local port answers at once.
    settings.public_url = "http://127.0.0.1:9";
  };
  bridge_harness harness(options);
  const auto port = harness.server().port();
  (*twilio)->set_stream_connect_address("127.0.0.1:" + std::to_string(port));

  SECTION("a call is created, answered and bridged to the model with its own prompt and voice") {
    auto post = dial_request_to("+14155550100");
    post.body = R"({"to":"+14155550100","instructions":"Confirm the delivery slot.",)"
                R"("voice":"cedar","metadata":{"order":42}})";
    const auto answer = harness.send(port, "/calls", post);
    INFO(answer.body);
    REQUIRE(answer.status == 201);
    const auto call_sid = json_string(answer.body, "call_sid");
    CHECK(call_sid.starts_with("CA"));
    CHECK(json_string(answer.body, "status") == "queued");

    const auto call = (*twilio)->when_finished(call_sid).get();
    CHECK(call.to == "+14155550100");
    CHECK(call.from == "+15005550006");
    REQUIRE(call.streams.size() == 1);
    INFO(call.streams[0].error);
    CHECK(call.streams[0].ok());
    CHECK(call.streams[0].agent_bytes_played >= 200 * 8);  // the model answered the callee

    const auto finished = harness.server().calls().wait_for_finished(1, 30s);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].call_sid == call_sid);
    CHECK_FALSE(finished[0].refused);  // the dial's token checked out
    const auto model = harness.model().stats();
    CHECK(model.sessions_opened == 1);
    REQUIRE(model.last_session.has_value());
    CHECK(model.last_session->instructions == "Confirm the delivery slot.");
    CHECK(model.last_session->voice == "cedar");

    const auto requests = (*twilio)->requests();
    REQUIRE_FALSE(requests.empty());
    CHECK(requests.front().authenticated);
  }

  SECTION(
      "instructions too long to travel in the TwiML stay on this node and still reach the "
      "model") {
    const std::string instructions(12'000, 'x');
    auto post = dial_request_to("+14155550100");
    post.body = R"({"to":"+14155550100","instructions":")" + instructions + R"("})";
    const auto answer = harness.send(port, "/calls", post);
    INFO(answer.body);
    REQUIRE(answer.status == 201);
    const auto call_sid = json_string(answer.body, "call_sid");
    const auto call = (*twilio)->when_finished(call_sid).get();
    REQUIRE(call.streams.size() == 1);
    CHECK(call.streams[0].ok());
    // Not in the TwiML Twilio was given (4000 characters at most), yet the model got them.
    for (const auto& parameter : call.streams[0].stream_parameters)
      CHECK(parameter.name != "instructions");
    REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);
    const auto model = harness.model().stats();
    REQUIRE(model.last_session.has_value());
    CHECK(model.last_session->instructions == instructions);
  }

  SECTION("every refusal is a JSON error saying why, and Twilio's errors carry its code") {
    CHECK(harness.send(port, "/calls", dial_request_to("+14155550100", "wrong")).status == 401);
    auto no_token = dial_request_to("+14155550100");
    no_token.headers.erase(no_token.headers.begin());
    CHECK(harness.send(port, "/calls", no_token).status == 401);
    const auto not_e164 = harness.send(port, "/calls", dial_request_to("4155550100"));
    CHECK(not_e164.status == 400);
    CHECK(json_string(not_e164.body, "error").find("E.164") != std::string::npos);
    const auto not_allowed = harness.send(port, "/calls", dial_request_to("+442071838750"));
    CHECK(not_allowed.status == 400);
    CHECK(json_string(not_allowed.body, "error").find("ALLOWED_DESTINATIONS") != std::string::npos);
    CHECK((*twilio)->requests().empty());  // none of these reached Twilio

    (*twilio)->inject_create_fault({400, 21211, "Invalid 'To' Phone Number"});
    const auto invalid = harness.send(port, "/calls", dial_request_to("+14155550100"));
    CHECK(invalid.status == 400);
    const auto invalid_body = boost::json::parse(invalid.body).as_object();
    CHECK(invalid_body.at("twilio_code").as_int64() == 21211);
    CHECK(invalid_body.at("twilio_message").as_string() == "Invalid 'To' Phone Number");

    (*twilio)->inject_create_fault({503, 20503, "Service Unavailable"});
    const auto unavailable = harness.send(port, "/calls", dial_request_to("+14155550100"));
    CHECK(unavailable.status == 502);
    CHECK(boost::json::parse(unavailable.body).as_object().at("twilio_code").as_int64() == 20503);

    const auto answered = harness.send(port, "/calls", dial_request_to("+14155550100"));
    CHECK(answered.status == 201);
    // CALLS_PER_MINUTE = 3: the three above that reached Twilio used the minute up.
    const auto limited = harness.send(port, "/calls", dial_request_to("+14155550100"));
    CHECK(limited.status == 429);
    CHECK(json_string(limited.body, "error").find("CALLS_PER_MINUTE") != std::string::npos);
    (*twilio)->when_finished(json_string(answered.body, "call_sid")).get();
  }
}

TEST_CASE("POST /calls past MAX_CALLS answers 503 with a JSON error, and counts the refusal",
          "[outbound][end_to_end]") {
  testing::running_io twilio_io;
  sim::twilio_rest_server_options rest;
  rest.account_sid = account_sid;
  rest.auth_token = "harness-auth-token";
  rest.callee.script = {sim::silence(200ms), sim::hangup()};
  auto twilio = sim::twilio_rest_server::start(twilio_io.io, rest);
  REQUIRE(twilio.has_value());

  bridge_harness::options options;
  options.configure = [&](config::settings& settings) {
    settings.api_token = api_token;
    settings.allowed_destinations = {"+1415"};
    settings.twilio_account_sid = account_sid;
    settings.twilio_phone_number = "+15005550006";
    settings.twilio_api_base = (*twilio)->base_url();
    settings.public_url = "http://127.0.0.1:9";
    settings.max_calls = 1;
  };
  bridge_harness harness(options);
  const auto port = harness.server().port();
  (*twilio)->set_stream_connect_address("127.0.0.1:" + std::to_string(port));

  // The first dial holds the node's one place from its 201 until its stream ends.
  const auto first = harness.send(port, "/calls", dial_request_to("+14155550100"));
  REQUIRE(first.status == 201);
  const auto second = harness.send(port, "/calls", dial_request_to("+14155550101"));
  CHECK(second.status == 503);
  CHECK(second.header("content-type").starts_with("application/json"));
  const auto error = json_string(second.body, "error");
  CHECK(error.find("full") != std::string::npos);
  CHECK(error.find("MAX_CALLS 1") != std::string::npos);
  const auto scrape = harness.get(port, "/metrics").body;
  CHECK(scrape.find(R"(switchboard_calls_refused_total{node="harness-node",reason="full",)"
                    R"(source="api"} 1)") != std::string::npos);

  const auto call = (*twilio)->when_finished(json_string(first.body, "call_sid")).get();
  REQUIRE(call.streams.size() == 1);
  CHECK(call.streams[0].ok());
  REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);
  // Its place is free again.
  CHECK(harness.get(port, "/readyz").status == 200);
}
