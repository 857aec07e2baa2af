#include "net/form_body.hpp"

#include <boost/url/parse_query.hpp>

#include <cctype>

namespace switchboard::net {

std::vector<form_parameter> parse_form_body(std::string_view body) {
  std::vector<form_parameter> params;
  // Boost.URL 1.81's parse_query reads its input up to a NUL (strlen), past the end of a view
  // that is not NUL-terminated: found by fuzz_twilio_signature. Hand it a terminated copy.
  if (body.empty())
    return params;
  const std::string terminated(body);
  auto query = boost::urls::parse_query(terminated);
  if (!query)
    return params;
  const boost::urls::encoding_opts form_encoding{/*space_as_plus=*/true};
  for (auto param : *query) {
    params.push_back({param.key.decode(form_encoding), param.value.decode(form_encoding)});
  }
  return params;
}

std::string encode_form_body(std::span<const form_parameter> parameters) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  const auto append_encoded = [&out](std::string_view text) {
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '*') {
        out.push_back(c);
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out.push_back('%');
        out.push_back(hex[byte >> 4]);
        out.push_back(hex[byte & 0x0F]);
      }
    }
  };
  for (const auto& parameter : parameters) {
    if (!out.empty())
      out.push_back('&');
    append_encoded(parameter.name);
    out.push_back('=');
    append_encoded(parameter.value);
  }
  return out;
}

}  // namespace switchboard::net
