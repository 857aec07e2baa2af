// What the call API reads from a request before it acts: the say and transfer bodies (the
// route, the bearer token and POST /calls are in test_call_control.cpp and test_outbound.cpp).
// Pure functions, fuzzed too (fuzz_http_request).
#include "app/call_api_requests.hpp"

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>

using namespace switchboard;

namespace {
/// The parsed value; a refusal fails the test with its reason.
std::string accepted(const boost::system::result<std::string, app::api_error>& parsed) {
  INFO((parsed ? std::string() : parsed.error().reason));
  REQUIRE(parsed.has_value());
  return *parsed;
}
}  // namespace

TEST_CASE("a say body is {\"text\"} of 1 to 4096 bytes", "[control]") {
  CHECK(accepted(app::parse_say_request(R"({"text":"One moment, please."})")) ==
        "One moment, please.");
  CHECK(accepted(app::parse_say_request(R"({"text":"a\"b\\c\u00e9"})")) == "a\"b\\c\xc3\xa9");
  const std::string longest(app::max_say_bytes, 'a');
  CHECK(accepted(app::parse_say_request(R"({"text":")" + longest + R"("})")) == longest);
  for (const std::string& bad :
       std::initializer_list<std::string>{R"({"text":""})", R"({"text":")" + longest + R"(a"})",
                                          R"({"text":7})", R"(["text"])", "{}", "text=hi", ""}) {
    INFO(bad);
    const auto parsed = app::parse_say_request(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().status == 400);
    CHECK(parsed.error().reason.find("\"text\"") != std::string::npos);
  }
}

TEST_CASE("a transfer body is {\"to\"}, checked later as every destination is", "[control]") {
  CHECK(accepted(app::parse_transfer_request(R"({"to":"+14155550123"})")) == "+14155550123");
  // Checked by refuse_destination, for the API and the model's transfers alike.
  CHECK(accepted(app::parse_transfer_request(R"({"to":""})")).empty());
  for (const std::string bad : {R"({"to":14155550123})", R"({"number":"+1415"})", "null", "{"}) {
    INFO(bad);
    const auto parsed = app::parse_transfer_request(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().status == 400);
  }
}
