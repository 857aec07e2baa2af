#pragma once
// Splitting the URLs we connect to (http(s):// for REST and webhooks, ws(s):// for WebSockets)
// into what a connection needs. Boost.URL does the parsing.

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace switchboard::net {

struct endpoint_url {
  bool secure = false;
  std::string host;    // without brackets for IPv6
  std::string port;    // explicit or the scheme's default (80 / 443)
  std::string target;  // path and query, at least "/", without the fragment
};

/// Splits an absolute URL whose scheme is `plain_scheme` or `secure_scheme` (e.g. "ws", "wss").
/// Credentials in the URL are refused: they would end up in logs.
boost::system::result<endpoint_url, std::string> split_endpoint_url(std::string_view url,
                                                                    std::string_view plain_scheme,
                                                                    std::string_view secure_scheme);

}  // namespace switchboard::net
