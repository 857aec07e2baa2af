#pragma once
// Internal to net/: the per-transport request functions, without Beast.

#include "net/http_client.hpp"

#include <functional>

namespace switchboard::net::detail {

void start_plain_http_request(boost::asio::io_context& io, http_url url,
                              http_client_request request,
                              std::function<void(http_client_result)> done);
void start_tls_http_request(boost::asio::io_context& io, http_url url, http_client_request request,
                            std::function<void(http_client_result)> done);

}  // namespace switchboard::net::detail
