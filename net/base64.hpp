#pragma once
// Base64 for Twilio media payloads and Realtime audio deltas, through OpenSSL's EVP block
// codec (never hand-written). μ-law: 20 ms = 160 bytes = 216 base64 characters.

#include "net/wire_error.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

/// Characters needed to encode `bytes` bytes (padding included).
constexpr std::size_t base64_encoded_size(std::size_t bytes) {
  return (bytes + 2) / 3 * 4;
}

/// Appends the base64 form of `bytes` to `out` (reuses out's capacity on the hot path).
void append_base64(std::string& out, std::span<const std::uint8_t> bytes);

std::string encode_base64(std::span<const std::uint8_t> bytes);

/// Whether `text` is standard, padded base64 (RFC 4648 §4: the 64-character alphabet, a length
/// that is a multiple of four, at most two '=' and only at the end), or why not. Whatever
/// passes can be copied into a JSON string or an XML attribute as it is: no character of the
/// alphabet needs escaping there.
boost::system::result<void, wire_error> check_base64(std::string_view text);

/// Decodes standard, padded base64 and appends the bytes to `out`. Returns the number of bytes
/// appended, or an error (and `out` unchanged) for a length that is not a multiple of four or a
/// character outside the alphabet.
boost::system::result<std::size_t, wire_error> append_decoded_base64(
    std::string_view text, std::vector<std::uint8_t>& out);

boost::system::result<std::vector<std::uint8_t>, wire_error> decode_base64(std::string_view text);

}  // namespace switchboard::net
