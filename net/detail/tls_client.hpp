#pragma once
// Internal to net/: what every TLS client connection does before its handshake. Included by the
// TLS TUs only (websocket_client_tls.cpp, http_client_tls.cpp).

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace switchboard::net::detail {

/// Sets SNI (for a host name; never for an IP literal, RFC 6066 §3) so that servers behind
/// shared front ends pick the right certificate, and makes the handshake check the peer's
/// subjectAltName (DNS or IP) against `host`. The chain itself is checked by the context
/// (tls_context::client(): verify_peer against the default store / SSL_CERT_FILE).
template <class TlsStream>
boost::beast::error_code prepare_tls_client(TlsStream& stream, const std::string& host) {
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
  if (not_an_address && SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str())) != 1) {
    return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  }
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(host));
  return {};
}

}  // namespace switchboard::net::detail
