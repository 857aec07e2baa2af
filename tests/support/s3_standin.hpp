#pragma once
// The S3 stand-in (tests/s3/s3_standin.mjs: s3rver behind a front server that checks every
// request's AWS Signature Version 4 with the AWS SDK's own signer) as a child process for the
// length of a test. Link switchboard::test_s3_standin; scripts/setup installs its node_modules.
//
//   switchboard::testing::s3_standin s3;              // bucket "recordings", known credentials
//   net::s3_client client(s3.client_config());       // path-style, http://127.0.0.1:PORT
//   ... client.put_file(...) ...
//   s3.inject_faults({.status = 503, .count = 2});   // the next two S3 requests: 503 SlowDown
//   for (const auto& r : s3.requests()) CHECK(r.signature_ok);
//
// Every S3 request the stand-in received is in requests(), in arrival order, with whether its
// signature matched: a test that needs "the server has seen it" reads it there. The log and the
// faults are the stand-in's only state besides the bucket's objects, which live in directory()
// (s3rver's layout) until the destructor kills the process (SIGTERM, reaped) and removes it.

#include "net/s3_client.hpp"
#include "support/temporary_directory.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::sim {
class server_process;
}

namespace switchboard::testing {

struct s3_standin_options {
  std::string bucket = "recordings";  // created at start
  std::string access_key = "AKIASTANDINEXAMPLE";
  std::string secret_key = "standin/secret+key/EXAMPLEKEY";
  std::string region = "us-east-1";
};

/// One S3 request as the stand-in saw it (control routes are not logged).
struct s3_standin_request {
  std::string method;         // "PUT", "GET", ...
  std::string path;           // raw, as sent: "/recordings/calls/a%20b.wav"
  std::string query;          // raw, without '?': "partNumber=1&uploadId=..."
  bool signature_ok = false;  // the front server's SigV4 check passed (header or presigned)
  unsigned status = 0;        // what it answered (0: the answer never came)
  std::string error_code;     // S3's <Code> when the front server refused ("" otherwise)
  std::vector<std::string> signed_headers;  // as the Authorization header listed them
  std::string session_token;                // x-amz-security-token ("" when absent)
  std::string content_md5;                  // as sent ("" when absent)
  bool fault = false;                       // answered (or delayed) by an injected fault
};

/// What to inject: the next `count` S3 requests (-1: all, until clear_faults) after `skip`
/// untouched ones are held `hang_ms` and then answered with `status` and S3's error body for it
/// (503/429 SlowDown, 500 InternalError, 403 AccessDenied, 404 NoSuchBucket, 400
/// InvalidRequest); status 0 with hang_ms: held, then served normally.
struct s3_fault {
  unsigned status = 0;
  int count = 1;
  int skip = 0;
  unsigned hang_ms = 0;
};

class s3_standin {
 public:
  /// Starts `node tests/s3/s3_standin.mjs` and waits for its port; throws std::runtime_error
  /// (with its output) when it does not come up.
  s3_standin();
  explicit s3_standin(s3_standin_options options);
  /// SIGTERM, reaped; its directory removed.
  ~s3_standin();
  s3_standin(const s3_standin&) = delete;
  s3_standin& operator=(const s3_standin&) = delete;

  std::uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT": S3_ENDPOINT for a switchboard under test (path-style).
  std::string endpoint() const;
  const std::string& bucket() const { return options_.bucket; }
  const std::string& access_key() const { return options_.access_key; }
  const std::string& secret_key() const { return options_.secret_key; }
  const std::string& region() const { return options_.region; }
  /// Where s3rver keeps the bucket's objects.
  const std::filesystem::path& directory() const { return storage_.path(); }

  /// A client config that reaches this stand-in: endpoint, path-style, bucket, region and the
  /// right credentials (no session token).
  net::s3_config client_config() const;

  /// Replaces the faults in force (throws std::runtime_error when the stand-in does not answer).
  void inject_faults(const s3_fault& fault);
  void clear_faults();
  /// Every S3 request so far, oldest first.
  std::vector<s3_standin_request> requests() const;
  /// Forgets the log and the faults (the objects stay).
  void reset();

 private:
  s3_standin_options options_;
  temporary_directory storage_;
  std::unique_ptr<sim::server_process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace switchboard::testing
