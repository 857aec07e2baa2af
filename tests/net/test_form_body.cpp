// Form bodies (application/x-www-form-urlencoded): what Twilio's webhooks send and its REST API
// takes. Whatever decodes re-encodes and decodes back to the same fields (as fuzz_http_request
// checks on any bytes); these are the cases worth naming.
#include "net/form_body.hpp"

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <vector>

using switchboard::net::encode_form_body;
using switchboard::net::form_parameter;
using switchboard::net::parse_form_body;

namespace {
bool same(const std::vector<form_parameter>& a, const std::vector<form_parameter>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value)
      return false;
  }
  return true;
}
}  // namespace

TEST_CASE("a form decodes, re-encodes and decodes back to the same fields", "[form_body]") {
  for (const std::string& body : std::initializer_list<std::string>{
           "CallSid=CA1&From=%2B14155550199&CallerName=Jane+Doe", "a", "=", "&", "a=&=b&&",
           "x=%zz&y=%4", "k=%00%FF%25", "a=1=2", "%26=%3D", std::string("n=\x01\x7f\xc3", 5)}) {
    INFO(body);
    const auto fields = parse_form_body(body);
    const auto encoded = encode_form_body(fields);
    CHECK(same(parse_form_body(encoded), fields));
  }
}

TEST_CASE("any bytes in a name or value survive encoding", "[form_body]") {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte)
    every_byte.push_back(static_cast<char>(byte));
  const std::vector<form_parameter> fields{
      {every_byte, every_byte}, {"", ""}, {"+ &=%", "%2B"}, {"To", "+14155550100"}};
  const auto encoded = encode_form_body(fields);
  CHECK(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-._*+%=&") == std::string::npos);
  CHECK(same(parse_form_body(encoded), fields));
}
