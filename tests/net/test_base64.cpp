#include "net/base64.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

using switchboard::net::append_decoded_base64;
using switchboard::net::base64_encoded_size;
using switchboard::net::check_base64;
using switchboard::net::decode_base64;
using switchboard::net::encode_base64;

namespace {
std::vector<std::uint8_t> bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}
}  // namespace

TEST_CASE("base64 matches the RFC 4648 test vectors", "[base64]") {
  const std::vector<std::pair<std::string, std::string>> vectors{{"", ""},
                                                                 {"f", "Zg=="},
                                                                 {"fo", "Zm8="},
                                                                 {"foo", "Zm9v"},
                                                                 {"foob", "Zm9vYg=="},
                                                                 {"fooba", "Zm9vYmE="},
                                                                 {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(encode_base64(bytes_of(plain)) == encoded);
    auto decoded = decode_base64(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == bytes_of(plain));
  }
}

TEST_CASE("a 20 ms μ-law frame is 216 base64 characters and round-trips", "[base64]") {
  std::vector<std::uint8_t> frame(160);
  for (std::size_t i = 0; i < frame.size(); ++i)
    frame[i] = static_cast<std::uint8_t>(i * 7);
  const auto encoded = encode_base64(frame);
  CHECK(encoded.size() == 216);
  CHECK(base64_encoded_size(160) == 216);
  auto decoded = decode_base64(encoded);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == frame);
}

TEST_CASE("decoding appends to what is already there", "[base64]") {
  std::vector<std::uint8_t> out{1, 2};
  auto appended = append_decoded_base64("Zm9v", out);
  REQUIRE(appended.has_value());
  CHECK(*appended == 3);
  CHECK(out == std::vector<std::uint8_t>{1, 2, 'f', 'o', 'o'});
}

TEST_CASE("malformed base64 is an error and leaves the output unchanged", "[base64]") {
  for (std::string_view bad : {"Zm9", "Zm9v!A==", "Z===", " Zm9v", "Zm9v\n", "@@@@"}) {
    std::vector<std::uint8_t> out{9};
    auto result = append_decoded_base64(bad, out);
    CHECK_FALSE(result.has_value());
    CHECK(out == std::vector<std::uint8_t>{9});
  }
}

TEST_CASE("check_base64 accepts exactly what decodes, so accepted text needs no escaping",
          "[base64][hostile]") {
  for (const std::string_view good : {"", "AA==", "AAA=", "AAAA", "/w==", "+/+/", "no+JhoaJjpzS"}) {
    INFO(good);
    CHECK(check_base64(good).has_value());
    CHECK(decode_base64(good).has_value());
  }
  for (const std::string_view bad : {"A", "AA=", "A===", "=AAA", "AA=A", "AAAA====", "AA\"=",
                                     "AA\\=", "AA A", "AAA\n", "AAA-", "AAA_", "AAA\x80"}) {
    INFO(bad);
    CHECK_FALSE(check_base64(bad).has_value());
    CHECK_FALSE(decode_base64(bad).has_value());
  }
  // Every byte value outside the alphabet is refused in every position.
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool in_alphabet = std::isalnum(byte) != 0 || c == '+' || c == '/';
    std::string text = "AAAA";
    text[1] = c;
    CHECK(check_base64(text).has_value() == (in_alphabet && byte < 128));
  }
}
