#pragma once
// Opens client WebSocket connections (ws:// or wss://) — the OpenAI Realtime session and the
// simulated Twilio caller use it. Non-template; Beast lives in websocket_client_{plain,tls}.cpp.

#include "net/tls.hpp"
#include "net/url.hpp"
#include "net/websocket.hpp"

#include <boost/system/result.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {

struct websocket_client_options {
  std::string url;  // ws://host[:port]/path?query or wss://...
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  websocket_limits limits;
  std::shared_ptr<tls_context> tls;  // required for wss://: verifies the chain and host name
};

/// Splits a ws:// or wss:// URL; an error names what is wrong with it.
using websocket_url = endpoint_url;
boost::system::result<websocket_url, std::string> parse_websocket_url(std::string_view url);

/// Starts connecting and returns at once. The handler then gets on_open, or on_connect_failed
/// (with the HTTP status when the server refused the upgrade), on an io thread.
void connect_websocket(boost::asio::io_context& io, websocket_client_options options,
                       std::shared_ptr<websocket_handler> handler);

}  // namespace switchboard::net
