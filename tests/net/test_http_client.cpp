// The outgoing HTTP client against net::http_server on port 0. Synchronisation is by futures the
// completion callbacks fulfil, never by sleeping.
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "support/running_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace asio = boost::asio;
using namespace switchboard::net;
using namespace std::chrono_literals;

using switchboard::testing::running_io;

namespace {

http_client_result fetch(asio::io_context& io, http_client_request request) {
  std::promise<http_client_result> answer;
  auto future = answer.get_future();
  http_request_async(io, std::move(request),
                     [&answer](http_client_result result) { answer.set_value(std::move(result)); });
  return future.get();
}

std::string error_of(const http_client_result& result) {
  return result.has_value() ? std::string("<no error>") : result.error();
}

}  // namespace

TEST_CASE("a POST reaches the server with its headers and body, and the answer comes back",
          "[http_client]") {
  running_io io;
  std::mutex mutex;
  http_request seen;
  auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0},
                                   {.on_request = [&](const http_request& request) {
                                     std::lock_guard lock(mutex);
                                     seen = request;
                                     auto response = http_response::json(201, R"({"sid":"CA1"})");
                                     response.headers.emplace_back("X-Reply", "yes");
                                     return response;
                                   }});
  REQUIRE(server.has_value());
  const auto port = std::to_string((*server)->port());

  const std::vector<form_parameter> form = {{"To", "+15558675310"}, {"Twiml", "<Response/>"}};
  auto result = fetch(io.io, {.method = "POST",
                              .url = "http://127.0.0.1:" + port + "/2010-04-01/Calls.json?x=1",
                              .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                          {"Authorization", basic_authorization("AC1", "tok")}},
                              .body = encode_form_body(form)});
  INFO(error_of(result));
  REQUIRE(result.has_value());
  CHECK(result->status == 201);
  CHECK(result->body == R"({"sid":"CA1"})");
  CHECK(result->header("x-reply") == "yes");
  CHECK(result->header("Content-Type") == "application/json");

  std::lock_guard lock(mutex);
  CHECK(seen.method == "POST");
  CHECK(seen.target == "/2010-04-01/Calls.json?x=1");
  CHECK(seen.header("host") == "127.0.0.1:" + port);
  CHECK(seen.header("user-agent") == "switchboard");
  CHECK(seen.header("authorization") == basic_authorization("AC1", "tok"));
  CHECK(seen.body == "To=%2B15558675310&Twiml=%3CResponse%2F%3E");
  const auto decoded = parse_form_body(seen.body);
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[0].value == "+15558675310");
  CHECK(decoded[1].value == "<Response/>");
}

TEST_CASE("a header given by the caller replaces the default of that name", "[http_client]") {
  running_io io;
  std::promise<std::string> user_agent;
  auto server =
      http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0},
                         {.on_request = [&](const http_request& request) {
                           user_agent.set_value(std::string(request.header("user-agent")));
                           return http_response::text(200, "");
                         }});
  REQUIRE(server.has_value());
  auto agent = user_agent.get_future();
  auto result = fetch(io.io, {.url = "http://127.0.0.1:" + std::to_string((*server)->port()),
                              .headers = {{"User-Agent", "TwilioProxy/1.1"}}});
  REQUIRE(result.has_value());
  CHECK(agent.get() == "TwilioProxy/1.1");
}

TEST_CASE("an HTTP error status is a response, not a failure", "[http_client]") {
  running_io io;
  auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0},
                                   {.on_request = [](const http_request&) {
                                     return http_response::text(404, "no such call\n");
                                   }});
  REQUIRE(server.has_value());
  auto result =
      fetch(io.io, {.url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/missing"});
  REQUIRE(result.has_value());
  CHECK(result->status == 404);
  CHECK(result->body == "no such call\n");
}

TEST_CASE("a closed port fails as a value naming the connect", "[http_client]") {
  running_io io;
  std::uint16_t port = 0;
  {
    auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0}, {});
    REQUIRE(server.has_value());
    port = (*server)->port();
  }
  auto result = fetch(io.io, {.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("connect to 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("a server that accepts and never answers is cut off by the timeout", "[http_client]") {
  running_io io;
  // A listener that accepts and then holds the connection without reading or writing.
  asio::ip::tcp::acceptor acceptor(io.io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket held(io.io);
  acceptor.async_accept(held, [](boost::system::error_code) {});
  const auto port = std::to_string(acceptor.local_endpoint().port());
  auto result = fetch(io.io, {.url = "http://127.0.0.1:" + port + "/", .timeout = 200ms});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("timed out after 200 ms") != std::string::npos);
  // The acceptor and socket belong to the io thread now: close them there before they go.
  std::promise<void> closed;
  asio::post(io.io, [&] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    held.close(ignored);
    closed.set_value();
  });
  closed.get_future().get();
}

TEST_CASE("https to a server that does not speak TLS fails in the TLS handshake", "[http_client]") {
  running_io io;
  auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0},
                                   {.on_request = [](const http_request&) {
                                     return http_response::text(200, "plain\n");
                                   }});
  REQUIRE(server.has_value());
  auto tls = tls_context::client();
  REQUIRE(tls.has_value());
  auto result =
      fetch(io.io, {.url = "https://127.0.0.1:" + std::to_string((*server)->port()), .tls = *tls});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().find("TLS handshake with 127.0.0.1") != std::string::npos);
}

TEST_CASE("unusable requests fail at once, before any I/O", "[http_client]") {
  asio::io_context io;  // never run: these must not need it
  const auto immediate = [&io](http_client_request request) {
    std::optional<http_client_result> answer;
    http_request_async(io, std::move(request),
                       [&answer](http_client_result result) { answer = std::move(result); });
    REQUIRE(answer.has_value());
    REQUIRE_FALSE(answer->has_value());
    return answer->error();
  };
  CHECK(immediate({.url = "ftp://example.com/"}).find("http:// or https://") != std::string::npos);
  CHECK(immediate({.url = "not a url"}).find("not a URL") != std::string::npos);
  CHECK(immediate({.url = "https://example.com/"}).find("TLS context") != std::string::npos);
  CHECK(immediate({.url = "http://user:secret@example.com/"}).find("credentials") !=
        std::string::npos);
  CHECK(immediate({.url = "http://example.com/", .headers = {{"X-Evil", "a\r\nInjected: 1"}}})
            .find("X-Evil") != std::string::npos);
  CHECK(immediate({.method = "GET /x", .url = "http://example.com/"}).find("method") !=
        std::string::npos);
}

TEST_CASE("http URLs are split into host, port and target", "[http_client]") {
  auto plain = parse_http_url("http://127.0.0.1:8080/incoming-call?x=1#frag");
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->secure);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "8080");
  CHECK(plain->target == "/incoming-call?x=1");

  auto api = parse_http_url("https://api.twilio.com");
  REQUIRE(api.has_value());
  CHECK(api->secure);
  CHECK(api->port == "443");
  CHECK(api->target == "/");

  auto v6 = parse_http_url("http://[::1]:9000/a");
  REQUIRE(v6.has_value());
  CHECK(v6->host == "::1");
  CHECK(v6->port == "9000");
}

TEST_CASE("form bodies and basic credentials are encoded as Twilio's REST API expects",
          "[http_client]") {
  const std::vector<form_parameter> form = {
      {"StatusCallbackEvent", "initiated"},
      {"StatusCallbackEvent", "ringing"},
      {"Twiml", "<Say>a b&c=d</Say>"},
      {"Url", "https://example.com/x?y=1"},
      {"Unicode", "\xc3\xa9"},
  };
  const auto body = encode_form_body(form);
  CHECK(body ==
        "StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"
        "&Twiml=%3CSay%3Ea+b%26c%3Dd%3C%2FSay%3E&Url=https%3A%2F%2Fexample.com%2Fx%3Fy%3D1"
        "&Unicode=%C3%A9");
  const auto decoded = parse_form_body(body);
  REQUIRE(decoded.size() == form.size());
  for (std::size_t i = 0; i < form.size(); ++i) {
    CHECK(decoded[i].name == form[i].name);
    CHECK(decoded[i].value == form[i].value);
  }
  CHECK(encode_form_body({}).empty());
  // RFC 7617 §2's example.
  CHECK(basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}
