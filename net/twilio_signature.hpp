#pragma once
// Twilio request validation (X-Twilio-Signature), shared/reference/protocols.md §A5:
//   signature = base64(HMAC-SHA1(auth token, URL + name1 + value1 + name2 + value2 ...))
// with POST parameters sorted by name (byte order), a repeated name's distinct values sorted
// and appended once each. JSON bodies are signed over the URL alone, which then carries
// bodySHA256=<hex SHA-256 of the body>. The media-stream WebSocket upgrade is signed over the
// wss:// URL written in <Stream url>, with no parameters.

#include "net/form_body.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

/// The signature Twilio would send for `url` and `params`.
std::string compute_twilio_signature(std::string_view auth_token, std::string_view url,
                                     std::span<const form_parameter> params);

/// True when `signature` matches `url` + `params`, or the same URL with its port removed or the
/// scheme's default port added (Twilio is inconsistent about ports, §A5.1 step 5).
/// The comparison is constant-time.
bool is_valid_twilio_signature(std::string_view auth_token, std::string_view signature,
                               std::string_view url, std::span<const form_parameter> params);

/// The bodySHA256 variant (§A5.2): the URL's bodySHA256 query value must equal the hex SHA-256
/// of `body`, and the signature must match the URL with no parameters.
bool is_valid_twilio_signature_for_body(std::string_view auth_token, std::string_view signature,
                                        std::string_view url, std::string_view body);

/// Hex SHA-256, lower case, as Twilio writes bodySHA256.
std::string sha256_hex(std::string_view data);

}  // namespace switchboard::net
