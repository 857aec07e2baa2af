#pragma once
// Outgoing HTTP/1.1 requests (http:// or https://): the simulated Twilio's webhook POST, and
// later Twilio's REST API (basic auth, form bodies). One request per connection
// (`Connection: close`): these are rare control-plane requests, not a data path worth pooling.
// Non-template interface; Beast lives in http_client_{plain,tls}.cpp.

#include "net/form_body.hpp"
#include "net/tls.hpp"
#include "net/twilio_signature.hpp"
#include "net/url.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {

struct http_client_request {
  std::string method = "GET";  // any token: GET, POST, PUT, DELETE, ...
  std::string url;             // http://host[:port]/path?query or https://...
  /// Sent after the defaults (Host, User-Agent: switchboard, Connection: close), so a header
  /// named here replaces a default. Content-Length is computed from `body`.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The whole exchange (resolve, connect, TLS, write, read) must finish within this.
  std::chrono::milliseconds timeout{10'000};
  std::shared_ptr<tls_context> tls;  // required for https://: verifies the chain and host name
  std::size_t max_response_body_bytes = 1024 * 1024;
};

struct http_client_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in wire order
  std::string body;

  /// The first header of that name (ASCII case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
};

/// The response, or why there is none (resolve, connect, TLS, timeout, malformed response), in
/// words naming the host. Any HTTP status, 4xx and 5xx included, is a response.
using http_client_result = boost::system::result<http_client_response, std::string>;

/// Starts the request and returns at once; `done` is called exactly once, on an io thread (or
/// before this returns, for a URL that cannot be used).
void http_request_async(boost::asio::io_context& io, http_client_request request,
                        std::function<void(http_client_result)> done);

/// Splits an http:// or https:// URL; an error names what is wrong with it.
using http_url = endpoint_url;
boost::system::result<http_url, std::string> parse_http_url(std::string_view url);

/// `Basic base64(user:password)` for an Authorization header (RFC 7617); Twilio's REST API
/// takes AccountSid:AuthToken or ApiKeySid:ApiKeySecret (protocols.md §A6).
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace switchboard::net
