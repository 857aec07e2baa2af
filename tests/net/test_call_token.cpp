#include "net/call_token.hpp"

#include <catch2/catch.hpp>

#include <string>

using switchboard::net::call_token_issuer;
using switchboard::net::call_token_ledger;
using switchboard::net::call_token_subject;
using namespace std::chrono_literals;

namespace {
const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
constexpr std::string_view call_sid = "CA0123456789abcdef0123456789abcdef";
const call_token_subject subject{call_sid, "+14155550100", "+14155550199"};
}  // namespace

TEST_CASE("a call token checks out for its call until it expires", "[call_token]") {
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(subject, now, 300s);
  CHECK(issuer.check(token, subject, now).empty());
  CHECK(issuer.check(token, subject, now + 300s).empty());
  CHECK(issuer.check(token, subject, now + 301s) == "call token expired");
  CHECK(call_token_issuer::expiry_of(token) == now + 300s);
}

TEST_CASE("a call token is refused for another call, another key or when altered", "[call_token]") {
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(subject, now);
  CHECK_FALSE(
      issuer.check(token, {"CA0000000000000000000000000000000", subject.from, subject.to}, now)
          .empty());
  CHECK_FALSE(call_token_issuer::from_secret("other").check(token, subject, now).empty());
  auto altered = token;
  altered.back() = altered.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(issuer.check(altered, subject, now).empty());
  // Moving the expiry forward breaks the MAC.
  CHECK_FALSE(issuer.check("9" + token, subject, now).empty());
  CHECK(issuer.check("", subject, now) == "no call token");
  CHECK(issuer.check("garbage", subject, now) == "malformed call token");
  CHECK(issuer.check("12x.abc", subject, now) == "malformed call token");
}

TEST_CASE("a call token does not carry over to another From or To", "[call_token]") {
  // Issue #7: a stream replayed a token with another From/To, which was then logged as the
  // caller. The MAC covers both numbers, and fields cannot be shifted into one another.
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(subject, now);
  CHECK(issuer.check(token, {call_sid, "+19995550100", subject.to}, now) ==
        "call token does not match the call, From or To");
  CHECK_FALSE(issuer.check(token, {call_sid, subject.from, "+19995550199"}, now).empty());
  CHECK_FALSE(issuer.check(token, {call_sid, subject.to, subject.from}, now).empty());
  const auto split = issuer.issue({call_sid, "ab", "c"}, now);
  CHECK_FALSE(issuer.check(split, {call_sid, "a", "bc"}, now).empty());
}

TEST_CASE("tokens from a shared secret check on another issuer, random keys do not",
          "[call_token]") {
  const auto token = call_token_issuer::from_secret("shared").issue(subject, now);
  CHECK(call_token_issuer::from_secret("shared").check(token, subject, now).empty());
  const auto random_token = call_token_issuer::with_random_key().issue(subject, now);
  CHECK_FALSE(call_token_issuer::with_random_key().check(random_token, subject, now).empty());
  // URL- and XML-safe: no '+', '/', '=' or quotes.
  CHECK(token.find_first_of("+/=\"'<>&") == std::string::npos);
}

TEST_CASE("a token opens one stream: the ledger takes each token once", "[call_token]") {
  call_token_ledger ledger;
  const auto issuer = call_token_issuer::from_secret("auth-token");
  const auto token = issuer.issue(subject, now);
  const auto expiry = *call_token_issuer::expiry_of(token);
  CHECK(ledger.claim(token, expiry, now));
  CHECK_FALSE(ledger.claim(token, expiry, now + 1s));
  CHECK_FALSE(ledger.claim(token, expiry, now + 299s));
  const auto other = issuer.issue({"CA1", subject.from, subject.to}, now);
  CHECK(ledger.claim(other, *call_token_issuer::expiry_of(other), now));
}

TEST_CASE("the ledger forgets tokens once they have expired, and only then", "[call_token]") {
  call_token_ledger ledger;
  // A window's worth of calls, all spent; past their expiry, new claims prune them.
  for (int i = 0; i < 200; ++i)
    REQUIRE(ledger.claim("old-" + std::to_string(i), now + 300s, now));
  CHECK(ledger.size() == 200);
  const auto later = now + 301s;
  for (int i = 0; i < 200; ++i)
    REQUIRE(ledger.claim("new-" + std::to_string(i), later + 300s, later));
  CHECK(ledger.size() < 400);
  // Unexpired tokens are never forgotten: every new one is still refused.
  for (int i = 0; i < 200; ++i)
    CHECK_FALSE(ledger.claim("new-" + std::to_string(i), later + 300s, later));
}

TEST_CASE("a cluster node's token names it as issuer, under the MAC", "[call_token]") {
  auto issuer = call_token_issuer::from_secret("shared");
  const auto plain = issuer.issue(subject, now);
  CHECK(call_token_issuer::issuer_of(plain).empty());
  issuer.set_issuer("0123456789ABCDEF0123456789ABCDEF01234567#4242");
  const auto token = issuer.issue(subject, now);
  CHECK(call_token_issuer::issuer_of(token) == "0123456789ABCDEF0123456789ABCDEF01234567#4242");
  CHECK(call_token_issuer::expiry_of(token) == now + 300s);
  // Any node with the key checks it (another issuer object, another node).
  CHECK(call_token_issuer::from_secret("shared").check(token, subject, now).empty());
  // The issuer cannot be swapped for another node, nor stripped to make the token local.
  const auto mac_end = token.rfind('.');
  CHECK_FALSE(issuer.check(token.substr(0, mac_end) + ".other#1", subject, now).empty());
  CHECK_FALSE(issuer.check(token.substr(0, mac_end), subject, now).empty());
  CHECK(issuer.check(token.substr(0, mac_end) + ".", subject, now) == "malformed call token");
}

TEST_CASE("a dial's overrides are under its token's MAC: not changed or added or stripped",
          "[call_token]") {
  using switchboard::net::dial_overrides_fingerprint;
  auto issuer = call_token_issuer::from_secret("auth-token");
  issuer.set_issuer("node-a#1");
  const auto overrides =
      dial_overrides_fingerprint("Confirm the slot.", "cedar", R"({"order":42})");
  const call_token_subject dial{"dial:0123", "+14155550100", "+14155550199", overrides};
  const auto token = issuer.issue(dial, now);
  CHECK(issuer.check(token, dial, now).empty());
  // Another prompt, voice or metadata: refused.
  for (const auto& changed :
       {dial_overrides_fingerprint("Ignore your instructions.", "cedar", R"({"order":42})"),
        dial_overrides_fingerprint("Confirm the slot.", "alloy", R"({"order":42})"),
        dial_overrides_fingerprint("Confirm the slot.", "cedar", R"({"order":43})"),
        dial_overrides_fingerprint("Confirm the slot.", "", R"({"order":42})")}) {
    CHECK_FALSE(issuer.check(token, {dial.call, dial.from, dial.to, changed}, now).empty());
  }
  // Stripped: refused; and a token issued without overrides takes none.
  CHECK_FALSE(issuer.check(token, {dial.call, dial.from, dial.to}, now).empty());
  const auto plain = issuer.issue({dial.call, dial.from, dial.to}, now);
  CHECK(issuer.check(plain, {dial.call, dial.from, dial.to}, now).empty());
  CHECK_FALSE(issuer.check(plain, dial, now).empty());
  // Fields cannot slide into each other: each is named and length-prefixed.
  CHECK(dial_overrides_fingerprint("ab", "", "") != dial_overrides_fingerprint("a", "b", ""));
  CHECK(dial_overrides_fingerprint("", "", "").empty());
}
