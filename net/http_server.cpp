// The listener and the plain-TCP HTTP/WebSocket sessions.
#include "net/http_server.hpp"

#include "net/detail/http_session.hpp"
#include "net/io_shards.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>

namespace switchboard::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace detail {

void start_plain_http_session(tcp::socket socket, std::shared_ptr<const http_server_state> state,
                              std::shared_ptr<void> lease) {
  std::make_shared<http_session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)),
                                                    std::move(state), std::move(lease))
      ->start();
}

}  // namespace detail

namespace {

// Owns the acceptor; shared with its pending accept so that neither outlives the other.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Accepts on `io`; each connection lives on `io` too, or, with `shards`, on the shard that
  /// has the fewest open connections.
  listener(asio::io_context& io, io_shards* shards,
           std::shared_ptr<const detail::http_server_state> state)
      : io_(io), shards_(shards), acceptor_(asio::make_strand(io)), state_(std::move(state)) {}

  boost::system::result<std::uint16_t, std::string> listen() {
    const auto& options = state_->options;
    beast::error_code ec;
    auto address = asio::ip::make_address(options.bind_address, ec);
    if (ec)
      return "bind address '" + options.bind_address + "': " + ec.message();
    const tcp::endpoint endpoint{address, options.port};
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
      acceptor_.bind(endpoint, ec);
    if (!ec)
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return "cannot listen on " + options.bind_address + ":" + std::to_string(options.port) +
             ": " + ec.message();
    }
    const auto port = acceptor_.local_endpoint().port();
    do_accept();
    return port;
  }

  void stop() {
    // The acceptor belongs to its strand: close it there, never from another thread while
    // async_accept runs (build-stack.md §8, found by TSan).
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  void do_accept() {
    // The shard is chosen before the connection arrives: the socket is created on its
    // io_context, and every handler of the connection runs there from the start.
    auto placed = shards_ != nullptr ? shards_->place_connection()
                                     : io_shards::placement{io_, std::shared_ptr<void>()};
    acceptor_.async_accept(
        connection_executor(placed.io),
        [self = shared_from_this(), lease = std::move(placed.lease)](beast::error_code ec,
                                                                     tcp::socket socket) mutable {
          if (ec == asio::error::operation_aborted || !self->acceptor_.is_open())
            return;
          if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);  // 20 ms audio frames: never wait for Nagle
            if (self->state_->tls) {
              detail::start_tls_http_session(std::move(socket), self->state_, std::move(lease));
            } else {
              detail::start_plain_http_session(std::move(socket), self->state_, std::move(lease));
            }
          }
          self->do_accept();
        });
  }

  asio::io_context& io_;
  io_shards* shards_;
  tcp::acceptor acceptor_;
  std::shared_ptr<const detail::http_server_state> state_;
};

class beast_http_server final : public http_server {
 public:
  beast_http_server(std::shared_ptr<listener> accepting, std::uint16_t port)
      : listener_(std::move(accepting)), port_(port) {}
  ~beast_http_server() override { stop(); }

  std::uint16_t port() const override { return port_; }
  void stop() override {
    if (!stopped_.exchange(true))
      listener_->stop();
  }

 private:
  std::shared_ptr<listener> listener_;
  std::uint16_t port_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

namespace {

boost::system::result<std::unique_ptr<http_server>, std::string> start_listener(
    asio::io_context& io, io_shards* shards, http_server_options options, http_routes routes,
    std::shared_ptr<tls_context> tls) {
  auto state = std::make_shared<const detail::http_server_state>(
      detail::http_server_state{std::move(options), std::move(routes), std::move(tls)});
  auto accepting = std::make_shared<listener>(io, shards, std::move(state));
  auto port = accepting->listen();
  if (!port)
    return port.error();
  return std::unique_ptr<http_server>(std::make_unique<beast_http_server>(accepting, *port));
}

}  // namespace

boost::system::result<std::unique_ptr<http_server>, std::string> http_server::start(
    asio::io_context& io, http_server_options options, http_routes routes,
    std::shared_ptr<tls_context> tls) {
  return start_listener(io, nullptr, std::move(options), std::move(routes), std::move(tls));
}

boost::system::result<std::unique_ptr<http_server>, std::string> http_server::start(
    io_shards& shards, http_server_options options, http_routes routes,
    std::shared_ptr<tls_context> tls) {
  return start_listener(shards.shard(0), &shards, std::move(options), std::move(routes),
                        std::move(tls));
}

}  // namespace switchboard::net
