#pragma once
// Internal to net/: resolve, connect, (TLS handshake), WebSocket handshake, then hand the
// stream to a websocket_session. Instantiated once per stream type in its own TU.

#include "net/detail/websocket_connector_api.hpp"
#include "net/detail/websocket_session.hpp"
#include "net/io_shards.hpp"
#include "net/websocket_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <string>

namespace switchboard::net::detail {

template <class Stream>
class websocket_connector : public std::enable_shared_from_this<websocket_connector<Stream>> {
 public:
  using session_type = websocket_session<Stream>;

  websocket_connector(boost::asio::io_context& io, Stream&& stream, websocket_url url,
                      websocket_client_options options, std::shared_ptr<websocket_handler> handler)
      : resolver_(connection_executor(io)),
        stream_(std::move(stream)),
        url_(std::move(url)),
        options_(std::move(options)),
        handler_(std::move(handler)) {}

  void start() {
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = this->shared_from_this()](boost::beast::error_code ec,
                                          boost::asio::ip::tcp::resolver::results_type results) {
          if (ec)
            return self->fail("resolve " + self->url_.host, ec);
          self->on_resolve(results);
        });
  }

 private:
  void on_resolve(const boost::asio::ip::tcp::resolver::results_type& results) {
    auto& tcp = boost::beast::get_lowest_layer(stream_);
    tcp.expires_after(std::chrono::milliseconds(options_.limits.handshake_timeout_ms));
    tcp.async_connect(
        results, [self = this->shared_from_this()](boost::beast::error_code ec,
                                                   const boost::asio::ip::tcp::endpoint&) {
          if (ec)
            return self->fail("connect to " + self->url_.host + ":" + self->url_.port, ec);
          boost::beast::error_code ignored;
          boost::beast::get_lowest_layer(self->stream_)
              .socket()
              .set_option(boost::asio::ip::tcp::no_delay(true), ignored);
          self->on_connect();
        });
  }

  /// Defined per stream type: plain goes straight to the WebSocket handshake; TLS first sets
  /// SNI and host-name verification and runs the TLS handshake.
  void on_connect();

  void websocket_handshake() {
    namespace websocket = boost::beast::websocket;
    session_ = std::make_shared<session_type>(std::move(stream_), handler_, options_.limits);
    auto headers = options_.headers;
    session_->stream().set_option(
        websocket::stream_base::decorator([headers](websocket::request_type& request) {
          request.set(boost::beast::http::field::user_agent, "switchboard");
          for (const auto& [name, value] : headers)
            request.set(name, value);
        }));
    // The Host header carries the port when it is not the scheme's default (RFC 7230 §5.4).
    const bool default_port = url_.port == (url_.secure ? "443" : "80");
    const std::string host = default_port ? url_.host : url_.host + ":" + url_.port;
    session_->stream().async_handshake(
        handshake_response_, host, url_.target,
        [self = this->shared_from_this()](boost::beast::error_code ec) {
          if (ec) {
            const unsigned status = self->handshake_response_.result_int();
            return self->fail_with_status(
                "websocket handshake with " + self->url_.host, ec,
                ec == boost::beast::websocket::error::upgrade_declined ? status : 0u);
          }
          self->session_->opened();
        });
  }

  void fail(const std::string& what, boost::beast::error_code ec) { fail_with_status(what, ec, 0); }

  void fail_with_status(const std::string& what, boost::beast::error_code ec, unsigned status) {
    std::string reason = what + ": " + ec.message();
    if (status != 0)
      reason += " (HTTP " + std::to_string(status) + ")";
    handler_->on_connect_failed({std::move(reason), status});
  }

  boost::asio::ip::tcp::resolver resolver_;
  Stream stream_;
  websocket_url url_;
  websocket_client_options options_;
  std::shared_ptr<websocket_handler> handler_;
  std::shared_ptr<session_type> session_;
  boost::beast::websocket::response_type handshake_response_;
};

}  // namespace switchboard::net::detail
