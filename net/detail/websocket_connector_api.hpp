#pragma once
// Internal to net/: the per-transport connect functions, without Beast.

#include "net/websocket_client.hpp"

#include <memory>

namespace switchboard::net::detail {

void connect_plain_websocket(boost::asio::io_context& io, websocket_url url,
                             websocket_client_options options,
                             std::shared_ptr<websocket_handler> handler);
void connect_tls_websocket(boost::asio::io_context& io, websocket_url url,
                           websocket_client_options options,
                           std::shared_ptr<websocket_handler> handler);

}  // namespace switchboard::net::detail
