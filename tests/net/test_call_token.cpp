#include "net/call_token.hpp"

#include <catch2/catch.hpp>

using switchboard::net::call_token_issuer;
using namespace std::chrono_literals;

namespace {
const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
constexpr std::string_view call_sid = "CA0123456789abcdef0123456789abcdef";
}  // namespace

TEST_CASE("a call token checks out for its CallSid until it expires", "[call_token]") {
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(call_sid, now, 300s);
  CHECK(issuer.check(token, call_sid, now).empty());
  CHECK(issuer.check(token, call_sid, now + 300s).empty());
  CHECK(issuer.check(token, call_sid, now + 301s) == "call token expired");
}

TEST_CASE("a call token is refused for another call, another key or when altered", "[call_token]") {
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(call_sid, now);
  CHECK_FALSE(issuer.check(token, "CA0000000000000000000000000000000", now).empty());
  CHECK_FALSE(call_token_issuer::from_secret("other").check(token, call_sid, now).empty());
  auto altered = token;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(issuer.check(altered, call_sid, now).empty());
  // Moving the expiry forward breaks the MAC.
  CHECK_FALSE(issuer.check("9" + token, call_sid, now).empty());
  CHECK(issuer.check("", call_sid, now) == "no call token");
  CHECK(issuer.check("garbage", call_sid, now) == "malformed call token");
  CHECK(issuer.check("12x.abc", call_sid, now) == "malformed call token");
}

TEST_CASE("tokens from a shared secret check on another issuer, random keys do not",
          "[call_token]") {
  const auto token = call_token_issuer::from_secret("shared").issue(call_sid, now);
  CHECK(call_token_issuer::from_secret("shared").check(token, call_sid, now).empty());
  const auto random_token = call_token_issuer::with_random_key().issue(call_sid, now);
  CHECK_FALSE(call_token_issuer::with_random_key().check(random_token, call_sid, now).empty());
  // URL- and XML-safe: no '+', '/', '=' or quotes.
  CHECK(token.find_first_of("+/=\"'<>&") == std::string::npos);
}
