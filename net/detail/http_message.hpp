#pragma once
// Internal to net/: between Beast's HTTP messages and the plain http_request/http_response the
// rest of the program sees. Its own TU (http_message.cpp), with Beast's message types only, so
// that the fuzzer of the request path (tests/fuzz/fuzz_http_request.cpp) links it without the
// server's sockets.

#include "net/http_types.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace switchboard::net::detail {

http_request to_http_request(
    const boost::beast::http::request<boost::beast::http::string_body>& request,
    const std::string& remote_address);
boost::beast::http::response<boost::beast::http::string_body> to_beast_response(
    const http_response& response, unsigned version, bool keep_alive);

}  // namespace switchboard::net::detail
