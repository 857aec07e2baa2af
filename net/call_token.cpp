#include "net/call_token.hpp"

#include "net/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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

std::string call_token_issuer::mac(std::string_view call_sid, std::string_view expiry) const {
  std::string data(call_sid);
  data.push_back('|');
  data.append(expiry);
  return base64url(hmac_sha256(key_, data));
}

std::string call_token_issuer::issue(std::string_view call_sid,
                                     std::chrono::system_clock::time_point now,
                                     std::chrono::seconds validity) const {
  const auto expiry = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>((now + validity).time_since_epoch())
          .count());
  return expiry + "." + mac(call_sid, expiry);
}

std::string call_token_issuer::check(std::string_view token, std::string_view call_sid,
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
  const auto expected = mac(call_sid, expiry_text);
  const auto given = token.substr(dot + 1);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return "call token does not match the CallSid";
  }
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (now_seconds > expiry)
    return "call token expired";
  return {};
}

}  // namespace switchboard::net
