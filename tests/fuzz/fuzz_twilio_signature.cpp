// libFuzzer target: Twilio request validation on hostile input. The input is split into a URL,
// a form body and a signature header; nothing may crash, and a signature we compute for any
// URL and body must validate.

#include "net/twilio_signature.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchboard::net;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto first = input.find('\n');
  const auto second = first == std::string_view::npos ? first : input.find('\n', first + 1);
  const auto url = input.substr(0, first);
  const auto body = first == std::string_view::npos ? std::string_view{}
                                                    : input.substr(first + 1, second - first - 1);
  const auto header =
      second == std::string_view::npos ? std::string_view{} : input.substr(second + 1);

  const auto params = parse_form_body(body);
  (void)is_valid_twilio_signature("token", header, url, params);
  (void)is_valid_twilio_signature_for_body("token", header, url, body);
  const auto signature = compute_twilio_signature("token", url, params);
  if (!is_valid_twilio_signature("token", signature, url, params))
    std::abort();
  return 0;
}
