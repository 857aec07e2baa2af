#pragma once
// A throw-away certificate authority and a server certificate it signed, generated in process
// (OpenSSL 3, EC P-256 keys, SHA-256 signatures), for serving wss:// locally: the model
// stand-in's TLS endpoint in tests, the benchmark, and users trying TLS without a real CA.
//
// Clients trust it by pointing SSL_CERT_FILE at ca.pem before creating their TLS context
// (net::tls_context::client() reads OpenSSL's default store). The server certificate names
// IP:127.0.0.1 and DNS:localhost in subjectAltName: host-name verification of an IP address
// checks IP SAN entries only, never the common name.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::sim {

enum class certificate_errc {
  invalid_option,   // self_signed_ca_options cannot make a usable certificate
  openssl_failure,  // key generation, certificate building or signing failed
  write_failure,    // a PEM file could not be written
};

struct certificate_error {
  certificate_errc code = certificate_errc::openssl_failure;
  std::string message;  // names the step or the file and OpenSSL's reason

  certificate_error() = default;
  certificate_error(certificate_errc error_code, std::string error_message)
      : code(error_code), message(std::move(error_message)) {}
};

[[noreturn]] void throw_exception_from_error(const certificate_error& error,
                                             const boost::source_location& location);

struct self_signed_ca_options {
  std::string ca_common_name = "switchboard local test CA";
  std::string server_common_name = "localhost";
  std::vector<std::string> dns_names{"localhost"};
  std::vector<std::string> ip_addresses{"127.0.0.1"};
  int valid_days = 30;
};

/// The PEM files written, all in the requested directory.
struct self_signed_ca_files {
  std::filesystem::path ca_certificate;            // ca.pem: what a client trusts
  std::filesystem::path server_certificate_chain;  // server-chain.pem: server cert, then CA
  std::filesystem::path server_key;                // server-key.pem: PKCS#8, unencrypted, 0600
};

/// Generates a CA and a server certificate signed by it and writes ca.pem, server-chain.pem and
/// server-key.pem into `directory` (which must exist), replacing files of those names.
boost::system::result<self_signed_ca_files, certificate_error> write_self_signed_ca(
    const std::filesystem::path& directory, const self_signed_ca_options& options = {});

}  // namespace switchboard::sim
