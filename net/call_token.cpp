#include "net/call_token.hpp"

#include "net/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace switchboard::net {

namespace {

std::vector<std::uint8_t> hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &size);
  return {digest.begin(), digest.begin() + size};
}

/// base64url without padding: the token must survive XML attributes and JSON unescaped.
std::string base64url(std::span<const std::uint8_t> bytes) {
  std::string text = encode_base64(bytes);
  for (auto& c : text) {
    if (c == '+')
      c = '-';
    if (c == '/')
      c = '_';
  }
  while (!text.empty() && text.back() == '=')
    text.pop_back();
  return text;
}

}  // namespace

std::string dial_overrides_fingerprint(std::string_view instructions, std::string_view voice,
                                       std::string_view metadata_json) {
  std::string text;
  const auto add = [&text](std::string_view name, std::string_view value) {
    if (value.empty())
      return;
    text.append(name);
    text += std::to_string(value.size());
    text.push_back(':');
    text.append(value);
  };
  add("instructions", instructions);
  add("voice", voice);
  add("metadata", metadata_json);
  return text;
}

call_token_issuer call_token_issuer::from_secret(std::string_view secret) {
  const std::span<const std::uint8_t> secret_bytes(
      reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size());
  return call_token_issuer(hmac_sha256(secret_bytes, "switchboard call token"));
}

call_token_issuer call_token_issuer::with_random_key() {
  std::vector<std::uint8_t> key(32);
  RAND_bytes(key.data(), static_cast<int>(key.size()));
  return call_token_issuer(std::move(key));
}

std::string call_token_issuer::mac(const call_token_subject& subject, std::string_view expiry,
                                   std::string_view issuer) const {
  // Each field length-prefixed: form values may hold any byte, a separator among them.
  std::string data;
  const auto add = [&data](std::string_view field) {
    data += std::to_string(field.size());
    data.push_back(':');
    data.append(field);
  };
  for (const auto field : {subject.call, expiry, subject.from, subject.to})
    add(field);
  // Only when there is one, so that a node without a cluster issues the tokens it always did;
  // a token stripped of its issuer then fails the MAC like any other change.
  if (!issuer.empty())
    add(issuer);
  // Named, so that a token's field list is unambiguous whichever of the two it has.
  if (!subject.overrides.empty()) {
    add("overrides");
    add(subject.overrides);
  }
  return base64url(hmac_sha256(key_, data));
}

std::string call_token_issuer::issue(const call_token_subject& subject,
                                     std::chrono::system_clock::time_point now,
                                     std::chrono::seconds validity) const {
  const auto expiry = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>((now + validity).time_since_epoch())
          .count());
  auto token = expiry + "." + mac(subject, expiry, issuer_);
  if (!issuer_.empty())
    token += "." + issuer_;
  return token;
}

std::string_view call_token_issuer::issuer_of(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos)
    return {};
  const auto second = token.find('.', first + 1);
  if (second == std::string_view::npos)
    return {};
  return token.substr(second + 1);
}

std::optional<std::chrono::system_clock::time_point> call_token_issuer::expiry_of(
    std::string_view token) {
  const auto expiry_text = token.substr(0, token.find('.'));
  std::int64_t expiry = 0;
  const auto [end, ec] =
      std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  if (ec != std::errc{} || end != expiry_text.data() + expiry_text.size())
    return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(expiry));
}

std::string call_token_issuer::check(std::string_view token, const call_token_subject& subject,
                                     std::chrono::system_clock::time_point now) const {
  const auto dot = token.find('.');
  if (token.empty())
    return "no call token";
  if (dot == std::string_view::npos)
    return "malformed call token";
  const auto expiry_text = token.substr(0, dot);
  std::int64_t expiry = 0;
  const auto [end, ec] =
      std::from_chars(expiry_text.data(), expiry_text.data() + expiry_text.size(), expiry);
  if (ec != std::errc{} || end != expiry_text.data() + expiry_text.size()) {
    return "malformed call token";
  }
  // The MAC is base64url (no '.'); whatever follows it is the issuer's node id.
  auto given = token.substr(dot + 1);
  std::string_view issuer;
  if (const auto second = given.find('.'); second != std::string_view::npos) {
    issuer = given.substr(second + 1);
    given = given.substr(0, second);
    if (issuer.empty())
      return "malformed call token";
  }
  const auto expected = mac(subject, expiry_text, issuer);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return "call token does not match the call, From or To";
  }
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_seconds > expiry)
    return "call token expired";
  return {};
}

bool call_token_ledger::claim(std::string_view token, std::chrono::system_clock::time_point expiry,
                              std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (spent_.size() >= prune_at_)
    forget_expired(now);
  return spent_.emplace(std::string(token), expiry).second;
}

std::size_t call_token_ledger::size() const {
  std::lock_guard lock(mutex_);
  return spent_.size();
}

void call_token_ledger::forget_expired(std::chrono::system_clock::time_point now) {
  std::erase_if(spent_, [now](const auto& entry) { return entry.second < now; });
  // Prune again when the ledger has doubled: amortised O(1) per claim however many calls
  // run in one validity window.
  prune_at_ = std::max<std::size_t>(64, spent_.size() * 2);
}

}  // namespace switchboard::net
