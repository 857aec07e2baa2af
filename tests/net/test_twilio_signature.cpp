// Every vector of shared/reference/protocols.md §A5.4, verified there against twilio-node and
// Python hmac, plus the ways a forged or altered request must fail.
#include "net/twilio_signature.hpp"

#include <catch2/catch.hpp>

#include <vector>

using switchboard::net::compute_twilio_signature;
using switchboard::net::form_parameter;
using switchboard::net::is_valid_twilio_signature;
using switchboard::net::is_valid_twilio_signature_for_body;
using switchboard::net::parse_form_body;
using switchboard::net::sha256_hex;

namespace {
constexpr std::string_view auth_token = "12345";
constexpr std::string_view url = "https://mycompany.com/myapp.php?foo=1&bar=2";

std::vector<form_parameter> params_with_caller(const std::string& caller) {
  return {{"CallSid", "CA1234567890ABCDE"},
          {"Caller", caller},
          {"Digits", "1234"},
          {"From", caller},
          {"To", "+18005551212"}};
}
}  // namespace

TEST_CASE("signature vectors 1-3: form parameters", "[twilio_signature]") {
  CHECK(compute_twilio_signature(auth_token, url, params_with_caller("+14158675309")) ==
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
  CHECK(compute_twilio_signature(auth_token, url, params_with_caller("+14158675310")) ==
        "GvWf1cFY/Q7PnoempGyD5oXAezc=");
  CHECK(compute_twilio_signature(auth_token, url, params_with_caller("+12349013030")) ==
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST_CASE("signature vectors 4-6: explicit ports", "[twilio_signature]") {
  const auto params = params_with_caller("+14158675309");
  CHECK(compute_twilio_signature(auth_token, "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                                 params) == "kvajT1Ptam85bY51eRf/AJRuM3w=");
  CHECK(compute_twilio_signature(auth_token, "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                                 params) == "0ZXoZLH/DfblKGATFgpif+LLRf4=");
  CHECK(compute_twilio_signature(auth_token, "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                                 params) == "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=");
}

TEST_CASE("validation accepts a signature made with or without the default port",
          "[twilio_signature]") {
  const auto params = params_with_caller("+14158675309");
  // Signed with :443, requested without it, and the other way round.
  CHECK(is_valid_twilio_signature(auth_token, "kvajT1Ptam85bY51eRf/AJRuM3w=", url, params));
  CHECK(is_valid_twilio_signature(auth_token, "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                  "https://mycompany.com:443/myapp.php?foo=1&bar=2", params));
  // A non-default port is not interchangeable with the default one.
  CHECK_FALSE(is_valid_twilio_signature(auth_token, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
                                        "http://mycompany.com/myapp.php?foo=1&bar=2", params));
}

TEST_CASE("signature vector 7: repeated parameters are de-duplicated and sorted",
          "[twilio_signature]") {
  const std::vector<form_parameter> params{{"Sid", "CA123"},
                                           {"SidAccount", "AC123"},
                                           {"Digits", "5678"},
                                           {"Digits", "1234"},
                                           {"Digits", "1234"}};
  CHECK(compute_twilio_signature(auth_token, url, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

TEST_CASE("signature vectors 8-10: JSON bodies through bodySHA256", "[twilio_signature]") {
  const std::string body = R"({"property": "value", "boolean": true})";
  const std::string hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
  CHECK(sha256_hex(body) == hash);
  const std::string signed_url = std::string(url) + "&bodySHA256=" + hash;
  CHECK(compute_twilio_signature(auth_token, signed_url, {}) == "a9nBmqA0ju/hNViExpshrM61xv4=");
  CHECK(is_valid_twilio_signature_for_body(auth_token, "a9nBmqA0ju/hNViExpshrM61xv4=", signed_url,
                                           body));

  const std::string empty_hash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  CHECK(sha256_hex("{}") == empty_hash);
  // Vector 9 was signed with :443; validation finds it through the port variant.
  CHECK(is_valid_twilio_signature_for_body(auth_token, "Ldidvp12m26NI7eqEvxnEpkd9Hc=",
                                           std::string(url) + "&bodySHA256=" + empty_hash, "{}"));

  CHECK(compute_twilio_signature(auth_token, "https://mycompany.com/myapp.php?bodySHA256=" + hash,
                                 {}) == "y77kIzt2vzLz71DgmJGsen2scGs=");
}

TEST_CASE("a JSON body that does not match its bodySHA256 is refused", "[twilio_signature]") {
  const std::string hash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
  const std::string signed_url = std::string(url) + "&bodySHA256=" + hash;
  CHECK_FALSE(is_valid_twilio_signature_for_body(
      auth_token, "a9nBmqA0ju/hNViExpshrM61xv4=", signed_url, R"({"property": "other"})"));
  CHECK_FALSE(is_valid_twilio_signature_for_body(
      auth_token, "a9nBmqA0ju/hNViExpshrM61xv4=", std::string(url), "{}"));
}

TEST_CASE("signature vector 11: the media-stream WebSocket upgrade", "[twilio_signature]") {
  CHECK(compute_twilio_signature(auth_token, "wss://example.com/media-stream", {}) ==
        "XFfwGS2Ev7f9qAP9MmRoMS7C724=");
  CHECK(is_valid_twilio_signature(
      auth_token, "XFfwGS2Ev7f9qAP9MmRoMS7C724=", "wss://example.com/media-stream", {}));
  CHECK_FALSE(is_valid_twilio_signature(
      auth_token, "XFfwGS2Ev7f9qAP9MmRoMS7C724=", "wss://evil.example.com/media-stream", {}));
}

TEST_CASE("forged, altered and empty signatures are refused", "[twilio_signature]") {
  const auto params = params_with_caller("+14158675309");
  CHECK_FALSE(is_valid_twilio_signature(auth_token, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", url, params));
  CHECK_FALSE(is_valid_twilio_signature("54321", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, params));
  CHECK_FALSE(is_valid_twilio_signature(auth_token, "", url, params));
  CHECK_FALSE(is_valid_twilio_signature("", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, params));
  auto tampered = params;
  tampered[4].value = "+19005551212";
  CHECK_FALSE(is_valid_twilio_signature(auth_token, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, tampered));
  CHECK_FALSE(
      is_valid_twilio_signature(auth_token, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "not a url", params));
}

TEST_CASE("form bodies decode as Twilio encodes them", "[twilio_signature]") {
  const auto params = parse_form_body(
      "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
      "&From=%2B14158675309&To=%2B18005551212&CallerName=Jane+Doe");
  REQUIRE(params.size() == 6);
  CHECK(params[1].name == "Caller");
  CHECK(params[1].value == "+14158675309");
  CHECK(params[5].value == "Jane Doe");
  const std::vector<form_parameter> signed_params(params.begin(), params.begin() + 5);
  CHECK(is_valid_twilio_signature(auth_token, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, signed_params));
  CHECK(parse_form_body("").empty());
}

TEST_CASE("a URL with an empty query before a fragment is refused, not read out of bounds") {
  // Found by fuzz_twilio_signature: Boost.URL 1.81's params().find overreads on this query.
  CHECK_FALSE(switchboard::net::is_valid_twilio_signature_for_body("token", "c2ln",
                                                                   "hs://l&e$rt&b?#a2", ""));
  CHECK_FALSE(switchboard::net::is_valid_twilio_signature_for_body(
      "token", "c2ln", "https://example.com/hook?#bodySHA256=00", ""));
}
