#include "net/detail/http_message.hpp"

namespace switchboard::net::detail {

namespace http = boost::beast::http;

http_request to_http_request(const http::request<http::string_body>& request,
                             const std::string& remote_address) {
  http_request out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  for (const auto& field : request) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = request.body();
  out.remote_address = remote_address;
  return out;
}

http::response<http::string_body> to_beast_response(const http_response& response, unsigned version,
                                                    bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "switchboard");
  out.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers)
    out.set(name, value);
  out.body() = response.body;
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

}  // namespace switchboard::net::detail
