#pragma once
// Hostile peers for tests/app/test_hostile_clients.cpp: a blocking TCP connection that sends
// exactly the bytes it is given (partial requests, hand-made WebSocket frames) and can end with
// a TCP reset, and the steps of a signed Twilio media stream (webhook answer, upgrade, `start`,
// `media`) done by hand, so that each can be broken, repeated or cut short.
//
// Plain POSIX sockets rather than Asio: SO_LINGER 0, SO_RCVBUF before connect, shutdown(SHUT_RD)
// and reading from one thread while another writes are what these peers are about.

#include "bridge_harness.hpp"
#include "net/twilio_signature.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::testing {

class raw_connection {
 public:
  struct options {
    /// SO_RCVBUF, set before connecting so that the window the peer advertises stays this small
    /// (a slow reader); 0: the system default.
    int receive_buffer_bytes = 0;
    /// A read or write blocked this long fails: a broken server then fails the test instead of
    /// hanging it. Never used to wait for the server to do something.
    std::chrono::seconds read_limit{30};
  };

  /// Connects to 127.0.0.1:port (REQUIREs success).
  raw_connection(std::uint16_t port, options given);
  explicit raw_connection(std::uint16_t port) : raw_connection(port, options{}) {}
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Sends every byte; false once the peer is gone (EPIPE, ECONNRESET) or at the limit.
  bool send(std::string_view bytes);
  /// Whatever arrives next (at most `max` bytes); empty at EOF, a reset or the read limit.
  std::string receive(std::size_t max = 64 * 1024);
  /// Exactly `count` bytes; nullopt when the connection ends first.
  std::optional<std::string> receive_exact(std::size_t count);
  /// An HTTP response head, up to and including its blank line; "" when the connection ends
  /// first. Bytes after the head stay buffered for the next receive.
  std::string receive_http_head();
  /// Reads and discards until the server ends the connection (EOF or reset): the bytes read,
  /// or nullopt when the read limit passed first (the server never closed it).
  std::optional<std::uint64_t> drain_until_closed();
  /// Blocks until bytes wait to be read, without reading them; false at the read limit or when
  /// the connection ended.
  bool wait_readable();
  /// Whether bytes, an EOF or a reset wait to be read right now (never blocks).
  bool readable_now();
  /// Wakes a reader blocked on another thread (its read returns EOF); nothing goes on the wire.
  void stop_reading();
  /// Closes with a TCP reset (SO_LINGER 0): what a crashed or unplugged peer looks like.
  void reset();
  /// Closes normally (FIN).
  void close();

 private:
  int fd_ = -1;
  options options_;
  std::string buffered_;  // read past an HTTP head
};

// ---- WebSocket frames, by hand (RFC 6455 §5.2) ----------------------------------------------

namespace ws_opcode {
inline constexpr std::uint8_t continuation = 0x0;
inline constexpr std::uint8_t text = 0x1;
inline constexpr std::uint8_t binary = 0x2;
inline constexpr std::uint8_t close = 0x8;
inline constexpr std::uint8_t ping = 0x9;
}  // namespace ws_opcode

struct frame_shape {
  bool fin = true;
  bool masked = true;    // a client must mask; false is a protocol error
  std::uint8_t rsv = 0;  // the three RSV bits (0-7); non-zero without an extension is an error
};

/// One frame as a client sends it.
std::string websocket_frame(std::uint8_t opcode, std::string_view payload, frame_shape shape = {});
inline std::string text_frame(std::string_view payload) {
  return websocket_frame(ws_opcode::text, payload);
}
/// A close frame with a status code and reason.
std::string close_frame(std::uint16_t code, std::string_view reason = {});

struct server_frame {
  std::uint8_t opcode = 0;
  std::string payload;
};
/// The next frame the server sent; nullopt when the connection ended.
std::optional<server_frame> receive_frame(raw_connection& connection);
/// Reads frames until the server's close frame: its status code (1005 for a close without one),
/// or nullopt when the connection ended without a close frame.
std::optional<std::uint16_t> receive_close_code(raw_connection& connection);

// ---- a Twilio media stream, by hand ---------------------------------------------------------

/// prefix + 32 lower-case hex digits, as Twilio's SIDs.
std::string random_sid(std::string_view prefix);

struct twilio_identity {
  std::string account_sid = random_sid("AC");
  std::string call_sid = random_sid("CA");
  std::string stream_sid = random_sid("MZ");
  std::string from = "+15005550006";
  std::string to = "+15005550001";
};

/// What the bridge's webhook answer gives a stream: where to connect and what to send back.
struct stream_ticket {
  twilio_identity call;
  std::string twiml;       // the answer as it came
  std::string stream_url;  // <Stream url>, e.g. wss://127.0.0.1:5050/media-stream
  std::vector<net::form_parameter> parameters;  // its <Parameter>s (the call token among them)
};

/// POSTs the voice webhook as Twilio would (signed) and reads the TwiML (REQUIREs a 200).
stream_ticket answer_webhook(bridge_harness& harness, twilio_identity call = {});

/// The upgrade request for the ticket's stream, signed as Twilio signs it unless `sign` is off.
std::string upgrade_request(const bridge_harness& harness, const stream_ticket& ticket,
                            bool sign = true);

/// Connects, upgrades and reads the 101 (REQUIREs it). Nothing is sent on the stream.
std::unique_ptr<raw_connection> open_stream(bridge_harness& harness, const stream_ticket& ticket,
                                            raw_connection::options given = {});
/// Also sends `connected` and `start` (with the ticket's parameters): a call that has begun.
std::unique_ptr<raw_connection> start_stream(bridge_harness& harness, const stream_ticket& ticket,
                                             raw_connection::options given = {});

std::string connected_message();
std::string start_message(const stream_ticket& ticket, std::uint64_t sequence_number = 1);
/// `media` with the given payload text as is (a hostile one need not be base64).
std::string media_message(const stream_ticket& ticket, std::uint64_t sequence_number,
                          std::uint64_t chunk, std::uint64_t timestamp_ms,
                          std::string_view payload);
std::string stop_message(const stream_ticket& ticket, std::uint64_t sequence_number);
/// 20 ms of μ-law silence, base64.
const std::string& silence_payload();

/// Entries in /proc/self/fd.
std::size_t open_descriptors();

}  // namespace switchboard::testing
