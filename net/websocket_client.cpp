#include "net/websocket_client.hpp"

#include "net/detail/websocket_connector_api.hpp"

namespace switchboard::net {

boost::system::result<websocket_url, std::string> parse_websocket_url(std::string_view url) {
  return split_endpoint_url(url, "ws", "wss");
}

void connect_websocket(boost::asio::io_context& io, websocket_client_options options,
                       std::shared_ptr<websocket_handler> handler) {
  auto url = parse_websocket_url(options.url);
  if (!url)
    return handler->on_connect_failed({url.error(), 0});
  if (url->secure) {
    if (!options.tls)
      return handler->on_connect_failed({"wss:// needs a TLS context", 0});
    return detail::connect_tls_websocket(io, std::move(*url), std::move(options),
                                         std::move(handler));
  }
  detail::connect_plain_websocket(io, std::move(*url), std::move(options), std::move(handler));
}

}  // namespace switchboard::net
