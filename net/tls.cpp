#include "net/tls.hpp"

#include "net/detail/tls_impl.hpp"

namespace switchboard::net {

namespace ssl = boost::asio::ssl;

tls_context::tls_context(std::unique_ptr<impl> implementation) : impl_(std::move(implementation)) {}
tls_context::~tls_context() = default;

boost::system::result<std::shared_ptr<tls_context>, std::string> tls_context::client() {
  auto implementation = std::make_unique<impl>(ssl::context::tls_client);
  boost::system::error_code ec;
  // OpenSSL's default verify paths read SSL_CERT_FILE / SSL_CERT_DIR when they are set.
  implementation->context.set_default_verify_paths(ec);
  if (ec)
    return "TLS: cannot load the default certificate store: " + ec.message();
  implementation->context.set_verify_mode(ssl::verify_peer);
  implementation->context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                      ssl::context::no_tlsv1_1);
  return std::shared_ptr<tls_context>(new tls_context(std::move(implementation)));
}

boost::system::result<std::shared_ptr<tls_context>, std::string> tls_context::server(
    const std::filesystem::path& certificate_chain_pem, const std::filesystem::path& key_pem) {
  auto implementation = std::make_unique<impl>(ssl::context::tls_server);
  boost::system::error_code ec;
  implementation->context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                      ssl::context::no_tlsv1_1);
  implementation->context.use_certificate_chain_file(certificate_chain_pem.string(), ec);
  if (ec)
    return "TLS: certificate " + certificate_chain_pem.string() + ": " + ec.message();
  implementation->context.use_private_key_file(key_pem.string(), ssl::context::pem, ec);
  if (ec)
    return "TLS: key " + key_pem.string() + ": " + ec.message();
  return std::shared_ptr<tls_context>(new tls_context(std::move(implementation)));
}

}  // namespace switchboard::net
