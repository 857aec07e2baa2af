#pragma once
// Plain HTTP request/response values that cross from the Beast sessions (net/*_session.cpp)
// into the rest of the program. No Beast types here, so this header stays cheap to include.

#include "net/websocket.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::net {

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as sent, e.g. "/incoming-call?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;

  /// The first header of that name (ASCII case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
  /// The target without its query string.
  std::string_view path() const;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static http_response text(unsigned status, std::string body);
  static http_response json(unsigned status, std::string body);
};

/// Called on an io thread for every complete request; must not block.
using http_handler = std::function<http_response(const http_request&)>;

/// Sends the answer to a request taken by an async handler: from any thread, exactly once.
using http_responder = std::function<void(http_response)>;
/// Called on an io thread before `http_handler`, for requests whose answer waits on other I/O
/// (e.g. Twilio's REST API): returns true when it takes the request and will answer it through
/// the responder, false to leave it to the plain handler. Must not block.
using async_http_handler = std::function<bool(const http_request&, const http_responder&)>;

/// The answer to a WebSocket upgrade request: a handler for the accepted connection, or a
/// refusal (any HTTP response, e.g. 403) sent before any WebSocket exists.
struct websocket_upgrade_decision {
  std::shared_ptr<websocket_handler> accept;  // non-null: accept with this handler
  http_response refusal;                      // sent when `accept` is null

  static websocket_upgrade_decision accepted(std::shared_ptr<websocket_handler> handler) {
    return {std::move(handler), {}};
  }
  static websocket_upgrade_decision refused(http_response response) {
    return {nullptr, std::move(response)};
  }
};

/// Called on an io thread for every upgrade request; must not block.
using websocket_upgrade_handler = std::function<websocket_upgrade_decision(const http_request&)>;

/// What a server does with requests. Without `on_upgrade`, upgrades are refused with 404.
struct http_routes {
  http_handler on_request;
  websocket_upgrade_handler on_upgrade;
  async_http_handler on_request_async;  // optional; tried before on_request
};

struct http_server_options {
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 0;  // 0: the kernel picks one; read it back with http_server::port()
  std::size_t max_body_bytes = 64 * 1024;
  // A slow or silent client holds a socket and a session; cut it off.
  std::chrono::seconds read_timeout{30};
  websocket_limits websocket;
};

}  // namespace switchboard::net
