// https:// requests: SNI, certificate chain and host-name verification, then HTTP over TLS.
// Its own TU: the TLS instantiations cost the most to compile.
#include "net/detail/http_client_exchange.hpp"
#include "net/detail/tls_client.hpp"
#include "net/detail/tls_impl.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>

namespace switchboard::net::detail {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <>
void http_client_exchange<tls_stream>::on_connect() {
  if (auto ec = prepare_tls_client(stream_, url_.host))
    return fail("TLS set-up for " + url_.host, ec);
  stream_.async_handshake(boost::asio::ssl::stream_base::client,
                          [self = shared_from_this()](boost::beast::error_code ec) {
                            if (ec)
                              return self->fail("TLS handshake with " + self->url_.host, ec);
                            self->write();
                          });
}

template <>
void http_client_exchange<tls_stream>::close() {
  // close_notify, bounded: a server that never answers it must not keep the socket open.
  boost::beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
  stream_.async_shutdown([self = shared_from_this()](boost::beast::error_code) {
    boost::beast::error_code ignored;
    boost::beast::get_lowest_layer(self->stream_).socket().close(ignored);
  });
}

void start_tls_http_request(boost::asio::io_context& io, http_url url, http_client_request request,
                            std::function<void(http_client_result)> done) {
  using exchange = http_client_exchange<tls_stream>;
  auto& context = request.tls->native().context;
  auto strand = boost::asio::make_strand(io);
  std::make_shared<exchange>(strand, tls_stream(strand, context), std::move(url),
                             std::move(request), std::move(done))
      ->start();
}

}  // namespace switchboard::net::detail
