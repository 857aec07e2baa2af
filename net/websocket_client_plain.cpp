// ws:// client connections.
#include "net/detail/websocket_connector.hpp"

#include <boost/asio/strand.hpp>

namespace switchboard::net::detail {

template <>
void websocket_connector<boost::beast::tcp_stream>::on_connect() {
  websocket_handshake();
}

void connect_plain_websocket(boost::asio::io_context& io, websocket_url url,
                             websocket_client_options options,
                             std::shared_ptr<websocket_handler> handler) {
  using connector = websocket_connector<boost::beast::tcp_stream>;
  std::make_shared<connector>(io, boost::beast::tcp_stream(connection_executor(io)), std::move(url),
                              std::move(options), std::move(handler))
      ->start();
}

}  // namespace switchboard::net::detail
