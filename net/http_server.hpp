#pragma once
// The HTTP listener: accepts connections and serves each with an asynchronous Beast session on
// the io_context's threads; WebSocket upgrades become websocket connections on the same socket.
// Non-template interface: Beast stays inside net/http_server*.cpp.

#include "net/http_types.hpp"
#include "net/tls.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {

class io_shards;

class http_server {
 public:
  /// Binds and starts accepting; with `tls`, every connection is TLS (https:// and wss://).
  /// Fails (as a value) when the address cannot be bound.
  static boost::system::result<std::unique_ptr<http_server>, std::string> start(
      boost::asio::io_context& io, http_server_options options, http_routes routes,
      std::shared_ptr<tls_context> tls = nullptr);
  /// The same, accepting on shard 0 and placing each connection on the shard with the fewest
  /// open connections: its handlers, and the actors it spawns, run on that shard's thread.
  static boost::system::result<std::unique_ptr<http_server>, std::string> start(
      io_shards& shards, http_server_options options, http_routes routes,
      std::shared_ptr<tls_context> tls = nullptr);

  virtual ~http_server() = default;

  /// The bound port (useful with port 0).
  virtual std::uint16_t port() const = 0;
  /// Stops accepting; connections already open go on until they end.
  virtual void stop() = 0;
};

}  // namespace switchboard::net
