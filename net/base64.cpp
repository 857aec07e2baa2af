#include "net/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace switchboard::net {

namespace {
// EVP_EncodeBlock/EVP_DecodeBlock take int lengths; Twilio frames are tiny, but a hostile
// 2 GiB input must not overflow.
constexpr std::size_t max_block_input = 1u << 30;

constexpr std::array<bool, 256> base64_alphabet = [] {
  std::array<bool, 256> in_alphabet{};
  for (char c = 'A'; c <= 'Z'; ++c)
    in_alphabet[static_cast<unsigned char>(c)] = true;
  for (char c = 'a'; c <= 'z'; ++c)
    in_alphabet[static_cast<unsigned char>(c)] = true;
  for (char c = '0'; c <= '9'; ++c)
    in_alphabet[static_cast<unsigned char>(c)] = true;
  in_alphabet['+'] = true;
  in_alphabet['/'] = true;
  return in_alphabet;
}();
}  // namespace

boost::system::result<void, wire_error> check_base64(std::string_view text) {
  if (text.size() % 4 != 0) {
    return wire_error{wire_errc::bad_value,
                      "base64: length " + std::to_string(text.size()) + " is not a multiple of 4"};
  }
  std::size_t data_end = text.size();
  while (data_end > 0 && text.size() - data_end < 2 && text[data_end - 1] == '=')
    --data_end;
  for (std::size_t i = 0; i < data_end; ++i) {
    if (!base64_alphabet[static_cast<unsigned char>(text[i])]) {
      return wire_error{
          wire_errc::bad_value,
          text[i] == '=' ? "base64: misplaced padding"
                         : "base64: character outside the alphabet at offset " + std::to_string(i)};
    }
  }
  return {};
}

void append_base64(std::string& out, std::span<const std::uint8_t> bytes) {
  const auto old_size = out.size();
  // +1: EVP_EncodeBlock writes a terminating NUL after the encoded text.
  out.resize(old_size + base64_encoded_size(bytes.size()) + 1);
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + old_size), bytes.data(),
                      static_cast<int>(std::min(bytes.size(), max_block_input)));
  out.resize(old_size + static_cast<std::size_t>(written));
}

std::string encode_base64(std::span<const std::uint8_t> bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

boost::system::result<std::size_t, wire_error> append_decoded_base64(
    std::string_view text, std::vector<std::uint8_t>& out) {
  if (text.size() % 4 != 0) {
    return wire_error{wire_errc::bad_value,
                      "base64: length " + std::to_string(text.size()) + " is not a multiple of 4"};
  }
  if (text.size() > max_block_input) {
    return wire_error{wire_errc::oversized, "base64: input too large"};
  }
  // EVP_DecodeBlock skips leading/trailing whitespace; the wire format has none, so refuse it
  // rather than accept a payload Twilio would not send.
  if (!text.empty() && (text.front() == ' ' || text.back() == ' ' || text.back() == '\n')) {
    return wire_error{wire_errc::bad_value, "base64: surrounding whitespace"};
  }
  // Padding may only close the text, at most two characters of it.
  const auto first_pad = text.find('=');
  const std::size_t padding = first_pad == std::string_view::npos ? 0 : text.size() - first_pad;
  if (padding > 2 ||
      (padding > 0 && text.find_first_not_of('=', first_pad) != std::string_view::npos)) {
    return wire_error{wire_errc::bad_value, "base64: misplaced padding"};
  }
  const auto old_size = out.size();
  out.resize(old_size + text.size() / 4 * 3);
  const int decoded =
      EVP_DecodeBlock(out.data() + old_size, reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (decoded < 0) {
    out.resize(old_size);
    return wire_error{wire_errc::bad_value, "base64: character outside the alphabet"};
  }
  // EVP_DecodeBlock counts the zero bytes that padding stands for; drop them.
  const auto produced = static_cast<std::size_t>(decoded) - padding;
  out.resize(old_size + produced);
  return produced;
}

boost::system::result<std::vector<std::uint8_t>, wire_error> decode_base64(std::string_view text) {
  std::vector<std::uint8_t> out;
  auto decoded = append_decoded_base64(text, out);
  if (!decoded)
    return decoded.error();
  return out;
}

}  // namespace switchboard::net
