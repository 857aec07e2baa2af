// WebSocket server (upgrade on the HTTP listener) and client over real sockets on port 0.
// Synchronisation is by futures the handlers fulfil, never by sleeping.
#include "net/http_server.hpp"
#include "net/websocket_client.hpp"
#include "support/running_io.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
using namespace switchboard::net;

using switchboard::testing::running_io;

namespace {

/// Server side: echoes every text message with a prefix.
class echo_handler final : public websocket_handler {
 public:
  void on_open(std::shared_ptr<websocket_connection> connection) override {
    connection_ = connection;
  }
  void on_message(std::string message, bool is_text) override {
    if (auto connection = connection_.lock()) {
      connection->send_text((is_text ? "echo:" : "binary:") + message);
      if (message == "bye")
        connection->close(close_code::normal, "done");
    }
  }
  void on_close(websocket_closed) override {}

 private:
  std::weak_ptr<websocket_connection> connection_;
};

/// Client side: records what arrives and lets the test wait for it.
class recording_handler final : public websocket_handler {
 public:
  void on_open(std::shared_ptr<websocket_connection> connection) override {
    opened.set_value(connection);
  }
  void on_message(std::string message, bool) override {
    std::lock_guard lock(mutex_);
    messages_.push_back(std::move(message));
    if (messages_.size() == expected_)
      got_all.set_value(messages_);
  }
  void on_close(websocket_closed why) override { closed.set_value(why); }
  void on_connect_failed(websocket_connect_failure why) override { failed.set_value(why); }

  void expect(std::size_t count) { expected_ = count; }

  std::promise<std::shared_ptr<websocket_connection>> opened;
  std::promise<std::vector<std::string>> got_all;
  std::promise<websocket_closed> closed;
  std::promise<websocket_connect_failure> failed;

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
  std::size_t expected_ = 0;
};

}  // namespace

TEST_CASE("a client and the server exchange text frames in order and close cleanly",
          "[websocket]") {
  running_io io;
  std::string seen_path;
  auto server = http_server::start(
      io.io, {.bind_address = "127.0.0.1", .port = 0},
      {.on_request = {}, .on_upgrade = [&](const http_request& request) {
         seen_path = std::string(request.path());
         if (request.header("authorization") != "Bearer secret") {
           return websocket_upgrade_decision::refused(http_response::text(403, "forbidden\n"));
         }
         return websocket_upgrade_decision::accepted(std::make_shared<echo_handler>());
       }});
  REQUIRE(server.has_value());
  const auto url = "ws://127.0.0.1:" + std::to_string((*server)->port()) + "/media-stream?x=1";

  auto client = std::make_shared<recording_handler>();
  client->expect(3);
  auto opened = client->opened.get_future();
  auto got_all = client->got_all.get_future();
  auto closed = client->closed.get_future();
  connect_websocket(io.io, {.url = url, .headers = {{"Authorization", "Bearer secret"}}}, client);
  auto connection = opened.get();
  connection->send_text("one");
  connection->send_text("two");
  connection->send_text("bye");
  CHECK(got_all.get() == std::vector<std::string>{"echo:one", "echo:two", "echo:bye"});
  const auto why = closed.get();
  CHECK(why.clean);
  CHECK(why.code == 1000);
  CHECK(why.reason == "done");
  CHECK(seen_path == "/media-stream");
}

TEST_CASE("a refused upgrade reaches the client as a failure with the HTTP status", "[websocket]") {
  running_io io;
  auto server = http_server::start(
      io.io, {.bind_address = "127.0.0.1", .port = 0},
      {.on_request = {}, .on_upgrade = [](const http_request&) {
         return websocket_upgrade_decision::refused(http_response::text(403, "forbidden\n"));
       }});
  REQUIRE(server.has_value());
  auto client = std::make_shared<recording_handler>();
  auto failed = client->failed.get_future();
  connect_websocket(io.io, {.url = "ws://127.0.0.1:" + std::to_string((*server)->port()) + "/"},
                    client);
  CHECK(failed.get().http_status == 403);
}

TEST_CASE("connecting to a closed port fails as a value", "[websocket]") {
  running_io io;
  // Bind, learn a free port, close it again: nobody listens there now.
  std::uint16_t port = 0;
  {
    auto server = http_server::start(io.io, {.bind_address = "127.0.0.1", .port = 0}, {});
    REQUIRE(server.has_value());
    port = (*server)->port();
  }
  auto client = std::make_shared<recording_handler>();
  auto failed = client->failed.get_future();
  connect_websocket(io.io, {.url = "ws://127.0.0.1:" + std::to_string(port) + "/"}, client);
  const auto why = failed.get();
  CHECK(why.http_status == 0);
  CHECK(why.reason.find("connect") != std::string::npos);
}

TEST_CASE("websocket URLs are split into host, port and target", "[websocket]") {
  auto plain = parse_websocket_url("ws://127.0.0.1:8080/media-stream");
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->secure);
  CHECK(plain->host == "127.0.0.1");
  CHECK(plain->port == "8080");
  CHECK(plain->target == "/media-stream");

  auto openai = parse_websocket_url("wss://api.openai.com/v1/realtime?model=gpt-realtime");
  REQUIRE(openai.has_value());
  CHECK(openai->secure);
  CHECK(openai->port == "443");
  CHECK(openai->target == "/v1/realtime?model=gpt-realtime");

  auto bare = parse_websocket_url("ws://[::1]");
  REQUIRE(bare.has_value());
  CHECK(bare->host == "::1");
  CHECK(bare->target == "/");

  CHECK_FALSE(parse_websocket_url("https://example.com/").has_value());
  CHECK_FALSE(parse_websocket_url("not a url").has_value());
}
