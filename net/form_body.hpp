#pragma once
// application/x-www-form-urlencoded bodies: what Twilio's webhooks and status callbacks send,
// and what Twilio's REST API takes. Pure functions on bytes (fuzzed: tests/fuzz/
// fuzz_http_request.cpp), apart from the HTTP client and the signature check that use them.

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

struct form_parameter {
  std::string name;
  std::string value;
};

/// Decodes an application/x-www-form-urlencoded body ('+' is a space, %XX escapes).
/// Malformed escapes are kept literally rather than failing: the signature check then fails,
/// which is the right outcome for a body Twilio did not send.
std::vector<form_parameter> parse_form_body(std::string_view body);

/// application/x-www-form-urlencoded, in the given order: unreserved characters as they are,
/// space as '+', everything else %XX (upper-case hex), as HTML forms and Twilio encode.
std::string encode_form_body(std::span<const form_parameter> parameters);

}  // namespace switchboard::net
