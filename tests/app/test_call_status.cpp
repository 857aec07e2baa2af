// POST /call-status: Twilio's status callbacks. The endpoint on its own (signatures, bad
// forms, what reaches the book), then whole outbound calls through the REST stand-in, whose
// signed callbacks reach the bridge through a front that stands in for the ingress at
// PUBLIC_URL: the call's call.json ends with Twilio's final status, whatever the order.
#include "app/call_status_endpoint.hpp"
#include "bridge_harness.hpp"
#include "net/http_server.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/running_io.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>
#include <thread>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* auth_token = "harness-auth-token";  // the harness's TWILIO_AUTH_TOKEN
constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* api_token = "api-token-for-tests";

/// A status callback as Twilio posts it: the stand-in's own form, signed over `url`.
net::http_request signed_callback(const std::string& url, const std::string& call_sid,
                                  std::string_view callback_status, std::uint64_t sequence) {
  sim::outbound_call call;
  call.sid = call_sid;
  call.account_sid = account_sid;
  call.from = "+15005550006";
  call.to = "+14155550100";
  const auto params = sim::status_callback_parameters(call, callback_status, sequence, 200,
                                                      std::chrono::system_clock::now());
  net::http_request request;
  request.method = "POST";
  request.target = std::string(app::call_status_path);
  request.body = net::encode_form_body(params);
  request.headers = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"X-Twilio-Signature", net::compute_twilio_signature(auth_token, url, params)}};
  request.remote_address = "127.0.0.1";
  return request;
}

net::http_client_request as_client_request(const net::http_request& request) {
  net::http_client_request out;
  out.method = request.method;
  out.headers = request.headers;
  out.body = request.body;
  return out;
}

std::string twilio_status_in(const std::filesystem::path& call_json) {
  std::ifstream in(call_json, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  INFO(call_json.string() << ": " << text.str());
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(text.str(), ec);
  REQUIRE_FALSE(ec);
  const auto* status = parsed.as_object().if_contains("twilio_status");
  return status != nullptr && status->is_string() ? std::string(status->as_string()) : "<absent>";
}

/// call.json's twilio_status once it is `expected`, or what it still says after a bound (a broken
/// test only). A callback's 204 comes when the status book has taken it; the rewrite of a
/// call.json already written follows on the node's file thread.
std::string twilio_status_settled(const std::filesystem::path& call_json,
                                  std::string_view expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto status = twilio_status_in(call_json);
  while (status != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    status = twilio_status_in(call_json);
  }
  return status;
}

std::string json_string(const std::string& body, std::string_view key) {
  const auto parsed = boost::json::parse(body).as_object();
  const auto* value = parsed.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string{};
}

}  // namespace

TEST_CASE("call status endpoint: signed callbacks reach the book, others are refused",
          "[call_status]") {
  const std::string public_url = "https://voice.example.com";
  const std::string url = public_url + "/call-status";
  net::twilio_webhook_settings settings;
  settings.public_url = public_url;
  settings.auth_token = auth_token;
  actors::call_status_book book;
  const auto now = std::chrono::system_clock::now();

  SECTION("a good signature: 204 and the call moves on") {
    const auto answer =
        app::answer_call_status(signed_callback(url, "CA1", "ringing", 1), settings, book, now);
    CHECK(answer.status == 204);
    CHECK(answer.body.empty());
    REQUIRE(book.find("CA1"));
    CHECK(book.find("CA1")->status == actors::twilio_call_status::ringing);
    CHECK(book.find("CA1")->sequence_number == 1u);
    // Stale ones are answered 204 too: Twilio has nothing to do about them.
    CHECK(app::answer_call_status(signed_callback(url, "CA1", "initiated", 0), settings, book, now)
              .status == 204);
    CHECK(book.find("CA1")->status == actors::twilio_call_status::ringing);
  }
  SECTION("a bad or missing signature: 403 and nothing recorded") {
    auto forged = signed_callback(url, "CA1", "completed", 3);
    forged.headers[1].second = net::compute_twilio_signature("not-the-token", url, {});
    auto answer = app::answer_call_status(forged, settings, book, now);
    CHECK(answer.status == 403);
    CHECK(answer.body.find("invalid X-Twilio-Signature") != std::string::npos);

    auto tampered = signed_callback(url, "CA1", "ringing", 1);
    tampered.body += "&CallStatus=completed";  // signed for ringing only
    CHECK(app::answer_call_status(tampered, settings, book, now).status == 403);

    auto elsewhere = signed_callback("https://other.example.com/call-status", "CA1", "busy", 3);
    CHECK(app::answer_call_status(elsewhere, settings, book, now).status == 403);

    auto unsigned_callback = signed_callback(url, "CA1", "completed", 3);
    unsigned_callback.headers.pop_back();
    answer = app::answer_call_status(unsigned_callback, settings, book, now);
    CHECK(answer.status == 403);
    CHECK(answer.body.find("missing X-Twilio-Signature") != std::string::npos);
    CHECK(book.size() == 0);
  }
  SECTION("signed but unusable: 400 saying why; not a POST: 405") {
    net::http_request request;
    request.method = "POST";
    request.target = "/call-status";
    const std::vector<net::form_parameter> params{{"CallSid", "CA1"}, {"CallStatus", "ringin"}};
    request.body = net::encode_form_body(params);
    request.headers = {
        {"X-Twilio-Signature", net::compute_twilio_signature(auth_token, url, params)}};
    const auto answer = app::answer_call_status(request, settings, book, now);
    CHECK(answer.status == 400);
    CHECK(answer.body.find("ringin") != std::string::npos);

    auto get = signed_callback(url, "CA1", "ringing", 1);
    get.method = "GET";
    CHECK(app::answer_call_status(get, settings, book, now).status == 405);
    CHECK(book.size() == 0);
  }
  SECTION("signatures off (no TWILIO_AUTH_TOKEN): accepted unchecked") {
    settings.auth_token.clear();
    settings.check_signatures = false;
    auto unsigned_callback = signed_callback(url, "CA1", "busy", 2);
    unsigned_callback.headers.pop_back();
    CHECK(app::answer_call_status(unsigned_callback, settings, book, now).status == 204);
    CHECK(book.find("CA1")->status == actors::twilio_call_status::busy);
  }
}

namespace {

/// The ingress in front of the bridge, at PUBLIC_URL: forwards every request to the bridge as
/// it is. PUBLIC_URL must be known before the bridge (port 0) is started, so the front comes
/// first and learns the bridge's port afterwards.
class front_door {
 public:
  explicit front_door(boost::asio::io_context& io) : io_(io) {
    auto server = net::http_server::start(
        io, {.bind_address = "127.0.0.1"},
        {.on_request =
             [](const net::http_request&) { return net::http_response::text(502, "no bridge\n"); },
         .on_upgrade = nullptr,
         .on_request_async =
             [this](const net::http_request& request, const net::http_responder& respond) {
               forward(request, respond);
               return true;
             }});
    REQUIRE(server.has_value());
    server_ = std::move(*server);
  }
  ~front_door() { server_->stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void lead_to(std::uint16_t bridge_port) { bridge_port_ = bridge_port; }

 private:
  void forward(const net::http_request& request, const net::http_responder& respond) {
    net::http_client_request out;
    out.method = request.method;
    out.url = "http://127.0.0.1:" + std::to_string(bridge_port_.load()) + request.target;
    for (const auto& [name, value] : request.headers) {
      const auto lower = [](std::string text) {
        for (auto& c : text)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text;
      }(name);
      if (lower != "host" && lower != "content-length" && lower != "connection")
        out.headers.emplace_back(name, value);
    }
    out.body = request.body;
    net::http_request_async(io_, std::move(out), [respond](net::http_client_result answer) {
      if (!answer)
        return respond(net::http_response::text(502, answer.error() + "\n"));
      net::http_response response;
      response.status = answer->status;
      response.content_type = std::string(answer->header("content-type"));
      response.body = answer->body;
      respond(std::move(response));
    });
  }

  boost::asio::io_context& io_;
  std::unique_ptr<net::http_server> server_;
  std::atomic<std::uint16_t> bridge_port_{0};
};

net::http_client_request dial(std::string to) {
  net::http_client_request post;
  post.method = "POST";
  post.headers = {{"Authorization", std::string("Bearer ") + api_token},
                  {"Content-Type", "application/json"}};
  post.body = R"({"to":")" + to + R"("})";
  return post;
}

/// The REST stand-in, a front at PUBLIC_URL and a bridge behind it.
struct outbound_rig {
  explicit outbound_rig(sim::twilio_rest_server_options rest) : front(twilio_io.io) {
    rest.account_sid = account_sid;
    rest.auth_token = auth_token;
    auto started = sim::twilio_rest_server::start(twilio_io.io, rest);
    REQUIRE(started.has_value());
    twilio = std::move(*started);
    bridge_harness::options options;
    options.configure = [&](config::settings& settings) {
      settings.api_token = api_token;
      settings.allowed_destinations = {"+1415"};
      settings.twilio_account_sid = account_sid;
      settings.twilio_phone_number = "+15005550006";
      settings.twilio_api_base = twilio->base_url();
      settings.public_url = front.url();  // what the StatusCallback and the stream URL name
    };
    harness.emplace(options);
    front.lead_to(harness->server().port());
    twilio->set_stream_connect_address("127.0.0.1:" + std::to_string(harness->server().port()));
  }

  /// POST /calls to +14155550100; the new call's sid.
  std::string place_call() {
    const auto answer = harness->send(harness->server().port(), "/calls", dial("+14155550100"));
    INFO(answer.body);
    REQUIRE(answer.status == 201);
    return json_string(answer.body, "call_sid");
  }

  /// Once the stand-in has sent (and had answered) every callback and the bridge has written
  /// the call's files: its call.json.
  std::filesystem::path call_json_when_done(const std::string& call_sid) {
    const auto call = twilio->when_finished(call_sid).get();
    CHECK(call.status == sim::call_status::completed);
    CHECK(call.callbacks.size() == 4);  // initiated, ringing, in-progress (answered), completed
    for (const auto& callback : call.callbacks) {
      INFO(callback.error);
      CHECK(callback.http_status == 204);
    }
    const auto finished = harness->server().calls().wait_for_finished(1, 30s);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].call_sid == call_sid);
    CHECK(finished[0].problems.empty());
    return finished[0].directory / "call.json";
  }

  /// A callback posted straight to the bridge, signed as Twilio signs it (over PUBLIC_URL).
  unsigned post_callback(const net::http_request& callback) {
    return harness->send(harness->server().port(), "/call-status", as_client_request(callback))
        .status;
  }

  running_io twilio_io{2};
  front_door front;
  std::unique_ptr<sim::twilio_rest_server> twilio;
  std::optional<bridge_harness> harness;
};

std::vector<sim::caller_step> short_call() {
  return {sim::silence(200ms), sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
          sim::wait_for_agent_audio(200ms), sim::hangup()};
}

}  // namespace

TEST_CASE("call status: an outbound call's call.json ends with Twilio's completed",
          "[call_status][end_to_end]") {
  sim::twilio_rest_server_options rest;
  rest.callee.script = short_call();
  outbound_rig rig(rest);

  const auto call_sid = rig.place_call();
  const auto call_json = rig.call_json_when_done(call_sid);
  CHECK(twilio_status_settled(call_json, "completed") == "completed");

  // Callbacks that come late, signed as Twilio signs them, change nothing.
  const auto status_url = rig.front.url() + "/call-status";
  CHECK(rig.post_callback(signed_callback(status_url, call_sid, "ringing", 1)) == 204);
  CHECK(rig.post_callback(signed_callback(status_url, call_sid, "in-progress", 2)) == 204);
  CHECK(twilio_status_in(call_json) == "completed");
}

TEST_CASE("call status: callbacks in reverse order still leave completed in call.json",
          "[call_status][end_to_end]") {
  sim::twilio_rest_server_options rest;
  rest.callee.script = short_call();
  rest.reverse_callbacks = true;  // completed, in-progress, ringing, initiated
  outbound_rig rig(rest);

  const auto call_sid = rig.place_call();
  const auto call_json = rig.call_json_when_done(call_sid);
  CHECK(twilio_status_settled(call_json, "completed") == "completed");
  const auto sent = rig.twilio->call(call_sid)->callbacks;
  REQUIRE_FALSE(sent.empty());
  CHECK(sent.front().params.end() !=
        std::find_if(sent.front().params.begin(), sent.front().params.end(), [](const auto& p) {
          return p.name == "CallStatus" && p.value == "completed";
        }));
  CHECK(twilio_status_in(call_json) == "completed");
}

TEST_CASE("call status: a forged callback during a call gets 403 and changes nothing",
          "[call_status][end_to_end]") {
  sim::twilio_rest_server_options rest;  // the callee stays on the line until hung up
  outbound_rig rig(rest);

  const auto call_sid = rig.place_call();
  rig.twilio->when_status(call_sid, sim::call_status::in_progress).get();

  // busy would be final: had it been taken, Twilio's completed would be stale afterwards.
  const auto status_url = rig.front.url() + "/call-status";
  auto forged = signed_callback(status_url, call_sid, "busy", 9);
  forged.headers[1].second = net::compute_twilio_signature("guessed-token", status_url, {});
  CHECK(rig.post_callback(forged) == 403);
  auto unsigned_callback = signed_callback(status_url, call_sid, "busy", 9);
  unsigned_callback.headers.pop_back();
  CHECK(rig.post_callback(unsigned_callback) == 403);
  CHECK(rig.harness->server().metrics().status_callbacks("refused").Value() == 2);

  // Hang up through Twilio's REST API (Status=completed), as the stand-in's client would.
  net::http_client_request hang_up;
  hang_up.method = "POST";
  hang_up.headers = {{"Authorization", net::basic_authorization(account_sid, auth_token)},
                     {"Content-Type", "application/x-www-form-urlencoded"}};
  hang_up.body = "Status=completed";
  const auto answer = rig.harness->send(
      rig.twilio->port(),
      std::string("/2010-04-01/Accounts/") + account_sid + "/Calls/" + call_sid + ".json", hang_up);
  INFO(answer.body);
  REQUIRE(answer.status == 200);

  const auto call_json = rig.call_json_when_done(call_sid);
  CHECK(twilio_status_settled(call_json, "completed") == "completed");
}
