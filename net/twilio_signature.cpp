#include "net/twilio_signature.hpp"

#include "net/base64.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <set>

namespace switchboard::net {

namespace {

std::string hmac_sha1_base64(std::string_view key, std::string_view message) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
       &digest_size);
  return encode_base64(std::span(digest.data(), digest_size));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Length is not secret (a base64 SHA-1 is always 28 characters).
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::uint16_t default_port(std::string_view scheme) {
  return (scheme == "https" || scheme == "wss") ? 443 : 80;
}

/// The URL as given, plus the variant with the port removed (if it has one) or the scheme's
/// default port added (if it has none).
std::vector<std::string> port_variants(std::string_view url) {
  std::vector<std::string> variants{std::string(url)};
  auto parsed = boost::urls::parse_uri(variants.front());  // NUL-terminated, see parse_form_body
  if (!parsed)
    return variants;
  boost::urls::url other(*parsed);
  if (other.has_port()) {
    other.remove_port();
  } else {
    other.set_port_number(default_port(other.scheme()));
  }
  variants.emplace_back(other.buffer());
  return variants;
}

bool matches_any_port_variant(std::string_view auth_token, std::string_view signature,
                              std::string_view url, std::span<const form_parameter> params) {
  bool matched = false;
  // Check every variant even after a match so that timing does not reveal which one matched.
  for (const auto& candidate : port_variants(url)) {
    matched |=
        constant_time_equal(compute_twilio_signature(auth_token, candidate, params), signature);
  }
  return matched;
}

}  // namespace

std::string compute_twilio_signature(std::string_view auth_token, std::string_view url,
                                     std::span<const form_parameter> params) {
  // name -> distinct values, both in byte order (twilio-node toFormUrlEncodedParam).
  std::map<std::string_view, std::set<std::string_view>> sorted;
  for (const auto& param : params)
    sorted[param.name].insert(param.value);
  std::string data(url);
  for (const auto& [name, values] : sorted) {
    for (const auto& value : values) {
      data.append(name);
      data.append(value);
    }
  }
  return hmac_sha1_base64(auth_token, data);
}

bool is_valid_twilio_signature(std::string_view auth_token, std::string_view signature,
                               std::string_view url, std::span<const form_parameter> params) {
  if (auth_token.empty() || signature.empty())
    return false;
  return matches_any_port_variant(auth_token, signature, url, params);
}

bool is_valid_twilio_signature_for_body(std::string_view auth_token, std::string_view signature,
                                        std::string_view url, std::string_view body) {
  if (auth_token.empty() || signature.empty())
    return false;
  const std::string terminated(url);  // see parse_form_body
  auto parsed = boost::urls::parse_uri(terminated);
  if (!parsed)
    return false;
  // Not params().find(): Boost.URL 1.81's find reads out of bounds on some queries (an empty
  // query before a fragment, "x://h?#f": found by fuzz_twilio_signature). The query is decoded
  // as a form body instead, which is fuzzed too.
  std::string expected_hash;
  bool has_hash = false;
  for (auto& parameter : parse_form_body(parsed->encoded_query())) {
    if (parameter.name == "bodySHA256") {
      expected_hash = std::move(parameter.value);
      has_hash = true;
      break;
    }
  }
  if (!has_hash)
    return false;
  const bool body_matches = constant_time_equal(sha256_hex(body), expected_hash);
  const bool signature_matches = matches_any_port_variant(auth_token, signature, url, {});
  return body_matches && signature_matches;
}

std::string sha256_hex(std::string_view data) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &digest_size, EVP_sha256(), nullptr);
  static constexpr std::string_view hex_digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest_size * 2);
  for (unsigned int i = 0; i < digest_size; ++i) {
    hex.push_back(hex_digits[digest[i] >> 4]);
    hex.push_back(hex_digits[digest[i] & 0x0F]);
  }
  return hex;
}

}  // namespace switchboard::net
