#include "net/http_types.hpp"

#include <algorithm>
#include <cctype>

namespace switchboard::net {

namespace {
bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}
}  // namespace

std::string_view http_request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name))
      return value;
  }
  return {};
}

std::string_view http_request::path() const {
  std::string_view view(target);
  return view.substr(0, view.find('?'));
}

http_response http_response::text(unsigned status, std::string body) {
  http_response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

http_response http_response::json(unsigned status, std::string body) {
  http_response response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

}  // namespace switchboard::net
