// https:// requests: SNI, certificate chain and host-name verification, then HTTP over TLS.
// Its own TU: the TLS instantiations cost the most to compile.
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include "net/detail/http_client_exchange.hpp"
#include "net/detail/tls_impl.hpp"

namespace switchboard::net::detail {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <>
void http_client_exchange<tls_stream>::on_connect() {
  // SNI carries a host name, never an IP literal (RFC 6066 §3); servers behind shared front
  // ends pick the certificate by it. SSL_set_tlsext_host_name is a macro with a C cast; this
  // is what it expands to.
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(url_.host, not_an_address);
  if (not_an_address &&
      SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url_.host.c_str())) != 1) {
    return fail("TLS SNI for " + url_.host,
                boost::beast::error_code(static_cast<int>(::ERR_get_error()),
                                         boost::asio::error::get_ssl_category()));
  }
  // Checks the certificate's subjectAltName (DNS or IP) against the host we asked for.
  stream_.set_verify_callback(boost::asio::ssl::host_name_verification(url_.host));
  stream_.async_handshake(boost::asio::ssl::stream_base::client,
                          [self = shared_from_this()](boost::beast::error_code ec) {
                            if (ec) return self->fail("TLS handshake with " + self->url_.host, ec);
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
