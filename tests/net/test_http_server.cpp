// The HTTP listener over real sockets on an ephemeral port.
#include "net/http_server.hpp"
#include "support/running_io.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using switchboard::net::http_request;
using switchboard::net::http_response;
using switchboard::net::http_server;

using switchboard::testing::running_io;

namespace {

http::response<http::string_body> fetch(std::uint16_t port, http::verb method,
                                        const std::string& target, const std::string& body = "") {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set("X-Test", "yes");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response;
}

switchboard::net::http_routes ok_routes() {
  return {.on_request = [](const http_request&) {
    return http_response::text(200, "");
  }};
}

}  // namespace

TEST_CASE("the server answers requests through its handler", "[http_server]") {
  running_io io;
  std::string seen_header;
  auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0},
                                   {.on_request = [&](const http_request& request) {
                                     seen_header = std::string(request.header("x-test"));
                                     if (request.path() == "/echo") {
                                       return http_response::text(200, request.body);
                                     }
                                     return http_response::text(404, "not found\n");
                                   }});
  REQUIRE(server.has_value());
  const auto port = (*server)->port();
  CHECK(port != 0);

  auto echoed = fetch(port, http::verb::post, "/echo?x=1", "hello");
  CHECK(echoed.result_int() == 200);
  CHECK(echoed.body() == "hello");
  CHECK(seen_header == "yes");

  CHECK(fetch(port, http::verb::get, "/nowhere").result_int() == 404);
}

TEST_CASE("a body over the limit is refused with 413", "[http_server]") {
  running_io io;
  auto server = http_server::start(
      io.io, {.bind_address = "127.0.0.1", .port = 0, .max_body_bytes = 16}, ok_routes());
  REQUIRE(server.has_value());
  CHECK(fetch((*server)->port(), http::verb::post, "/", std::string(17, 'x')).result_int() == 413);
}

TEST_CASE("an address that cannot be bound is an error value", "[http_server]") {
  running_io io;
  auto first = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0}, ok_routes());
  REQUIRE(first.has_value());
  auto second = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = (*first)->port()},
                                   ok_routes());
  // SO_REUSEADDR does not let two listeners share a port on Linux.
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().find("cannot listen") != std::string::npos);

  auto bad = http_server::start(io.io, {.bind_address = "not-an-ip", .port = 0}, ok_routes());
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().find("not-an-ip") != std::string::npos);
}

TEST_CASE("an async handler takes a request and answers it later from another thread",
          "[http_server]") {
  running_io io;
  std::vector<std::thread> answerers;
  auto server = http_server::start(
      io.io, {.bind_address = "127.0.0.1", .port = 0},
      {.on_request = [](const http_request&) { return http_response::text(200, "plain\n"); },
       .on_request_async =
           [&](const http_request& request, const switchboard::net::http_responder& respond) {
             if (request.path() != "/later")
               return false;  // left to on_request
             answerers.emplace_back(
                 [respond, body = request.body] { respond(http_response::text(201, body)); });
             return true;
           }});
  REQUIRE(server.has_value());
  const auto port = (*server)->port();
  const auto later = fetch(port, http::verb::post, "/later", "answered elsewhere");
  CHECK(later.result_int() == 201);
  CHECK(later.body() == "answered elsewhere");
  const auto plain = fetch(port, http::verb::get, "/other");
  CHECK(plain.result_int() == 200);
  CHECK(plain.body() == "plain\n");
  for (auto& thread : answerers)
    thread.join();
}
