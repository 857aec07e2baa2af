#pragma once
// TLS contexts, created once at start-up and shared by every connection of their kind.
// Client: verifies the peer's certificate chain and host name (SNI is set per connection);
// trusts OpenSSL's default store, which honours SSL_CERT_FILE and SSL_CERT_DIR.
// Server: a certificate chain and key from PEM files (the model stand-in's wss:// endpoint).

#include <boost/system/result.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace switchboard::net {

class tls_context {
 public:
  static boost::system::result<std::shared_ptr<tls_context>, std::string> client();
  static boost::system::result<std::shared_ptr<tls_context>, std::string> server(
      const std::filesystem::path& certificate_chain_pem, const std::filesystem::path& key_pem);

  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  struct impl;  // holds the boost::asio::ssl::context; see net/detail/tls_impl.hpp
  impl& native() { return *impl_; }

 private:
  explicit tls_context(std::unique_ptr<impl> implementation);
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::net
