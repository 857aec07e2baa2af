// wss:// client connections: SNI, certificate chain and host-name verification, then the
// WebSocket handshake over TLS. Its own TU: the TLS instantiations cost the most to compile.
#include "net/detail/tls_client.hpp"
#include "net/detail/tls_impl.hpp"
#include "net/detail/websocket_connector.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>

namespace switchboard::net::detail {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <>
void websocket_connector<tls_stream>::on_connect() {
  if (auto ec = prepare_tls_client(stream_, url_.host))
    return fail("TLS set-up for " + url_.host, ec);
  stream_.async_handshake(boost::asio::ssl::stream_base::client,
                          [self = shared_from_this()](boost::beast::error_code ec) {
                            if (ec)
                              return self->fail("TLS handshake with " + self->url_.host, ec);
                            self->websocket_handshake();
                          });
}

void connect_tls_websocket(boost::asio::io_context& io, websocket_url url,
                           websocket_client_options options,
                           std::shared_ptr<websocket_handler> handler) {
  using connector = websocket_connector<tls_stream>;
  auto& context = options.tls->native().context;
  std::make_shared<connector>(io, tls_stream(connection_executor(io), context), std::move(url),
                              std::move(options), std::move(handler))
      ->start();
}

}  // namespace switchboard::net::detail
