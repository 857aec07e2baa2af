// The node's event loops (net/io_shards.hpp): each shard's thread knows its shard, and the HTTP
// listener places each connection on the shard with the fewest open connections, whose thread
// then serves it.
#include "net/http_server.hpp"
#include "net/io_shards.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using switchboard::net::io_shards;

namespace {

/// What `what` returns when run on `shards`' shard `index`, waited for.
template <class Function>
auto run_on(io_shards& shards, std::size_t index, Function what) {
  std::promise<decltype(what())> result;
  asio::post(shards.shard(index), [&] { result.set_value(what()); });
  return result.get_future().get();
}

}  // namespace

TEST_CASE("each shard's thread knows its shard, and any other thread is shard 0's", "[io_shards]") {
  io_shards shards(3);
  shards.start();
  CHECK(shards.thread_ids().size() == 3);
  for (std::size_t index = 0; index < 3; ++index) {
    CHECK(run_on(shards, index, [&] { return shards.current_index(); }) ==
          std::optional<std::size_t>(index));
    CHECK(run_on(shards, index, [&] { return &shards.current(); }) == &shards.shard(index));
  }
  CHECK_FALSE(shards.current_index().has_value());
  CHECK(&shards.current() == &shards.shard(0));
  // Another set's thread is not one of these shards.
  io_shards others(1);
  others.start();
  CHECK_FALSE(run_on(others, 0, [&] { return shards.current_index(); }).has_value());
  shards.stop();
  CHECK(shards.thread_ids().empty());
}

TEST_CASE("a set of no shards is a mistake stated at once", "[io_shards]") {
  CHECK_THROWS_AS(io_shards(0), std::invalid_argument);
}

TEST_CASE("a lease counts its connection on its shard until it is dropped", "[io_shards]") {
  io_shards shards(2);
  auto first = shards.place_connection();
  auto second = shards.place_connection();
  auto third = shards.place_connection();
  CHECK(&first.io == &shards.shard(0));
  CHECK(&second.io == &shards.shard(1));
  CHECK(&third.io == &shards.shard(0));
  CHECK(shards.open_connections() == std::vector<std::size_t>{2, 1});
  // Work that will open connections goes where the fewest are, and takes no place itself.
  CHECK(&shards.least_loaded() == &shards.shard(1));
  CHECK(shards.open_connections() == std::vector<std::size_t>{2, 1});
  first.lease.reset();
  third.lease.reset();
  CHECK(shards.open_connections() == std::vector<std::size_t>{0, 1});
  auto fourth = shards.place_connection();
  CHECK(&fourth.io == &shards.shard(0));
}

TEST_CASE("the listener serves each connection on the shard with the fewest open connections",
          "[io_shards]") {
  io_shards shards(2);
  shards.start();
  auto server = switchboard::net::http_server::start(
      shards, {.bind_address = "127.0.0.1", .port = 0},
      {.on_request = [&](const switchboard::net::http_request&) {
        const auto index = shards.current_index();
        return switchboard::net::http_response::text(
            200, index ? std::to_string(*index) : std::string("none"));
      }});
  REQUIRE(server.has_value());
  const auto port = (*server)->port();

  // Four connections held open at once, one request each: the shards take turns.
  asio::io_context client_io;
  std::vector<std::unique_ptr<beast::tcp_stream>> connections;
  std::vector<std::string> served_on;
  for (int i = 0; i < 4; ++i) {
    auto& stream = *connections.emplace_back(std::make_unique<beast::tcp_stream>(client_io));
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request{http::verb::get, "/where", 11};
    request.set(http::field::host, "127.0.0.1");
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    CHECK(response.result_int() == 200);
    served_on.push_back(response.body());
  }
  CHECK(served_on == std::vector<std::string>{"0", "1", "0", "1"});
  // Four open, two on each shard (and the accept waiting for the next connection may already
  // hold a fifth place).
  const auto open = shards.open_connections();
  CHECK(std::min(open[0], open[1]) == 2);
  CHECK(open[0] + open[1] <= 5);
  connections.clear();
  (*server)->stop();
  shards.stop();
}
