// http:// requests.
#include "net/detail/http_client_exchange.hpp"

#include <boost/asio/strand.hpp>

namespace switchboard::net::detail {

template <>
void http_client_exchange<boost::beast::tcp_stream>::on_connect() {
  write();
}

template <>
void http_client_exchange<boost::beast::tcp_stream>::close() {
  boost::beast::error_code ignored;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void start_plain_http_request(boost::asio::io_context& io, http_url url,
                              http_client_request request,
                              std::function<void(http_client_result)> done) {
  using exchange = http_client_exchange<boost::beast::tcp_stream>;
  auto strand = boost::asio::make_strand(io);
  std::make_shared<exchange>(strand, boost::beast::tcp_stream(strand), std::move(url),
                             std::move(request), std::move(done))
      ->start();
}

}  // namespace switchboard::net::detail
