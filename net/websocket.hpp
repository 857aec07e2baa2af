#pragma once
// WebSocket connections as the rest of the program sees them, whatever the transport (plain or
// TLS, server or client side). No Beast here: the sessions live in net/*_session TUs.
//
// Threading: a connection's handler is called on the connection's strand (an io thread), one
// call at a time, and must not block; it hands work on by message (anon_send to an actor).
// A websocket_connection may be used from any thread: each call posts to the strand.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::net {

/// RFC 6455 close codes we use.
enum class close_code : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  unsupported_data = 1003,
  policy_violation = 1008,  // e.g. a Twilio stream whose call token does not check out
  too_big = 1009,
  internal_error = 1011,
  try_again_later = 1013,  // e.g. a Twilio stream beyond this node's capacity (MAX_CALLS)
};

class websocket_connection {
 public:
  virtual ~websocket_connection() = default;

  /// Queues a text frame; frames go out in order, one write in flight at a time.
  virtual void send_text(std::string message) = 0;
  /// Starts the closing handshake; frames queued before it are sent first.
  virtual void close(close_code code, std::string reason) = 0;
  /// Drops the TCP connection at once, without a closing handshake (what a network failure
  /// looks like to the peer). For fault injection; queued frames are discarded.
  virtual void abort() = 0;
  /// Peer address for logs ("127.0.0.1:53211").
  virtual std::string remote_endpoint() const = 0;
};

/// Why a connection ended (the handler's last call).
struct websocket_closed {
  bool clean = false;      // a closing handshake happened (either side)
  std::uint16_t code = 0;  // the peer's close code, when it sent one
  std::string reason;      // the peer's reason, or what went wrong locally
};

/// Why a client connection never opened.
struct websocket_connect_failure {
  std::string reason;        // resolver, TCP, TLS or handshake error, in words
  unsigned http_status = 0;  // the status the server answered instead of 101, or 0
};

class websocket_handler {
 public:
  virtual ~websocket_handler() = default;

  /// The connection is open. Keep a weak_ptr: the connection owns the handler, not the reverse.
  virtual void on_open(std::shared_ptr<websocket_connection> connection) = 0;
  /// One complete message. `is_text` is false for a binary frame (never valid on the
  /// protocols we speak: count it and drop it).
  virtual void on_message(std::string message, bool is_text) = 0;
  /// The connection is gone; no call follows.
  virtual void on_close(websocket_closed why) = 0;
  /// Client side only: the connection could not be opened; no call follows.
  virtual void on_connect_failed(websocket_connect_failure why) {
    on_close({false, 0, why.reason});
  }
};

/// Limits for one connection.
struct websocket_limits {
  std::size_t max_message_bytes = 64 * 1024;  // Twilio frames are ~0.3 KiB; the cap is 64 KiB
  std::uint32_t handshake_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 30'000;          // pings are sent at half of it; silence closes
  std::size_t max_queued_bytes = 4 * 1024 * 1024;  // a peer that stops reading is cut off
};

}  // namespace switchboard::net
