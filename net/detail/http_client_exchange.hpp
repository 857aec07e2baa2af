#pragma once
// Internal to net/: one outgoing HTTP request over a Beast stream (plain TCP or TLS): resolve,
// connect, (TLS handshake), write, read, close. Included only by http_client_plain.cpp and
// http_client_tls.cpp, each of which instantiates it for one stream type.
//
// Everything runs on one strand: the resolver, the stream and the deadline timer share it, so
// the timer can cancel whichever operation is pending without a data race.

#include "net/detail/http_client_api.hpp"
#include "net/http_client.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace switchboard::net::detail {

using http_client_strand = boost::asio::strand<boost::asio::io_context::executor_type>;

template <class Stream>
class http_client_exchange : public std::enable_shared_from_this<http_client_exchange<Stream>> {
 public:
  http_client_exchange(http_client_strand strand, Stream&& stream, http_url url,
                       http_client_request request, std::function<void(http_client_result)> done)
      : strand_(strand),
        resolver_(strand),
        timer_(strand),
        stream_(std::move(stream)),
        url_(std::move(url)),
        request_(std::move(request)),
        done_(std::move(done)) {}

  void start() {
    boost::asio::dispatch(strand_, [self = this->shared_from_this()] { self->begin(); });
  }

 private:
  void begin() {
    // One deadline for the whole exchange: a server that accepts and never answers must not
    // hold the caller forever.
    timer_.expires_after(request_.timeout);
    timer_.async_wait([self = this->shared_from_this()](boost::beast::error_code ec) {
      if (ec || self->finished_)
        return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      boost::beast::get_lowest_layer(self->stream_).cancel();
    });
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = this->shared_from_this()](boost::beast::error_code ec,
                                          boost::asio::ip::tcp::resolver::results_type results) {
          if (ec)
            return self->fail("resolve " + self->url_.host, ec);
          self->on_resolve(results);
        });
  }

  void on_resolve(const boost::asio::ip::tcp::resolver::results_type& results) {
    auto& tcp = boost::beast::get_lowest_layer(stream_);
    tcp.async_connect(results,
                      [self = this->shared_from_this()](boost::beast::error_code ec,
                                                        const boost::asio::ip::tcp::endpoint&) {
                        if (ec)
                          return self->fail("connect to " + self->authority(), ec);
                        self->on_connect();
                      });
  }

  /// Defined per stream type: plain goes straight to write(); TLS first sets SNI and host-name
  /// verification and runs the handshake.
  void on_connect();

  void write() {
    namespace http = boost::beast::http;
    const auto verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) {
      message_.method_string(request_.method);
    } else {
      message_.method(verb);
    }
    message_.target(url_.target);
    message_.version(11);
    message_.set(http::field::host, host_header());
    message_.set(http::field::user_agent, "switchboard");
    message_.keep_alive(false);
    for (const auto& [name, value] : request_.headers)
      message_.set(name, value);
    message_.body() = std::move(request_.body);
    message_.prepare_payload();
    http::async_write(stream_, message_,
                      [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                        if (ec)
                          return self->fail("send request to " + self->authority(), ec);
                        self->read();
                      });
  }

  void read() {
    namespace http = boost::beast::http;
    parser_.body_limit(request_.max_response_body_bytes);
    http::async_read(stream_, buffer_, parser_,
                     [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                       if (ec)
                         return self->fail("read response from " + self->authority(), ec);
                       self->on_response();
                     });
  }

  void on_response() {
    auto& message = parser_.get();
    http_client_response response;
    response.status = message.result_int();
    for (const auto& field : message) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());
    finish(std::move(response));
    close();
  }

  void fail(const std::string& what, boost::beast::error_code ec) {
    if (timed_out_) {
      finish(http_client_result(
          boost::system::in_place_error,
          what + ": timed out after " + std::to_string(request_.timeout.count()) + " ms"));
    } else {
      finish(http_client_result(boost::system::in_place_error, what + ": " + ec.message()));
    }
    boost::beast::error_code ignored;
    boost::beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  void finish(http_client_result result) {
    if (finished_)
      return;
    finished_ = true;
    timer_.cancel();
    auto done = std::move(done_);
    done(std::move(result));
  }

  /// Defined per stream type: TLS sends close_notify, plain shuts the socket down.
  void close();

  std::string authority() const { return url_.host + ":" + url_.port; }

  /// RFC 7230 §5.4: the port only when it is not the scheme's default; IPv6 in brackets.
  std::string host_header() const {
    std::string host = url_.host.find(':') == std::string::npos ? url_.host : "[" + url_.host + "]";
    const bool default_port = url_.port == (url_.secure ? "443" : "80");
    return default_port ? host : host + ":" + url_.port;
  }

  http_client_strand strand_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  Stream stream_;
  http_url url_;
  http_client_request request_;
  std::function<void(http_client_result)> done_;
  boost::beast::http::request<boost::beast::http::string_body> message_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser_;
  bool timed_out_ = false;
  bool finished_ = false;
};

}  // namespace switchboard::net::detail
