#include "hostile_client.hpp"

#include "net/base64.hpp"
#include "net/http_client.hpp"
#include "net/twiml.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <filesystem>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <random>
#include <sys/socket.h>
#include <unistd.h>

namespace switchboard::testing {

namespace {

std::string hex_digits(std::size_t count) {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(digits[generator() % 16]);
  return out;
}

/// "wss://127.0.0.1:5050/media-stream" → "127.0.0.1:5050".
std::string host_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  REQUIRE(scheme_end != std::string_view::npos);
  const auto host_start = scheme_end + 3;
  const auto path_start = url.find('/', host_start);
  return std::string(url.substr(host_start, path_start - host_start));
}

std::string webhook_url(bridge_harness& harness) {
  return "http://127.0.0.1:" + std::to_string(harness.server().port()) + "/incoming-call";
}

}  // namespace

// ---- raw_connection -------------------------------------------------------------------------

raw_connection::raw_connection(std::uint16_t port, options given) : options_(given) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  if (options_.receive_buffer_bytes > 0) {
    REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options_.receive_buffer_bytes,
                         sizeof options_.receive_buffer_bytes) == 0);
  }
  const timeval limit{static_cast<time_t>(options_.read_limit.count()), 0};
  REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0);
  REQUIRE(::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0);
  const int no_delay = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &no_delay, sizeof no_delay);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
}

raw_connection::~raw_connection() {
  close();
}

bool raw_connection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR)
      continue;
    if (sent <= 0)
      return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::string raw_connection::receive(std::size_t max) {
  if (!buffered_.empty()) {
    const auto count = std::min(max, buffered_.size());
    std::string out = buffered_.substr(0, count);
    buffered_.erase(0, count);
    return out;
  }
  std::string out(max, '\0');
  for (;;) {
    const auto got = ::recv(fd_, out.data(), out.size(), 0);
    if (got < 0 && errno == EINTR)
      continue;
    out.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return out;
  }
}

std::optional<std::string> raw_connection::receive_exact(std::size_t count) {
  std::string out;
  while (out.size() < count) {
    auto more = receive(count - out.size());
    if (more.empty())
      return std::nullopt;
    out += more;
  }
  return out;
}

std::string raw_connection::receive_http_head() {
  std::string head;
  for (;;) {
    if (const auto end = head.find("\r\n\r\n"); end != std::string::npos) {
      buffered_ = head.substr(end + 4) + buffered_;
      head.resize(end + 4);
      return head;
    }
    auto more = receive();
    if (more.empty())
      return {};
    head += more;
  }
}

std::optional<std::uint64_t> raw_connection::drain_until_closed() {
  std::uint64_t total = buffered_.size();
  buffered_.clear();
  std::array<char, 64 * 1024> sink{};
  for (;;) {
    const auto got = ::recv(fd_, sink.data(), sink.size(), 0);
    if (got > 0) {
      total += static_cast<std::uint64_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return std::nullopt;  // the read limit passed: the server kept the connection open
    return total;           // EOF, or a reset
  }
}

bool raw_connection::wait_readable() {
  if (!buffered_.empty())
    return true;
  pollfd waiting{fd_, POLLIN, 0};
  const int ready = ::poll(&waiting, 1, static_cast<int>(options_.read_limit.count() * 1000));
  if (ready != 1)
    return false;
  char byte = 0;
  return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

bool raw_connection::readable_now() {
  if (!buffered_.empty())
    return true;
  pollfd waiting{fd_, POLLIN, 0};
  return ::poll(&waiting, 1, 0) == 1;
}

void raw_connection::stop_reading() {
  ::shutdown(fd_, SHUT_RD);
}

void raw_connection::reset() {
  if (fd_ < 0)
    return;
  const linger abortive{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
  ::close(fd_);
  fd_ = -1;
}

void raw_connection::close() {
  if (fd_ < 0)
    return;
  ::close(fd_);
  fd_ = -1;
}

// ---- WebSocket frames -----------------------------------------------------------------------

std::string websocket_frame(std::uint8_t opcode, std::string_view payload, frame_shape shape) {
  std::string frame;
  frame.push_back(
      static_cast<char>((shape.fin ? 0x80 : 0x00) | ((shape.rsv & 0x7) << 4) | (opcode & 0x0F)));
  const std::uint8_t mask_bit = shape.masked ? 0x80 : 0x00;
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      frame.push_back(
          static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> shift) & 0xFF));
  }
  if (!shape.masked) {
    frame.append(payload);
    return frame;
  }
  // Any key will do; a fixed one keeps failures reproducible.
  static constexpr std::array<std::uint8_t, 4> key{0x37, 0xfa, 0x21, 0x3d};
  frame.append(reinterpret_cast<const char*>(key.data()), key.size());
  const auto start = frame.size();
  frame.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i)
    frame[start + i] = static_cast<char>(static_cast<std::uint8_t>(frame[start + i]) ^ key[i % 4]);
  return frame;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return websocket_frame(ws_opcode::close, payload);
}

std::optional<server_frame> receive_frame(raw_connection& connection) {
  const auto header = connection.receive_exact(2);
  if (!header)
    return std::nullopt;
  server_frame frame;
  frame.opcode = static_cast<std::uint8_t>((*header)[0]) & 0x0F;
  const bool masked = (static_cast<std::uint8_t>((*header)[1]) & 0x80) != 0;
  std::uint64_t length = static_cast<std::uint8_t>((*header)[1]) & 0x7F;
  if (length >= 126) {
    const auto extended = connection.receive_exact(length == 126 ? 2 : 8);
    if (!extended)
      return std::nullopt;
    length = 0;
    for (const char byte : *extended)
      length = (length << 8) | static_cast<std::uint8_t>(byte);
  }
  if (masked && !connection.receive_exact(4))  // servers do not mask; skip a key if one did
    return std::nullopt;
  auto payload = connection.receive_exact(static_cast<std::size_t>(length));
  if (!payload)
    return std::nullopt;
  frame.payload = std::move(*payload);
  return frame;
}

std::optional<std::uint16_t> receive_close_code(raw_connection& connection) {
  while (auto frame = receive_frame(connection)) {
    if (frame->opcode != ws_opcode::close)
      continue;
    if (frame->payload.size() < 2)
      return 1005;  // RFC 6455 §7.1.5: no status code was present
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(frame->payload[0]) << 8) |
                                      static_cast<std::uint8_t>(frame->payload[1]));
  }
  return std::nullopt;
}

// ---- a Twilio media stream ------------------------------------------------------------------

std::string random_sid(std::string_view prefix) {
  return std::string(prefix) + hex_digits(32);
}

stream_ticket answer_webhook(bridge_harness& harness, twilio_identity call) {
  const std::vector<net::form_parameter> parameters = {
      {"AccountSid", call.account_sid}, {"ApiVersion", "2010-04-01"}, {"CallSid", call.call_sid},
      {"CallStatus", "ringing"},        {"Called", call.to},          {"Caller", call.from},
      {"Direction", "inbound"},         {"From", call.from},          {"To", call.to},
  };
  net::http_client_request request;
  request.method = "POST";
  request.headers = {
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"X-Twilio-Signature",
       net::compute_twilio_signature(harness.auth_token(), webhook_url(harness), parameters)},
  };
  request.body = net::encode_form_body(parameters);
  const auto answer = harness.send(harness.server().port(), "/incoming-call", std::move(request));
  REQUIRE(answer.status == 200);
  auto twiml = net::parse_connect_stream_twiml(answer.body);
  REQUIRE(twiml.has_value());
  return {std::move(call), answer.body, std::move(twiml->url), std::move(twiml->parameters)};
}

std::string upgrade_request(const bridge_harness& harness, const stream_ticket& ticket, bool sign) {
  std::string request = "GET /media-stream HTTP/1.1\r\nHost: " + host_of(ticket.stream_url) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\nUser-Agent: Twilio.TmeWs/1.0\r\n";
  if (sign) {
    request += "X-Twilio-Signature: " +
               net::compute_twilio_signature(harness.auth_token(), ticket.stream_url, {}) + "\r\n";
  }
  return request + "\r\n";
}

std::unique_ptr<raw_connection> open_stream(bridge_harness& harness, const stream_ticket& ticket,
                                            raw_connection::options given) {
  auto connection = std::make_unique<raw_connection>(harness.server().port(), given);
  REQUIRE(connection->send(upgrade_request(harness, ticket)));
  const auto head = connection->receive_http_head();
  REQUIRE(head.starts_with("HTTP/1.1 101"));
  return connection;
}

std::unique_ptr<raw_connection> start_stream(bridge_harness& harness, const stream_ticket& ticket,
                                             raw_connection::options given) {
  auto connection = open_stream(harness, ticket, given);
  REQUIRE(connection->send(text_frame(connected_message()) + text_frame(start_message(ticket))));
  return connection;
}

std::string connected_message() {
  return boost::json::serialize(
      boost::json::object{{"event", "connected"}, {"protocol", "Call"}, {"version", "1.0.0"}});
}

std::string start_message(const stream_ticket& ticket, std::uint64_t sequence_number) {
  boost::json::object custom;
  for (const auto& parameter : ticket.parameters)
    custom[parameter.name] = parameter.value;
  boost::json::object start{
      {"accountSid", ticket.call.account_sid},
      {"callSid", ticket.call.call_sid},
      {"streamSid", ticket.call.stream_sid},
      {"tracks", boost::json::array{"inbound"}},
      {"mediaFormat",
       boost::json::object{{"encoding", "audio/x-mulaw"}, {"sampleRate", 8000}, {"channels", 1}}},
      {"customParameters", std::move(custom)},
  };
  return boost::json::serialize(boost::json::object{
      {"event", "start"},
      {"sequenceNumber", std::to_string(sequence_number)},
      {"streamSid", ticket.call.stream_sid},
      {"start", std::move(start)},
  });
}

std::string media_message(const stream_ticket& ticket, std::uint64_t sequence_number,
                          std::uint64_t chunk, std::uint64_t timestamp_ms,
                          std::string_view payload) {
  return boost::json::serialize(boost::json::object{
      {"event", "media"},
      {"sequenceNumber", std::to_string(sequence_number)},
      {"streamSid", ticket.call.stream_sid},
      {"media", boost::json::object{{"track", "inbound"},
                                    {"chunk", std::to_string(chunk)},
                                    {"timestamp", std::to_string(timestamp_ms)},
                                    {"payload", payload}}},
  });
}

std::string stop_message(const stream_ticket& ticket, std::uint64_t sequence_number) {
  return boost::json::serialize(boost::json::object{
      {"event", "stop"},
      {"sequenceNumber", std::to_string(sequence_number)},
      {"streamSid", ticket.call.stream_sid},
      {"stop", boost::json::object{{"accountSid", ticket.call.account_sid},
                                   {"callSid", ticket.call.call_sid}}},
  });
}

const std::string& silence_payload() {
  static const std::string payload = [] {
    const std::vector<std::uint8_t> silence(160, 0xFF);
    return net::encode_base64(silence);
  }();
  return payload;
}

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++count;
  return count;
}

}  // namespace switchboard::testing
