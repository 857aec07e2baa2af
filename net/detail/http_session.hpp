#pragma once
// Internal to net/: an HTTP session over a plain or TLS Beast stream, which hands WebSocket
// upgrades to a websocket_session over the same stream. Included only by http_server.cpp
// (plain) and http_server_tls.cpp (TLS).

#include "net/detail/http_message.hpp"
#include "net/detail/websocket_session.hpp"
#include "net/http_types.hpp"
#include "net/tls.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <optional>
#include <string>

namespace switchboard::net::detail {

/// What every session of one server shares; outlives the server object while sessions run.
struct http_server_state {
  http_server_options options;
  http_routes routes;
  std::shared_ptr<tls_context> tls;  // null: plain
};

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream&& stream, std::shared_ptr<const http_server_state> state,
               std::shared_ptr<void> lease)
      : stream_(std::move(stream)), state_(std::move(state)), lease_(std::move(lease)) {
    boost::beast::error_code ec;
    auto endpoint = boost::beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec)
      remote_address_ = endpoint.address().to_string();
  }

  void start() {
    boost::asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (is_tls) {
        boost::beast::get_lowest_layer(self->stream_)
            .expires_after(self->state_->options.read_timeout);
        self->stream_.async_handshake(boost::asio::ssl::stream_base::server,
                                      [self](boost::beast::error_code ec) {
                                        if (!ec)
                                          self->do_read();
                                      });
      } else {
        self->do_read();
      }
    });
  }

 private:
  static constexpr bool is_tls = !std::is_same_v<Stream, boost::beast::tcp_stream>;

  void do_read() {
    namespace http = boost::beast::http;
    parser_.emplace();
    parser_->body_limit(state_->options.max_body_bytes);
    boost::beast::get_lowest_layer(stream_).expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(boost::beast::error_code ec) {
    namespace http = boost::beast::http;
    if (ec == http::error::end_of_stream || ec == boost::beast::error::timeout)
      return do_close();
    if (ec == http::error::body_limit) {
      return write(http_response::text(413, "request body too large\n"), 11, false);
    }
    if (ec)
      return;  // reset or garbage: nothing useful to answer
    auto& request = parser_->get();
    if (boost::beast::websocket::is_upgrade(request))
      return upgrade(parser_->release());
    const auto converted = to_http_request(request, remote_address_);
    if (state_->routes.on_request_async) {
      // The answer comes later, from any thread: back onto this session's executor to write.
      http_responder respond = [self = this->shared_from_this(), version = request.version(),
                                keep_alive = request.keep_alive()](http_response response) {
        boost::asio::post(self->stream_.get_executor(),
                          [self, response = std::move(response), version, keep_alive] {
                            self->write(response, version, keep_alive);
                          });
      };
      if (state_->routes.on_request_async(converted, respond))
        return;
    }
    http_response response = state_->routes.on_request ? state_->routes.on_request(converted)
                                                       : http_response::text(404, "not found\n");
    write(response, request.version(), request.keep_alive());
  }

  void upgrade(boost::beast::http::request<boost::beast::http::string_body> request) {
    websocket_upgrade_decision decision =
        state_->routes.on_upgrade
            ? state_->routes.on_upgrade(to_http_request(request, remote_address_))
            : websocket_upgrade_decision::refused(http_response::text(404, "not found\n"));
    if (!decision.accept)
      return write(decision.refusal, request.version(), false);

    using session_type = websocket_session<Stream>;
    auto session = std::make_shared<session_type>(std::move(stream_), std::move(decision.accept),
                                                  state_->options.websocket);
    session->hold(std::move(lease_));
    session->stream().set_option(boost::beast::websocket::stream_base::decorator(
        [](boost::beast::websocket::response_type& response) {
          response.set(boost::beast::http::field::server, "switchboard");
        }));
    // Keep the request alive until the handshake completes: async_accept reads from it.
    auto held = std::make_shared<boost::beast::http::request<boost::beast::http::string_body>>(
        std::move(request));
    session->stream().async_accept(*held, [session, held](boost::beast::error_code ec) {
      if (ec)
        return session->handshake_failed("websocket accept failed: " + ec.message());
      session->opened();
    });
  }

  void write(const http_response& response, unsigned version, bool keep_alive) {
    namespace http = boost::beast::http;
    response_ = to_beast_response(response, version, keep_alive);
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this(), keep_alive](boost::beast::error_code ec, std::size_t) {
          if (ec || !keep_alive)
            return self->do_close();
          self->do_read();
        });
  }

  void do_close() {
    if constexpr (is_tls) {
      boost::beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](boost::beast::error_code) {});
    } else {
      boost::beast::error_code ec;
      stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    }
  }

  using request_parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  Stream stream_;
  std::shared_ptr<const http_server_state> state_;
  boost::beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::string remote_address_;
  std::shared_ptr<void> lease_;  // the shard's count of this connection (net/io_shards.hpp)
};

/// Start a session on an accepted socket; defined in http_server.cpp / http_server_tls.cpp.
void start_plain_http_session(boost::asio::ip::tcp::socket socket,
                              std::shared_ptr<const http_server_state> state,
                              std::shared_ptr<void> lease);
void start_tls_http_session(boost::asio::ip::tcp::socket socket,
                            std::shared_ptr<const http_server_state> state,
                            std::shared_ptr<void> lease);

}  // namespace switchboard::net::detail
