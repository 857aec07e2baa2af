#include "net/http_client.hpp"

#include "net/base64.hpp"
#include "net/detail/http_client_api.hpp"
#include "net/url.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace switchboard::net {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

void fail_now(const std::function<void(http_client_result)>& done, std::string why) {
  done(http_client_result(boost::system::in_place_error, std::move(why)));
}

}  // namespace

std::string_view http_client_response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name))
      return value;
  }
  return {};
}

boost::system::result<http_url, std::string> parse_http_url(std::string_view url) {
  return split_endpoint_url(url, "http", "https");
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string credentials;
  credentials.reserve(user.size() + 1 + password.size());
  credentials.append(user).append(":").append(password);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(credentials.data());
  return "Basic " + encode_base64({bytes, credentials.size()});
}

void http_request_async(boost::asio::io_context& io, http_client_request request,
                        std::function<void(http_client_result)> done) {
  auto url = parse_http_url(request.url);
  if (!url)
    return fail_now(done, url.error());
  if (request.method.empty() || has_line_break(request.method) ||
      request.method.find(' ') != std::string::npos) {
    return fail_now(done, "method '" + request.method + "' is not an HTTP token");
  }
  // A CR or LF in a header would let a value write further headers (header injection).
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value)) {
      return fail_now(done, "header '" + name + "' has an empty name or a line break");
    }
  }
  if (url->secure) {
    if (!request.tls)
      return fail_now(done, "https:// needs a TLS context: " + request.url);
    return detail::start_tls_http_request(io, std::move(*url), std::move(request), std::move(done));
  }
  detail::start_plain_http_request(io, std::move(*url), std::move(request), std::move(done));
}

}  // namespace switchboard::net
