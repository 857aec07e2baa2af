#pragma once
// Per-call tokens. The media-stream upgrade's X-Twilio-Signature is the same for every call
// (the wss:// URL with no parameters), so a captured upgrade could be replayed. The webhook
// therefore issues a token bound to the CallSid and valid for a few minutes; it travels as a
// TwiML <Parameter> and comes back in the stream's `start.customParameters`.
//
// token = "<expiry unix seconds>.<base64url HMAC-SHA256(key, call | expiry | From | To)>": the
// MAC also covers the From and To that the same TwiML carries, so a stream cannot reuse a
// token under another caller's number (issue #7: it was then logged as the caller). Any node
// that knows the key can check a token issued by another (the cluster's any-node answer). The
// key is derived from TWILIO_AUTH_TOKEN, or random per process without one.
//
// Single use: a token opens one stream. Twilio never reconnects a Media Stream: when the
// WebSocket drops, the <Connect> ends and Twilio moves on to the next TwiML (or hangs up), so a
// second `start` with a spent token is a replay, never a legitimate reconnect. The ledger of
// spent tokens is the state this needs; it forgets a token once the token has expired (an
// expired token is refused anyway), so it holds at most the tokens claimed in one validity
// window.
//
// In a cluster the token also names the node that issued it (its CAF node id, one per process):
// "<expiry>.<mac>.<issuer>", the issuer under the MAC too. That node's ledger is the single
// authority for it: a stream on another node claims the token there by actor message before the
// call starts (app/cluster_node.cpp), so a token opens one stream in the whole cluster, once.

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::net {

/// What a token vouches for: the call it was issued for ("CA…" for an inbound call, "dial:…" for
/// an outbound one, whose CallSid is not known yet) and the numbers its TwiML passes on.
struct call_token_subject {
  std::string_view call;
  std::string_view from;
  std::string_view to;
  /// An outbound call's overrides as its TwiML carries them (dial_overrides_fingerprint; ""
  /// = none): under the MAC, so that no one can change the prompt, voice or metadata of a call
  /// on its way to whichever node takes its stream, nor add any to a call that had none.
  std::string_view overrides = {};
};

/// What the token's MAC covers of a dial's overrides: each one present (not empty) named and
/// length-prefixed, in a fixed order; "" when there are none.
std::string dial_overrides_fingerprint(std::string_view instructions, std::string_view voice,
                                       std::string_view metadata_json);

class call_token_issuer {
 public:
  /// Key derived from a shared secret (HMAC-SHA256(secret, "switchboard call token")).
  static call_token_issuer from_secret(std::string_view secret);
  /// A random key: tokens verify on this process only.
  static call_token_issuer with_random_key();

  /// Tokens issued from now on name `node` as their issuer (a cluster node's id; "" = none,
  /// the token then looks exactly as on a node without a cluster).
  void set_issuer(std::string node) { issuer_ = std::move(node); }
  const std::string& issuer() const { return issuer_; }

  std::string issue(const call_token_subject& subject, std::chrono::system_clock::time_point now,
                    std::chrono::seconds validity = std::chrono::minutes(5)) const;

  /// Empty string when valid, else why not (for the log; never echo it to the peer).
  std::string check(std::string_view token, const call_token_subject& subject,
                    std::chrono::system_clock::time_point now) const;

  /// The expiry a token states (only meaningful once check() accepted it).
  static std::optional<std::chrono::system_clock::time_point> expiry_of(std::string_view token);
  /// The node a token names as its issuer ("" for none; only meaningful once check() accepted
  /// it, which proves the name is the issuer's).
  static std::string_view issuer_of(std::string_view token);

 private:
  explicit call_token_issuer(std::vector<std::uint8_t> key) : key_(std::move(key)) {}
  std::string mac(const call_token_subject& subject, std::string_view expiry,
                  std::string_view issuer) const;

  std::vector<std::uint8_t> key_;
  std::string issuer_;
};

/// The tokens that have opened a stream on this node. Thread-safe: calls on different io
/// threads claim their tokens here (once per call, at its `start`).
class call_token_ledger {
 public:
  /// True the first time `token` is claimed before `expiry`; false for every later claim.
  bool claim(std::string_view token, std::chrono::system_clock::time_point expiry,
             std::chrono::system_clock::time_point now);
  /// Tokens remembered now (a test and a metric read it).
  std::size_t size() const;

 private:
  void forget_expired(std::chrono::system_clock::time_point now);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::chrono::system_clock::time_point> spent_;
  std::size_t prune_at_ = 64;  // forget expired tokens when the ledger reaches this size
};

}  // namespace switchboard::net
