// The Twilio REST stand-in: its pure request/TwiML/JSON logic directly, then the server over
// real sockets on port 0 against a small fake bridge (net::http_server) that receives the
// status callbacks and the media stream. Tests wait on futures (the server's waiters and the
// fake bridge's promises), never on the clock.
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/twilio_messages.hpp"
#include "net/twilio_signature.hpp"
#include "net/twiml.hpp"
#include "sim/twilio_caller.hpp"
#include "sim/twilio_rest_api.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/running_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
namespace net = switchboard::net;
namespace sim = switchboard::sim;
using namespace std::chrono_literals;

using switchboard::testing::running_io;

namespace {

constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* auth_token = "rest-auth-token";
// The bridge's public stream URL as its TwiML names it; streams reach it through
// stream_connect_address.
constexpr const char* public_stream_url = "wss://bridge.example.com/media-stream";
// Another node's stream URL, routed by stream_connect_by_host to the same fake bridge.
constexpr const char* node_b_stream_url = "wss://node-b.example.com/media-stream";

std::vector<net::form_parameter> form(std::initializer_list<net::form_parameter> params) {
  return params;
}

std::string param(const std::vector<net::form_parameter>& params, const std::string& name) {
  for (const auto& p : params) {
    if (p.name == name)
      return p.value;
  }
  return "<absent>";
}

std::string stream_twiml() {
  const std::vector<net::form_parameter> parameters = {{"callToken", "tok-out"},
                                                       {"direction", "outbound"}};
  return net::connect_stream_twiml(public_stream_url, parameters);
}

/// One media stream as the fake bridge saw it.
class stream_recorder final : public net::websocket_handler {
 public:
  /// `close_on_first_media`: the bridge ends the stream when the caller's first frame arrives.
  explicit stream_recorder(bool close_on_first_media = false)
      : close_on_first_media_(close_on_first_media) {}

  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    connection_ = connection;
  }
  void on_message(std::string message, bool) override {
    auto parsed = net::parse_twilio_message(message);
    std::lock_guard lock(mutex_);
    frames_.push_back(message);
    if (parsed && std::holds_alternative<net::twilio_media>(*parsed) && ++media_frames_ == 1) {
      first_media_.set_value();
      if (auto connection = connection_.lock(); connection && close_on_first_media_)
        connection->close(net::close_code::normal, "moving on");
    }
  }
  void on_close(net::websocket_closed) override {
    std::lock_guard lock(mutex_);
    closed_.set_value(frames_);
  }

  std::future<void> first_media() { return first_media_.get_future(); }
  /// Every text frame the stream carried, once it has closed.
  std::future<std::vector<std::string>> closed() { return closed_.get_future(); }

 private:
  const bool close_on_first_media_;
  std::mutex mutex_;
  std::weak_ptr<net::websocket_connection> connection_;
  std::vector<std::string> frames_;
  int media_frames_ = 0;
  std::promise<void> first_media_;
  std::promise<std::vector<std::string>> closed_;
};

/// The bridge's side: a status-callback receiver (checks signatures), a TwiML URL, and the
/// media-stream endpoint (checks the upgrade's signature).
struct fake_bridge {
  explicit fake_bridge(asio::io_context& io) {
    auto started = net::http_server::start(
        io, {.bind_address = "127.0.0.1", .port = 0},
        {.on_request =
             [this](const net::http_request& request) {
               std::lock_guard lock(mutex);
               if (request.path() == "/connect-action") {
                 const auto params = net::parse_form_body(request.body);
                 actions.push_back({params, net::is_valid_twilio_signature(
                                                auth_token, request.header("x-twilio-signature"),
                                                action_url(), params)});
                 auto response = net::http_response::text(200, action_twiml);
                 response.content_type = "text/xml";
                 return response;
               }
               if (request.path() == "/twiml") {
                 twiml_requests.push_back({net::parse_form_body(request.body),
                                           net::is_valid_twilio_signature(
                                               auth_token, request.header("x-twilio-signature"),
                                               twiml_url(), net::parse_form_body(request.body))});
                 auto response = net::http_response::text(200, stream_twiml());
                 response.content_type = "text/xml";
                 return response;
               }
               const auto params = net::parse_form_body(request.body);
               // Signed over the callback URL exactly as given, query string included.
               callbacks.push_back({params, net::is_valid_twilio_signature(
                                                auth_token, request.header("x-twilio-signature"),
                                                callback_url(), params)});
               return net::http_response::text(204, "");
             },
         .on_upgrade =
             [this](const net::http_request& request) {
               const auto signature = request.header("x-twilio-signature");
               if (!net::is_valid_twilio_signature(auth_token, signature, public_stream_url, {}) &&
                   !net::is_valid_twilio_signature(auth_token, signature, node_b_stream_url, {})) {
                 return net::websocket_upgrade_decision::refused(
                     net::http_response::text(403, "bad signature\n"));
               }
               std::lock_guard lock(mutex);
               upgrade_hosts.emplace_back(request.header("host"));
               if (!queued_streams.empty()) {
                 auto stream = queued_streams.front();
                 queued_streams.erase(queued_streams.begin());
                 return net::websocket_upgrade_decision::accepted(stream);
               }
               return net::websocket_upgrade_decision::accepted(next_stream);
             }});
    REQUIRE(started.has_value());
    server = std::move(*started);
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  std::string callback_url() const { return base() + "/call-status?tenant=a%20b"; }
  std::string twiml_url() const { return base() + "/twiml"; }
  std::string action_url() const { return base() + "/connect-action"; }
  std::string connect_address() const { return "127.0.0.1:" + std::to_string(server->port()); }

  struct received_callback {
    std::vector<net::form_parameter> params;
    bool signature_ok = false;
  };

  std::unique_ptr<net::http_server> server;
  std::mutex mutex;
  std::vector<received_callback> callbacks;
  std::vector<received_callback> twiml_requests;
  std::vector<received_callback> actions;  // <Connect action> requests
  std::string action_twiml = net::hang_up_twiml();
  std::vector<std::string> upgrade_hosts;
  /// Streams for the next upgrades, in order; then next_stream.
  std::vector<std::shared_ptr<stream_recorder>> queued_streams;
  std::shared_ptr<stream_recorder> next_stream = std::make_shared<stream_recorder>();
};

struct rest_answer {
  unsigned status = 0;
  json::value body;
};

/// A REST request as a Twilio client library sends it: basic auth, form body.
rest_answer rest_request(asio::io_context& io, const std::string& method, const std::string& url,
                         const std::vector<net::form_parameter>& params, const std::string& user,
                         const std::string& password) {
  net::http_client_request request;
  request.method = method;
  request.url = url;
  if (!user.empty())
    request.headers.emplace_back("Authorization", net::basic_authorization(user, password));
  if (method == "POST") {
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.body = net::encode_form_body(params);
  }
  std::promise<net::http_client_result> promise;
  auto answer = promise.get_future();
  net::http_request_async(io, std::move(request), [&promise](net::http_client_result result) {
    promise.set_value(std::move(result));
  });
  auto result = answer.get();
  REQUIRE(result.has_value());
  INFO(result->body);
  return {result->status, json::parse(result->body)};
}

/// The stand-in, the fake bridge, and a client with the account's credentials.
struct rest_fixture {
  explicit rest_fixture(sim::twilio_rest_server_options options = {}) : bridge(io.io) {
    options.account_sid = account_sid;
    options.auth_token = auth_token;
    options.stream_connect_address = bridge.connect_address();
    auto started = sim::twilio_rest_server::start(io.io, std::move(options));
    REQUIRE(started.has_value());
    server = std::move(*started);
  }

  std::string calls_url() const {
    return server->base_url() + "/2010-04-01/Accounts/" + account_sid + "/Calls.json";
  }
  std::string call_url(const std::string& sid) const {
    return server->base_url() + "/2010-04-01/Accounts/" + account_sid + "/Calls/" + sid + ".json";
  }

  rest_answer post(const std::string& url, const std::vector<net::form_parameter>& params) {
    return rest_request(io.io, "POST", url, params, account_sid, auth_token);
  }

  /// A create with every status callback event, the given TwiML, to `to`.
  rest_answer create(const std::string& twiml, const std::string& to = "+15558675310") {
    return post(calls_url(), form({{"To", to},
                                   {"From", "+15552223214"},
                                   {"Twiml", twiml},
                                   {"StatusCallback", bridge.callback_url()},
                                   {"StatusCallbackEvent", "initiated"},
                                   {"StatusCallbackEvent", "ringing"},
                                   {"StatusCallbackEvent", "answered"},
                                   {"StatusCallbackEvent", "completed"}}));
  }

  running_io io{2};
  fake_bridge bridge;
  std::unique_ptr<sim::twilio_rest_server> server;
};

std::vector<std::string> callback_statuses(const std::vector<sim::sent_status_callback>& sent) {
  std::vector<std::string> statuses;
  for (const auto& callback : sent)
    statuses.push_back(param(callback.params, "CallStatus"));
  return statuses;
}

/// A JSON string's text, or the JSON itself in <> (so a CHECK shows what was there).
std::string str(const json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : "<" + json::serialize(value) + ">";
}
std::int64_t num(const json::value& value) {
  return value.is_int64() ? value.as_int64() : -1;
}

std::string sid_of(const rest_answer& answer) {
  return std::string(answer.body.at("sid").as_string());
}

std::vector<net::twilio_inbound> parse_frames(const std::vector<std::string>& frames) {
  std::vector<net::twilio_inbound> messages;
  for (const auto& frame : frames) {
    auto message = net::parse_twilio_message(frame);
    REQUIRE(message.has_value());
    messages.push_back(std::move(*message));
  }
  return messages;
}

}  // namespace

// ---- the pure part ------------------------------------------------------------------------

TEST_CASE("REST paths name the Calls list and one call", "[twilio_rest]") {
  const auto list = sim::parse_rest_path("/2010-04-01/Accounts/AC1/Calls.json");
  REQUIRE(std::holds_alternative<sim::calls_resource>(list));
  CHECK(std::get<sim::calls_resource>(list).account_sid == "AC1");
  const auto one = sim::parse_rest_path("/2010-04-01/Accounts/AC1/Calls/CA9.json");
  REQUIRE(std::holds_alternative<sim::call_resource>(one));
  CHECK(std::get<sim::call_resource>(one).call_sid == "CA9");
  for (const char* path : {"/2010-04-01/Accounts/AC1/Calls", "/2010-04-01/Accounts//Calls.json",
                           "/2010-04-01/Accounts/AC1/Calls/.json", "/Calls.json",
                           "/2010-04-01/Accounts/AC1/Calls/CA9/Streams.json"}) {
    INFO(path);
    CHECK(std::holds_alternative<sim::unknown_resource>(sim::parse_rest_path(path)));
  }
}

TEST_CASE("basic credentials are read from the Authorization header", "[twilio_rest]") {
  const auto credentials =
      sim::parse_basic_authorization(net::basic_authorization("AC1", "to:ken"));
  REQUIRE(credentials.has_value());
  CHECK(credentials->user == "AC1");
  CHECK(credentials->password == "to:ken");  // only the first colon separates
  CHECK(sim::parse_basic_authorization("basic QUMxOnRva2Vu").has_value());
  CHECK_FALSE(sim::parse_basic_authorization("").has_value());
  CHECK_FALSE(sim::parse_basic_authorization("Bearer QUMxOnRva2Vu").has_value());
  CHECK_FALSE(sim::parse_basic_authorization("Basic !!!").has_value());
  CHECK_FALSE(sim::parse_basic_authorization("Basic QUMx").has_value());  // "AC1", no colon
}

TEST_CASE("create requests are validated as Twilio validates them", "[twilio_rest]") {
  const auto valid = form({{"To", "+15558675310"},
                           {"From", "+15552223214"},
                           {"Twiml", "<Response><Hangup/></Response>"},
                           {"StatusCallback", "https://example.com/call-status"},
                           {"StatusCallbackEvent", "initiated"},
                           {"StatusCallbackEvent", "answered completed"}});
  auto request = sim::parse_create_call(valid);
  REQUIRE(request.has_value());
  CHECK(request->to == "+15558675310");
  CHECK(request->twiml == "<Response><Hangup/></Response>");
  CHECK(request->status_events ==
        (sim::event_initiated | sim::event_answered | sim::event_completed));

  auto without = [&](const std::string& name) {
    std::vector<net::form_parameter> params;
    std::copy_if(valid.begin(), valid.end(), std::back_inserter(params),
                 [&](const auto& p) { return p.name != name; });
    return params;
  };
  auto error_code = [](const std::vector<net::form_parameter>& params) {
    auto parsed = sim::parse_create_call(params);
    return parsed ? 0 : parsed.error().code;
  };
  CHECK(error_code(without("To")) == 21201);
  CHECK(error_code(without("From")) == 21213);
  CHECK(error_code(without("Twiml")) == 21205);
  // Default events: completed only.
  CHECK(sim::parse_create_call(without("StatusCallbackEvent"))->status_events ==
        sim::event_completed);

  auto with = [&](const std::string& name, const std::string& value) {
    auto params = without(name);
    params.push_back({name, value});
    return params;
  };
  CHECK(error_code(with("To", "5558675310")) == 21211);
  CHECK(error_code(with("To", "+0123")) == 21211);
  CHECK(error_code(with("To", "+1234567890123456")) == 21211);  // 16 digits
  CHECK(error_code(with("To", "client:alice")) == 0);
  CHECK(error_code(with("To", "sip:alice@example.com")) == 0);
  CHECK(error_code(with("From", "nobody")) == 21212);
  CHECK(error_code(with("StatusCallback", "ftp://example.com/x")) == 21609);
  CHECK(error_code(with("StatusCallbackEvent", "answered hungup")) == 21626);
  CHECK(error_code(with("Url", "not a url")) == 21205);

  // 4000 characters is the limit, counted as characters (é is two bytes, one character).
  const std::string at_limit = "<Response>" + std::string(3979, ' ') + "</Response>";
  REQUIRE(at_limit.size() == 4000);
  CHECK(error_code(with("Twiml", at_limit)) == 0);
  CHECK(error_code(with("Twiml", at_limit + " ")) == 21232);
  std::string accented = "<Response>" + std::string(3978, ' ') + "é</Response>";
  CHECK(error_code(with("Twiml", accented)) == 0);
  const auto too_long = sim::parse_create_call(with("Twiml", at_limit + " "));
  CHECK(too_long.error().status == 400);
  CHECK(too_long.error().message.find("4000") != std::string::npos);

  // Url wins over Twiml (§A6): both are kept, the server fetches the Url.
  auto both = with("Url", "https://example.com/twiml");
  CHECK(sim::parse_create_call(both)->url == "https://example.com/twiml");
}

TEST_CASE("update requests: Status, or a redirect by Twiml or Url", "[twilio_rest]") {
  CHECK(sim::parse_update_call(form({{"Status", "completed"}}))->status ==
        sim::call_status::completed);
  CHECK(sim::parse_update_call(form({{"Status", "canceled"}}))->status ==
        sim::call_status::canceled);
  CHECK(sim::parse_update_call(form({{"Status", "busy"}})).error().status == 400);
  CHECK(sim::parse_update_call(form({{"Twiml", "<Response/>"}, {"Url", "https://x.example/"}}))
            .error()
            .code == 21205);
  const auto redirect =
      sim::parse_update_call(form({{"Twiml", "<Response><Dial>+1</Dial></Response>"}}));
  REQUIRE(redirect.has_value());
  CHECK_FALSE(redirect->status.has_value());
  CHECK(redirect->twiml == "<Response><Dial>+1</Dial></Response>");
}

TEST_CASE("call TwiML: a stream, a <Dial>, a hang-up", "[twilio_rest]") {
  auto stream = sim::parse_call_twiml(stream_twiml());
  REQUIRE(stream.has_value());
  REQUIRE(std::holds_alternative<net::connect_stream>(*stream));
  CHECK(std::get<net::connect_stream>(*stream).url == public_stream_url);
  CHECK(std::get<net::connect_stream>(*stream).parameters.size() == 2);

  auto dial = sim::parse_call_twiml(
      "<Response><Say>One moment</Say><Dial> +15558675310 </Dial></Response>");
  REQUIRE(dial.has_value());
  REQUIRE(std::holds_alternative<sim::twiml_dial>(*dial));
  CHECK(std::get<sim::twiml_dial>(*dial).number == "+15558675310");

  auto dial_number = sim::parse_call_twiml(
      R"(<?xml version="1.0"?><Response><Dial callerId="+1555"><Number>+15550001111</Number></Dial></Response>)");
  REQUIRE(dial_number.has_value());
  CHECK(std::get<sim::twiml_dial>(*dial_number).number == "+15550001111");

  CHECK(std::holds_alternative<sim::twiml_hangup>(
      *sim::parse_call_twiml("<Response><Hangup/></Response>")));
  // TwiML that runs out hangs up.
  CHECK(std::holds_alternative<sim::twiml_hangup>(
      *sim::parse_call_twiml("<Response><Say>Bye</Say></Response>")));
  CHECK_FALSE(sim::parse_call_twiml("<Response><Dial></Dial></Response>").has_value());
  CHECK_FALSE(sim::parse_call_twiml("not xml <").has_value());
  CHECK_FALSE(sim::parse_call_twiml("<Other/>").has_value());
}

TEST_CASE("errors, the Call JSON and callback parameters have Twilio's shape", "[twilio_rest]") {
  CHECK(json::parse(sim::twilio_rest_error::authenticate().to_json()) ==
        json::parse(R"({"code":20003,"message":"Authenticate",)"
                    R"("more_info":"https://www.twilio.com/docs/errors/20003","status":401})"));

  sim::outbound_call call;
  call.sid = "CA0123456789abcdef0123456789abcdef";
  call.account_sid = account_sid;
  call.from = "+15552223214";
  call.to = "+15558675310";
  call.created = call.updated = std::chrono::system_clock::time_point{} + 1283286988s;
  auto body = json::parse(sim::call_json(call)).as_object();
  CHECK(str(body.at("sid")) == call.sid);
  CHECK(str(body.at("status")) == "queued");
  CHECK(str(body.at("direction")) == "outbound-api");
  CHECK(str(body.at("api_version")) == "2010-04-01");
  CHECK(str(body.at("date_created")) == "Tue, 31 Aug 2010 20:36:28 +0000");
  CHECK(body.at("start_time").is_null());
  CHECK(body.at("duration").is_null());
  CHECK(str(body.at("uri")) ==
        "/2010-04-01/Accounts/" + std::string(account_sid) + "/Calls/" + call.sid + ".json");

  call.answered = call.created;
  call.ended = call.created + 61s;
  call.status = sim::call_status::completed;
  const auto completed = sim::status_callback_parameters(call, "completed", 3, 200, *call.ended);
  CHECK(param(completed, "CallStatus") == "completed");
  CHECK(param(completed, "SequenceNumber") == "3");
  CHECK(param(completed, "CallbackSource") == "call-progress-events");
  CHECK(param(completed, "Direction") == "outbound-api");
  CHECK(param(completed, "CallDuration") == "61");
  CHECK(param(completed, "Duration") == "2");  // billed minutes, rounded up
  CHECK(param(completed, "SipResponseCode") == "200");
  CHECK(param(completed, "Timestamp") == "Tue, 31 Aug 2010 20:37:29 +0000");
  const auto ringing = sim::status_callback_parameters(call, "ringing", 1, 0, *call.ended);
  CHECK(param(ringing, "CallDuration") == "<absent>");
  const auto busy = sim::status_callback_parameters(call, "busy", 1, 486, *call.ended);
  CHECK(param(busy, "SipResponseCode") == "486");
  CHECK(param(busy, "Duration") == "<absent>");
}

// ---- the server ---------------------------------------------------------------------------

TEST_CASE("a create with the account's credentials answers 201 with the queued call",
          "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.api_key_sid = "SK0123456789abcdef0123456789abcdef";
  options.api_key_secret = "key-secret";
  rest_fixture rest(options);
  // An account is required.
  CHECK_FALSE(sim::twilio_rest_server::start(rest.io.io, {.auth_token = "t"}).has_value());
  CHECK(rest.server->base_url() == "http://127.0.0.1:" + std::to_string(rest.server->port()));

  const auto created = rest.create("<Response><Hangup/></Response>");
  REQUIRE(created.status == 201);
  const auto& body = created.body.as_object();
  const auto sid = sid_of(created);
  CHECK(sid.size() == 34);
  CHECK(sid.starts_with("CA"));
  CHECK(str(body.at("account_sid")) == account_sid);
  CHECK(str(body.at("status")) == "queued");
  CHECK(str(body.at("direction")) == "outbound-api");
  CHECK(str(body.at("to")) == "+15558675310");
  CHECK(str(body.at("from")) == "+15552223214");
  CHECK(str(body.at("api_version")) == "2010-04-01");
  CHECK(str(body.at("uri")) ==
        "/2010-04-01/Accounts/" + std::string(account_sid) + "/Calls/" + sid + ".json");
  CHECK(body.contains("date_created"));

  // The API key pair is accepted too; the call can be fetched.
  const auto fetched = rest_request(rest.io.io, "GET", rest.call_url(sid), {},
                                    "SK0123456789abcdef0123456789abcdef", "key-secret");
  CHECK(fetched.status == 200);
  CHECK(str(fetched.body.at("sid")) == sid);

  const auto finished = rest.server->when_finished(sid).get();
  CHECK(finished.status == sim::call_status::completed);
  const auto listed =
      rest_request(rest.io.io, "GET", rest.calls_url(), {}, account_sid, auth_token);
  CHECK(listed.status == 200);
  REQUIRE(listed.body.at("calls").as_array().size() == 1);
  CHECK(str(listed.body.at("calls").as_array()[0].at("status")) == "completed");

  const auto requests = rest.server->requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].authenticated);
  CHECK(requests[0].status == 201);
  CHECK(param(requests[0].params, "To") == "+15558675310");
  CHECK(requests[1].method == "GET");
}

TEST_CASE("wrong or missing credentials get 401 20003, another account's path gets 404",
          "[twilio_rest]") {
  rest_fixture rest;
  const auto params =
      form({{"To", "+15558675310"}, {"From", "+15552223214"}, {"Twiml", "<Response/>"}});
  const auto expected_401 =
      json::parse(R"({"code":20003,"message":"Authenticate",)"
                  R"("more_info":"https://www.twilio.com/docs/errors/20003","status":401})");

  const auto wrong =
      rest_request(rest.io.io, "POST", rest.calls_url(), params, account_sid, "nope");
  CHECK(wrong.status == 401);
  CHECK(wrong.body == expected_401);
  const auto missing = rest_request(rest.io.io, "POST", rest.calls_url(), params, "", "");
  CHECK(missing.status == 401);
  CHECK(missing.body == expected_401);
  // Another account's credentials.
  const auto other = rest_request(rest.io.io, "POST", rest.calls_url(), params,
                                  "AC99999999999999999999999999999999", auth_token);
  CHECK(other.status == 401);

  const auto mismatch =
      rest.post(rest.server->base_url() +
                    "/2010-04-01/Accounts/AC99999999999999999999999999999999/Calls.json",
                params);
  CHECK(mismatch.status == 404);
  CHECK(num(mismatch.body.at("code")) == 20404);
  CHECK(num(mismatch.body.at("status")) == 404);

  CHECK(rest.server->calls().empty());
  const auto requests = rest.server->requests();
  REQUIRE(requests.size() == 4);
  CHECK_FALSE(requests[0].authenticated);
  CHECK_FALSE(requests[1].authenticated);
  CHECK(requests[3].authenticated);
}

TEST_CASE("invalid creates get 400 with Twilio's codes and create nothing", "[twilio_rest]") {
  rest_fixture rest;
  const auto no_to =
      rest.post(rest.calls_url(), form({{"From", "+15552223214"}, {"Twiml", "<Response/>"}}));
  CHECK(no_to.status == 400);
  CHECK(num(no_to.body.at("code")) == 21201);
  CHECK(str(no_to.body.at("more_info")) == "https://www.twilio.com/docs/errors/21201");

  const auto bad_to = rest.create("<Response/>", "not-a-number");
  CHECK(bad_to.status == 400);
  CHECK(num(bad_to.body.at("code")) == 21211);

  const auto too_long = rest.create("<Response>" + std::string(4000, ' ') + "</Response>");
  CHECK(too_long.status == 400);
  CHECK(num(too_long.body.at("status")) == 400);
  CHECK(num(too_long.body.at("code")) == 21232);
  CHECK(rest.server->calls().empty());
}

TEST_CASE("injected faults answer creates with Twilio-shaped errors, in order", "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.create_faults = {sim::twilio_rest_error::too_many_requests(),
                           sim::twilio_rest_error::internal_error()};
  rest_fixture rest(options);
  rest.server->inject_create_fault(sim::twilio_rest_error::service_unavailable());
  rest.server->inject_create_fault(sim::twilio_rest_error::invalid_to("+15558675310"));

  const std::string hang_up = "<Response><Hangup/></Response>";
  const auto first = rest.create(hang_up);
  CHECK(first.status == 429);
  CHECK(num(first.body.at("code")) == 20429);
  CHECK(num(first.body.at("status")) == 429);
  CHECK(str(first.body.at("more_info")) == "https://www.twilio.com/docs/errors/20429");
  const auto second = rest.create(hang_up);
  CHECK(second.status == 500);
  CHECK(num(second.body.at("code")) == 20500);
  const auto third = rest.create(hang_up);
  CHECK(third.status == 503);
  CHECK(num(third.body.at("code")) == 20503);
  const auto fourth = rest.create(hang_up);
  CHECK(fourth.status == 400);
  CHECK(num(fourth.body.at("code")) == 21211);
  CHECK(
      std::string(fourth.body.at("message").as_string()).starts_with("Invalid 'To' Phone Number"));
  CHECK(rest.server->calls().empty());

  const auto served = rest.create(hang_up);
  CHECK(served.status == 201);
  rest.server->when_finished(sid_of(served)).get();
}

TEST_CASE("an answered call sends signed callbacks in order and plays its stream",
          "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.callee.ring_time = 0ms;
  options.callee.script = {sim::silence(60ms), sim::hangup()};
  rest_fixture rest(options);
  auto stream = rest.bridge.next_stream;
  auto frames_future = stream->closed();

  const auto created = rest.create(stream_twiml());
  REQUIRE(created.status == 201);
  const auto sid = sid_of(created);
  const auto call = rest.server->when_finished(sid).get();
  const auto frames = frames_future.get();

  CHECK(call.status == sim::call_status::completed);
  CHECK(call.history ==
        std::vector<sim::call_status>{sim::call_status::queued, sim::call_status::ringing,
                                      sim::call_status::in_progress, sim::call_status::completed});
  CHECK(call.answered.has_value());
  CHECK(call.ended.has_value());

  // The callbacks, one per requested event, in order, each answered by the bridge.
  CHECK(callback_statuses(call.callbacks) ==
        std::vector<std::string>{"initiated", "ringing", "in-progress", "completed"});
  for (std::size_t i = 0; i < call.callbacks.size(); ++i) {
    const auto& sent = call.callbacks[i];
    CHECK(sent.http_status == 204);
    CHECK(sent.url == rest.bridge.callback_url());
    CHECK(param(sent.params, "SequenceNumber") == std::to_string(i));
    CHECK(param(sent.params, "CallSid") == sid);
    CHECK(param(sent.params, "AccountSid") == account_sid);
    CHECK(param(sent.params, "From") == "+15552223214");
    CHECK(param(sent.params, "To") == "+15558675310");
    CHECK(param(sent.params, "Direction") == "outbound-api");
    CHECK(param(sent.params, "ApiVersion") == "2010-04-01");
    CHECK(param(sent.params, "CallbackSource") == "call-progress-events");
    CHECK(param(sent.params, "Timestamp") != "<absent>");
  }
  CHECK(param(call.callbacks.back().params, "CallDuration") != "<absent>");
  CHECK(param(call.callbacks.back().params, "SipResponseCode") == "200");
  {
    std::lock_guard lock(rest.bridge.mutex);
    REQUIRE(rest.bridge.callbacks.size() == 4);
    for (const auto& received : rest.bridge.callbacks)
      CHECK(received.signature_ok);
    CHECK(param(rest.bridge.callbacks[2].params, "CallStatus") == "in-progress");
  }
  CHECK(rest.server->callbacks().size() == 4);

  // The stream: connected, start naming the call and carrying the <Parameter>s, the
  // callee's 60 ms of audio (3 frames), then stop.
  REQUIRE(call.streams.size() == 1);
  INFO(call.streams[0].error);
  CHECK(call.streams[0].ok());
  CHECK(call.streams[0].script_completed);
  CHECK(call.streams[0].upgrade_status == 101);
  CHECK(call.streams[0].call_sid == sid);
  const auto messages = parse_frames(frames);
  REQUIRE(messages.size() == 6);
  CHECK(std::holds_alternative<net::twilio_connected>(messages[0]));
  const auto& start = std::get<net::twilio_start>(messages[1]);
  CHECK(start.call_sid == sid);
  CHECK(start.account_sid == account_sid);
  CHECK(start.custom_parameters == std::vector<net::twilio_custom_parameter>{
                                       {"callToken", "tok-out"}, {"direction", "outbound"}});
  CHECK(std::holds_alternative<net::twilio_media>(messages[2]));
  CHECK(std::holds_alternative<net::twilio_media>(messages[4]));
  CHECK(std::holds_alternative<net::twilio_stop>(messages[5]));
}

TEST_CASE("busy, no-answer and failed calls end without a stream", "[twilio_rest]") {
  rest_fixture rest;
  rest.server->set_callee("+15550000001", {.outcome = sim::callee_outcome::busy});
  rest.server->set_callee("+15550000002", {.outcome = sim::callee_outcome::no_answer});
  rest.server->set_callee("+15550000003", {.outcome = sim::callee_outcome::fail});
  const auto twiml = stream_twiml();
  const auto busy = rest.server->when_finished(sid_of(rest.create(twiml, "+15550000001"))).get();
  const auto no_answer =
      rest.server->when_finished(sid_of(rest.create(twiml, "+15550000002"))).get();
  const auto failed = rest.server->when_finished(sid_of(rest.create(twiml, "+15550000003"))).get();

  CHECK(busy.status == sim::call_status::busy);
  CHECK(callback_statuses(busy.callbacks) == std::vector<std::string>{"initiated", "busy"});
  CHECK(param(busy.callbacks.back().params, "SipResponseCode") == "486");
  CHECK(param(busy.callbacks.back().params, "CallDuration") == "0");

  CHECK(no_answer.status == sim::call_status::no_answer);
  CHECK(callback_statuses(no_answer.callbacks) ==
        std::vector<std::string>{"initiated", "ringing", "no-answer"});

  CHECK(failed.status == sim::call_status::failed);
  CHECK(callback_statuses(failed.callbacks) == std::vector<std::string>{"initiated", "failed"});

  for (const auto* call : {&busy, &no_answer, &failed}) {
    CHECK(call->streams.empty());
    CHECK_FALSE(call->answered.has_value());
  }
}

TEST_CASE("Status=completed stops the stream and the call completes", "[twilio_rest]") {
  rest_fixture rest;  // the default callee listens silently until hung up
  auto stream = rest.bridge.next_stream;
  auto streaming = stream->first_media();
  auto frames_future = stream->closed();
  const auto sid = sid_of(rest.create(stream_twiml()));
  streaming.get();

  const auto hung_up = rest.post(rest.call_url(sid), form({{"Status", "completed"}}));
  CHECK(hung_up.status == 200);
  CHECK(str(hung_up.body.at("sid")) == sid);

  const auto call = rest.server->when_finished(sid).get();
  const auto messages = parse_frames(frames_future.get());
  CHECK(call.status == sim::call_status::completed);
  CHECK(callback_statuses(call.callbacks).back() == "completed");
  REQUIRE(call.streams.size() == 1);
  CHECK(call.streams[0].ok());
  CHECK_FALSE(call.streams[0].script_completed);  // ended from outside
  REQUIRE_FALSE(messages.empty());
  CHECK(std::holds_alternative<net::twilio_stop>(messages.back()));

  // Fetching it now shows how it ended.
  const auto fetched =
      rest_request(rest.io.io, "GET", rest.call_url(sid), {}, account_sid, auth_token);
  CHECK(str(fetched.body.at("status")) == "completed");
  CHECK(fetched.body.at("end_time").is_string());
}

TEST_CASE("a <Dial> redirect ends the stream and transfers the call", "[twilio_rest]") {
  rest_fixture rest;
  auto stream = rest.bridge.next_stream;
  auto streaming = stream->first_media();
  auto frames_future = stream->closed();
  const auto sid = sid_of(rest.create(stream_twiml()));
  streaming.get();

  const auto redirected = rest.post(
      rest.call_url(sid), form({{"Twiml", "<Response><Dial>+15559990000</Dial></Response>"}}));
  CHECK(redirected.status == 200);

  const auto call = rest.server->when_finished(sid).get();
  const auto messages = parse_frames(frames_future.get());
  CHECK(call.transferred_to == "+15559990000");
  CHECK(call.status == sim::call_status::completed);
  REQUIRE(call.streams.size() == 1);
  CHECK(std::holds_alternative<net::twilio_stop>(messages.back()));
  CHECK(call.twiml_errors.empty());

  // A redirect of a call that has ended is refused.
  const auto late = rest.post(rest.call_url(sid),
                              form({{"Twiml", "<Response><Dial>+15559990000</Dial></Response>"}}));
  CHECK(late.status == 400);
  CHECK(num(late.body.at("code")) == 21220);
}

TEST_CASE("an unknown call sid gets 404 20404", "[twilio_rest]") {
  rest_fixture rest;
  const std::string sid = "CA00000000000000000000000000000000";
  const auto update = rest.post(rest.call_url(sid), form({{"Status", "completed"}}));
  CHECK(update.status == 404);
  CHECK(num(update.body.at("code")) == 20404);
  CHECK(str(update.body.at("more_info")) == "https://www.twilio.com/docs/errors/20404");
  const auto fetched =
      rest_request(rest.io.io, "GET", rest.call_url(sid), {}, account_sid, auth_token);
  CHECK(fetched.status == 404);
  CHECK(rest.server->when_status(sid, sim::call_status::completed).get().sid.empty());
}

TEST_CASE("a ringing call is canceled by an update", "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.callee.ring_time = 10min;  // it would ring long after the test
  rest_fixture rest(options);
  const auto sid = sid_of(rest.create(stream_twiml()));
  CHECK(rest.server->when_status(sid, sim::call_status::ringing).get().status ==
        sim::call_status::ringing);

  const auto canceled = rest.post(rest.call_url(sid), form({{"Status", "canceled"}}));
  CHECK(canceled.status == 200);
  CHECK(str(canceled.body.at("status")) == "canceled");
  const auto call = rest.server->when_finished(sid).get();
  CHECK(call.status == sim::call_status::canceled);
  CHECK(callback_statuses(call.callbacks) ==
        std::vector<std::string>{"initiated", "ringing", "canceled"});
  CHECK(call.streams.empty());
}

TEST_CASE("a call created with a Url fetches its TwiML with a signed voice request",
          "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.callee.script = {sim::silence(20ms)};
  rest_fixture rest(options);
  auto frames_future = rest.bridge.next_stream->closed();
  const auto created = rest.post(
      rest.calls_url(),
      form({{"To", "+15558675310"}, {"From", "+15552223214"}, {"Url", rest.bridge.twiml_url()}}));
  REQUIRE(created.status == 201);
  const auto call = rest.server->when_finished(sid_of(created)).get();
  frames_future.get();
  CHECK(call.status == sim::call_status::completed);
  REQUIRE(call.streams.size() == 1);
  CHECK(call.streams[0].stream_parameters.size() == 2);
  CHECK(call.callbacks.empty());  // no StatusCallback asked for
  std::lock_guard lock(rest.bridge.mutex);
  REQUIRE(rest.bridge.twiml_requests.size() == 1);
  CHECK(rest.bridge.twiml_requests[0].signature_ok);
  CHECK(param(rest.bridge.twiml_requests[0].params, "CallStatus") == "in-progress");
  CHECK(param(rest.bridge.twiml_requests[0].params, "Direction") == "outbound-api");
}

TEST_CASE("reverse_callbacks delivers a call's callbacks last-first", "[twilio_rest]") {
  sim::twilio_rest_server_options options;
  options.reverse_callbacks = true;
  rest_fixture rest(options);
  const auto call =
      rest.server->when_finished(sid_of(rest.create("<Response><Hangup/></Response>"))).get();
  CHECK(callback_statuses(call.callbacks) ==
        std::vector<std::string>{"completed", "in-progress", "ringing", "initiated"});
  // Sequence numbers still tell the receiver the true order.
  CHECK(param(call.callbacks.front().params, "SequenceNumber") == "3");
}

TEST_CASE("twilio_caller plays TwiML given directly, without a webhook", "[twilio_rest]") {
  running_io io{2};
  fake_bridge bridge(io.io);
  auto frames_future = bridge.next_stream->closed();
  sim::twilio_caller_options options;
  options.twiml = stream_twiml();
  options.auth_token = auth_token;
  options.stream_connect_address = bridge.connect_address();
  options.call_sid = "CA0123456789abcdef0123456789abcdef";
  options.script = {sim::silence(20ms)};
  const auto result = sim::twilio_caller::run(io.io, options).get();
  const auto messages = parse_frames(frames_future.get());
  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.webhook_status == 0);
  CHECK(result.twiml_ok);
  CHECK(result.upgrade_status == 101);
  CHECK(result.stream_url == public_stream_url);
  const auto& start = std::get<net::twilio_start>(messages.at(1));
  CHECK(start.call_sid == "CA0123456789abcdef0123456789abcdef");
  CHECK(start.custom_parameters.size() == 2);
  std::lock_guard lock(bridge.mutex);
  CHECK(bridge.callbacks.empty());  // nothing was POSTed

  // TwiML without a stream fails the call before any connection.
  options.twiml = "<Response><Pause length=\"1\"/></Response>";
  const auto refused = sim::twilio_caller::run(io.io, options).get();
  CHECK_FALSE(refused.ok());
  CHECK(refused.error.find("TwiML") != std::string::npos);
  CHECK(refused.upgrade_status == 0);

  // TwiML that says something and hangs up is a call the bridge declined, not an error.
  options.twiml = "<Response><Say>We are full.</Say><Hangup/></Response>";
  const auto declined = sim::twilio_caller::run(io.io, options).get();
  CHECK(declined.ok());
  CHECK(declined.declined);
  CHECK(declined.declined_message == "We are full.");
  CHECK(declined.upgrade_status == 0);
}

TEST_CASE("a placed call follows its connect action to another node's stream",
          "[twilio_rest][connect_action]") {
  sim::twilio_rest_server_options options;
  // 200 ms of silence and a hang-up, across both streams: one script, one caller.
  options.callee.script = {sim::silence(200ms), sim::hangup()};
  options.callee.script_after_redirect = {sim::silence(5s)};  // not for an action
  rest_fixture rest(options);
  rest.server->set_stream_connect_address_for("node-b.example.com", rest.bridge.connect_address());
  auto first = std::make_shared<stream_recorder>(/*close_on_first_media=*/true);
  auto first_frames = first->closed();
  auto second_frames = rest.bridge.next_stream->closed();
  {
    std::lock_guard lock(rest.bridge.mutex);
    rest.bridge.queued_streams.push_back(first);
    const std::vector<net::form_parameter> resumed = {{"callToken", "tok-b"}};
    rest.bridge.action_twiml = net::connect_stream_twiml(node_b_stream_url, resumed);
  }
  const std::vector<net::form_parameter> parameters = {{"callToken", "tok-a"}};
  const auto sid = sid_of(rest.create(
      net::connect_stream_twiml(public_stream_url, parameters, rest.bridge.action_url())));
  const auto call = rest.server->when_finished(sid).get();
  first_frames.get();
  const auto messages = parse_frames(second_frames.get());

  CHECK(call.status == sim::call_status::completed);
  REQUIRE(call.streams.size() == 1);  // one caller played both streams
  const auto& caller = call.streams[0];
  INFO(caller.error << " / " << caller.action_error);
  CHECK(caller.ok());
  CHECK(caller.action_error.empty());
  CHECK(caller.script_completed);
  CHECK(caller.streams == 2);
  CHECK(caller.stream_url == node_b_stream_url);
  REQUIRE(caller.actions.size() == 1);
  CHECK(caller.actions[0].outcome == sim::connect_action_outcome::connect);
  CHECK(caller.media_frames_sent == 10);  // the script's 200 ms, not script_after_redirect's

  const auto& start = std::get<net::twilio_start>(messages.at(1));
  CHECK(start.call_sid == sid);
  CHECK(start.stream_sid == caller.stream_sids.at(1));
  CHECK(start.custom_parameters ==
        std::vector<net::twilio_custom_parameter>{{"callToken", "tok-b"}});
  std::lock_guard lock(rest.bridge.mutex);
  REQUIRE(rest.bridge.actions.size() == 1);
  CHECK(rest.bridge.actions[0].signature_ok);
  CHECK(param(rest.bridge.actions[0].params, "CallSid") == sid);
  CHECK(param(rest.bridge.actions[0].params, "CallStatus") == "in-progress");
  CHECK(param(rest.bridge.actions[0].params, "Direction") == "outbound-api");
  CHECK(param(rest.bridge.actions[0].params, "From") == "+15552223214");
  CHECK(param(rest.bridge.actions[0].params, "To") == "+15558675310");
  CHECK(rest.bridge.upgrade_hosts ==
        std::vector<std::string>{"bridge.example.com", "node-b.example.com"});
}

TEST_CASE("Status=completed on a call whose connect has an action requests no action",
          "[twilio_rest][connect_action]") {
  rest_fixture rest;  // the default callee listens silently until hung up
  auto streaming = rest.bridge.next_stream->first_media();
  auto frames_future = rest.bridge.next_stream->closed();
  const std::vector<net::form_parameter> parameters = {{"callToken", "tok-a"}};
  const auto sid = sid_of(rest.create(
      net::connect_stream_twiml(public_stream_url, parameters, rest.bridge.action_url())));
  streaming.get();
  CHECK(rest.post(rest.call_url(sid), form({{"Status", "completed"}})).status == 200);
  const auto call = rest.server->when_finished(sid).get();
  frames_future.get();
  CHECK(call.status == sim::call_status::completed);
  REQUIRE(call.streams.size() == 1);
  CHECK(call.streams[0].actions.empty());
  std::lock_guard lock(rest.bridge.mutex);
  CHECK(rest.bridge.actions.empty());
}
