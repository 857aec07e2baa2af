#pragma once
// Per-call tokens. The media-stream upgrade's X-Twilio-Signature is the same for every call
// (the wss:// URL with no parameters), so a captured upgrade could be replayed. The webhook
// therefore issues a token bound to the CallSid and valid for a few minutes; it travels as a
// TwiML <Parameter> and comes back in the stream's `start.customParameters`.
//
// Stateless: token = "<expiry unix seconds>.<base64url HMAC-SHA256(key, CallSid | expiry)>", so
// any node that knows the key can check a token issued by another (the cluster's any-node
// answer). The key is derived from TWILIO_AUTH_TOKEN, or random per process without one.

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

class call_token_issuer {
 public:
  /// Key derived from a shared secret (HMAC-SHA256(secret, "switchboard call token")).
  static call_token_issuer from_secret(std::string_view secret);
  /// A random key: tokens verify on this process only.
  static call_token_issuer with_random_key();

  std::string issue(std::string_view call_sid, std::chrono::system_clock::time_point now,
                    std::chrono::seconds validity = std::chrono::minutes(5)) const;

  /// Empty string when valid, else why not (for the log; never echo it to the peer).
  std::string check(std::string_view token, std::string_view call_sid,
                    std::chrono::system_clock::time_point now) const;

 private:
  explicit call_token_issuer(std::vector<std::uint8_t> key) : key_(std::move(key)) {}
  std::string mac(std::string_view call_sid, std::string_view expiry) const;

  std::vector<std::uint8_t> key_;
};

}  // namespace switchboard::net
