// The TLS HTTP/WebSocket sessions (https:// and wss://), in their own TU: the TLS Beast
// instantiations are the most expensive code to compile.
#include "net/detail/http_session.hpp"
#include "net/detail/tls_impl.hpp"

#include <boost/beast/ssl.hpp>

namespace switchboard::net::detail {

void start_tls_http_session(boost::asio::ip::tcp::socket socket,
                            std::shared_ptr<const http_server_state> state,
                            std::shared_ptr<void> lease) {
  using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  auto& context = state->tls->native().context;
  std::make_shared<http_session<tls_stream>>(
      tls_stream(boost::beast::tcp_stream(std::move(socket)), context), std::move(state),
      std::move(lease))
      ->start();
}

}  // namespace switchboard::net::detail
