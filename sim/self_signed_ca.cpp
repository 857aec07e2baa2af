#include "sim/self_signed_ca.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace switchboard::sim {

void throw_exception_from_error(const certificate_error& error, const boost::source_location&) {
  throw std::runtime_error(error.message);
}

namespace {

struct openssl_free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* certificate) const { X509_free(certificate); }
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
  void operator()(BIGNUM* number) const { BN_free(number); }
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, openssl_free>;
using certificate_ptr = std::unique_ptr<X509, openssl_free>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_free>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_free>;
using bio_ptr = std::unique_ptr<BIO, openssl_free>;

using certificate_result = boost::system::result<certificate_ptr, certificate_error>;

// The step that failed and OpenSSL's oldest queued reason (the root cause), queue cleared.
certificate_error openssl_error(std::string_view step) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  std::string message = "self-signed CA: " + std::string(step) + " failed";
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += ": ";
    message += reason;
  }
  return {certificate_errc::openssl_failure, std::move(message)};
}

bool add_extension(X509* certificate, X509V3_CTX& context, int nid, const std::string& value) {
  extension_ptr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value.c_str()));
  return extension && X509_add_ext(certificate, extension.get(), -1) == 1;
}

bool set_common_name(X509_NAME* name, const std::string& common_name) {
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                    -1, 0) == 1;
}

// A random positive 63-bit serial: RFC 5280 §4.1.2.2 wants serials unique per CA and positive.
bool set_random_serial(X509* certificate) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return false;
  bytes[0] &= 0x7F;
  bignum_ptr number(BN_bin2bn(bytes, sizeof bytes, nullptr));
  return number && BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(certificate)) != nullptr;
}

struct certificate_request {
  std::string common_name;
  bool is_ca = false;
  std::string subject_alt_names;  // "IP:127.0.0.1,DNS:localhost"; empty for the CA
  int valid_days = 30;
};

// Builds and signs a certificate for `subject_key`; with issuer == nullptr it signs itself.
certificate_result make_certificate(const certificate_request& request, EVP_PKEY* subject_key,
                                    X509* issuer, EVP_PKEY* issuer_key) {
  certificate_ptr certificate(X509_new());
  if (!certificate)
    return openssl_error("X509_new");
  X509* cert = certificate.get();
  if (X509_set_version(cert, X509_VERSION_3) != 1 || !set_random_serial(cert)) {
    return openssl_error("setting version and serial of " + request.common_name);
  }
  // Backdated an hour so that a client whose clock is slightly behind still accepts it.
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), request.valid_days, 0, nullptr) == nullptr) {
    return openssl_error("setting validity of " + request.common_name);
  }
  if (!set_common_name(X509_get_subject_name(cert), request.common_name)) {
    return openssl_error("setting subject of " + request.common_name);
  }
  X509* signer = issuer != nullptr ? issuer : cert;
  if (X509_set_issuer_name(cert, X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert, subject_key) != 1) {
    return openssl_error("setting issuer and key of " + request.common_name);
  }

  X509V3_CTX context;
  X509V3_set_ctx(&context, signer, cert, nullptr, nullptr, 0);
  bool extensions_ok = add_extension(cert, context, NID_subject_key_identifier, "hash");
  if (request.is_ca) {
    extensions_ok = extensions_ok &&
                    add_extension(cert, context, NID_basic_constraints, "critical,CA:TRUE") &&
                    add_extension(cert, context, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    extensions_ok = extensions_ok &&
                    add_extension(cert, context, NID_basic_constraints, "critical,CA:FALSE") &&
                    add_extension(cert, context, NID_key_usage, "critical,digitalSignature") &&
                    add_extension(cert, context, NID_ext_key_usage, "serverAuth") &&
                    add_extension(cert, context, NID_authority_key_identifier, "keyid:always") &&
                    add_extension(cert, context, NID_subject_alt_name, request.subject_alt_names);
  }
  if (!extensions_ok)
    return openssl_error("adding extensions to " + request.common_name);
  if (X509_sign(cert, issuer_key, EVP_sha256()) == 0) {
    return openssl_error("signing " + request.common_name);
  }
  return certificate;
}

boost::system::result<std::string, certificate_error> to_pem(X509* certificate, EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio)
    return openssl_error("BIO_new");
  const bool written =
      certificate != nullptr
          ? PEM_write_bio_X509(bio.get(), certificate) == 1
          : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (!written)
    return openssl_error("PEM encoding");
  char* data = nullptr;
  // BIO_get_mem_data is a macro with a C-style cast; this is what it expands to.
  const long size = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Writes through POSIX calls so that the key file is created 0600, never briefly readable.
boost::system::result<void, certificate_error> write_file(const std::filesystem::path& path,
                                                          const std::string& contents,
                                                          mode_t mode) {
  auto failure = [&path](std::string_view what) {
    return certificate_error(certificate_errc::write_failure,
                             "self-signed CA: cannot " + std::string(what) + " " + path.string() +
                                 ": " + std::strerror(errno));
  };
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (descriptor < 0)
    return failure("create");
  // An existing file keeps its old mode through O_CREAT; set it explicitly.
  if (::fchmod(descriptor, mode) != 0) {
    const auto error = failure("chmod");
    ::close(descriptor);
    return error;
  }
  std::size_t offset = 0;
  while (offset < contents.size()) {
    const ssize_t written = ::write(descriptor, contents.data() + offset, contents.size() - offset);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      const auto error = failure("write");
      ::close(descriptor);
      return error;
    }
    offset += static_cast<std::size_t>(written);
  }
  if (::close(descriptor) != 0)
    return failure("close");
  return {};
}

std::string subject_alt_names(const self_signed_ca_options& options) {
  std::string names;
  for (const auto& ip : options.ip_addresses)
    names += (names.empty() ? "IP:" : ",IP:") + ip;
  for (const auto& dns : options.dns_names)
    names += (names.empty() ? "DNS:" : ",DNS:") + dns;
  return names;
}

}  // namespace

boost::system::result<self_signed_ca_files, certificate_error> write_self_signed_ca(
    const std::filesystem::path& directory, const self_signed_ca_options& options) {
  if (options.ip_addresses.empty() && options.dns_names.empty()) {
    return certificate_error(certificate_errc::invalid_option,
                             "self-signed CA: the server certificate needs at least one IP address "
                             "or DNS name for subjectAltName");
  }
  key_ptr ca_key(EVP_EC_gen("P-256"));
  if (!ca_key)
    return openssl_error("generating the CA key (EC P-256)");
  key_ptr server_key(EVP_EC_gen("P-256"));
  if (!server_key)
    return openssl_error("generating the server key (EC P-256)");

  auto ca = make_certificate({options.ca_common_name, true, {}, options.valid_days}, ca_key.get(),
                             nullptr, ca_key.get());
  if (!ca)
    return ca.error();
  auto server = make_certificate(
      {options.server_common_name, false, subject_alt_names(options), options.valid_days},
      server_key.get(), ca->get(), ca_key.get());
  if (!server)
    return server.error();

  auto ca_pem = to_pem(ca->get(), nullptr);
  if (!ca_pem)
    return ca_pem.error();
  auto server_pem = to_pem(server->get(), nullptr);
  if (!server_pem)
    return server_pem.error();
  auto key_pem = to_pem(nullptr, server_key.get());
  if (!key_pem)
    return key_pem.error();

  self_signed_ca_files files{directory / "ca.pem", directory / "server-chain.pem",
                             directory / "server-key.pem"};
  if (auto written = write_file(files.ca_certificate, *ca_pem, 0644); !written) {
    return written.error();
  }
  if (auto written = write_file(files.server_certificate_chain, *server_pem + *ca_pem, 0644);
      !written) {
    return written.error();
  }
  if (auto written = write_file(files.server_key, *key_pem, 0600); !written) {
    return written.error();
  }
  return files;
}

}  // namespace switchboard::sim
