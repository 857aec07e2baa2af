// The throw-away CA: files and permissions, a chain that OpenSSL verifies, the SANs that
// host-name verification of 127.0.0.1 and localhost needs, and errors as values.
#include "net/tls.hpp"
#include "sim/self_signed_ca.hpp"
#include "support/temporary_directory.hpp"

#include <catch2/catch.hpp>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <sys/stat.h>

using namespace switchboard::sim;

namespace {

using scratch_directory = switchboard::testing::temporary_directory;

struct x509_free {
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(X509_STORE* store) const { X509_STORE_free(store); }
  void operator()(X509_STORE_CTX* context) const { X509_STORE_CTX_free(context); }
};
using certificate_ptr = std::unique_ptr<X509, x509_free>;

certificate_ptr read_first_certificate(const std::filesystem::path& file) {
  std::FILE* stream = std::fopen(file.c_str(), "r");
  REQUIRE(stream != nullptr);
  certificate_ptr certificate(PEM_read_X509(stream, nullptr, nullptr, nullptr));
  std::fclose(stream);
  REQUIRE(certificate);
  return certificate;
}

// X509_V_OK when `leaf` chains up to `root` (purpose: TLS server).
int verify(X509* leaf, X509* root) {
  std::unique_ptr<X509_STORE, x509_free> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root);
  std::unique_ptr<X509_STORE_CTX, x509_free> context(X509_STORE_CTX_new());
  X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
  X509_verify_cert(context.get());
  return X509_STORE_CTX_get_error(context.get());
}

}  // namespace

TEST_CASE("the CA, chain and key are written as PEM, the key readable by its owner only",
          "[self_signed_ca]") {
  scratch_directory directory;
  auto files = write_self_signed_ca(directory.path());
  REQUIRE(files.has_value());
  CHECK(files->ca_certificate == directory.path() / "ca.pem");
  CHECK(files->server_certificate_chain == directory.path() / "server-chain.pem");
  CHECK(files->server_key == directory.path() / "server-key.pem");

  struct stat key_status {};
  REQUIRE(::stat(files->server_key.c_str(), &key_status) == 0);
  CHECK((key_status.st_mode & 0777) == 0600);

  // The TLS server context accepts the chain and the key as a pair.
  CHECK(switchboard::net::tls_context::server(files->server_certificate_chain, files->server_key)
            .has_value());
}

TEST_CASE("the server certificate chains to the CA and names 127.0.0.1 and localhost",
          "[self_signed_ca]") {
  scratch_directory directory;
  auto files = write_self_signed_ca(directory.path());
  REQUIRE(files.has_value());
  const auto ca = read_first_certificate(files->ca_certificate);
  const auto server = read_first_certificate(files->server_certificate_chain);

  CHECK(verify(server.get(), ca.get()) == X509_V_OK);
  CHECK(X509_check_ca(ca.get()) == 1);
  CHECK(X509_check_ca(server.get()) == 0);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_host(server.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.2", 0) == 0);
  CHECK(X509_check_host(server.get(), "example.com", 0, 0, nullptr) == 0);

  // A second CA is a different authority: it does not vouch for the first one's server.
  scratch_directory other_directory;
  auto other = write_self_signed_ca(other_directory.path());
  REQUIRE(other.has_value());
  const auto other_ca = read_first_certificate(other->ca_certificate);
  CHECK(verify(server.get(), other_ca.get()) != X509_V_OK);
}

TEST_CASE("custom names go into subjectAltName", "[self_signed_ca]") {
  scratch_directory directory;
  auto files = write_self_signed_ca(
      directory.path(), {.dns_names = {"model.test"}, .ip_addresses = {"10.1.2.3", "::1"}});
  REQUIRE(files.has_value());
  const auto server = read_first_certificate(files->server_certificate_chain);
  CHECK(X509_check_host(server.get(), "model.test", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(server.get(), "10.1.2.3", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 0);
}

TEST_CASE("failures are values that name the file or the setting", "[self_signed_ca]") {
  scratch_directory directory;
  const auto missing = directory.path() / "no-such-directory";
  auto unwritable = write_self_signed_ca(missing);
  REQUIRE_FALSE(unwritable.has_value());
  CHECK(unwritable.error().code == certificate_errc::write_failure);
  CHECK(unwritable.error().message.find(missing.string()) != std::string::npos);

  auto nameless = write_self_signed_ca(directory.path(), {.dns_names = {}, .ip_addresses = {}});
  REQUIRE_FALSE(nameless.has_value());
  CHECK(nameless.error().code == certificate_errc::invalid_option);
  CHECK(nameless.error().message.find("subjectAltName") != std::string::npos);

  auto bad_ip = write_self_signed_ca(directory.path(), {.ip_addresses = {"not-an-ip"}});
  REQUIRE_FALSE(bad_ip.has_value());
  CHECK(bad_ip.error().code == certificate_errc::openssl_failure);
}
