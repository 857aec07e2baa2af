// wss:// client connections: SNI, certificate chain and host-name verification, then the
// WebSocket handshake over TLS. Its own TU: the TLS instantiations cost the most to compile.
#include "net/detail/tls_impl.hpp"
#include "net/detail/websocket_connector.hpp"

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

namespace switchboard::net::detail {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <>
void websocket_connector<tls_stream>::on_connect() {
  // SNI: servers behind shared front ends pick the certificate by it.
  // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
  if (SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url_.host.c_str())) != 1) {
    return fail("TLS SNI for " + url_.host,
                boost::beast::error_code(static_cast<int>(::ERR_get_error()),
                                         boost::asio::error::get_ssl_category()));
  }
  // Checks the certificate's subjectAltName (DNS or IP) against the host we asked for.
  stream_.set_verify_callback(boost::asio::ssl::host_name_verification(url_.host));
  stream_.async_handshake(boost::asio::ssl::stream_base::client,
                          [self = shared_from_this()](boost::beast::error_code ec) {
                            if (ec)
                              return self->fail("TLS handshake with " + self->url_.host, ec);
                            self->websocket_handshake();
                          });
}

void connect_tls_websocket(boost::asio::io_context& io, websocket_url url,
                           websocket_client_options options,
                           std::shared_ptr<websocket_handler> handler) {
  using connector = websocket_connector<tls_stream>;
  auto& context = options.tls->native().context;
  std::make_shared<connector>(io, tls_stream(boost::asio::make_strand(io), context), std::move(url),
                              std::move(options), std::move(handler))
      ->start();
}

}  // namespace switchboard::net::detail
