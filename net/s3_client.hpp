#pragma once
// Object storage for recordings: S3 and what speaks its API (MinIO, Ceph, GCS in its
// S3-compatible mode). Blocking calls over libcurl, signed with AWS Signature Version 4 by
// libcurl itself (CURLOPT_AWS_SIGV4; it does not add x-amz-content-sha256, so we set it to the
// payload's SHA-256). They run on the uploader's own threads, never on an io thread.
//
// Issue 15. Settings (config/settings): RECORDINGS_BUCKET_URL (s3://bucket/prefix), S3_ENDPOINT
// (unset: https://s3.<AWS_REGION>.amazonaws.com, virtual-host addressing; set: that endpoint,
// path-style unless S3_FORCE_PATH_STYLE=false), AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional).

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::net {

/// `s3://bucket/prefix` split. The prefix has no leading or trailing '/' ("" for none).
struct s3_location {
  std::string bucket;
  std::string prefix;
};
/// The error names what is wrong (scheme, empty or invalid bucket name per S3's naming rules).
boost::system::result<s3_location, std::string> parse_s3_url(std::string_view url);
/// "s3://bucket/key", what call.json records as "uploaded".
std::string s3_url(std::string_view bucket, std::string_view key);

struct s3_credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" when not temporary credentials
};

struct s3_config {
  std::string bucket;    // the bucket every key below lives in (s3_location::bucket)
  std::string endpoint;  // "" = AWS: https://s3.<region>.amazonaws.com
  std::string region = "us-east-1";
  bool path_style = false;  // true: endpoint/bucket/key; false: bucket.endpoint/key
  s3_credentials credentials;
  std::chrono::milliseconds timeout{60'000};  // one request, whole
  /// Files larger than this go as a multipart upload in parts of this size (S3: >= 5 MiB,
  /// except the last part).
  std::size_t multipart_threshold = 16 * 1024 * 1024;
  std::size_t part_size = 8 * 1024 * 1024;
  /// PEM bundle for https endpoints; "" = the system's.
  std::string ca_file;
};

/// How a request ended, for the uploader's retry decision.
enum class s3_outcome : std::uint8_t {
  ok,
  retryable,  // 5xx, 429/SlowDown/RequestTimeout, connection/TLS/timeout errors
  permanent,  // 403 AccessDenied/SignatureDoesNotMatch, 404 NoSuchBucket, 400 ...: don't retry
  not_found,  // GET/HEAD of a key that is not there (404 NoSuchKey)
};

struct s3_result {
  s3_outcome outcome = s3_outcome::ok;
  unsigned http_status = 0;  // 0 when no response
  /// Why, for the log: S3's <Code> and <Message>, or curl's error, naming bucket and key.
  std::string reason;
  std::string etag;  // PUT: the object's ETag as S3 answered it
};

struct s3_put_request {
  std::string key;             // full key, prefix included
  std::filesystem::path file;  // read from disk; never loaded whole for multipart
  std::string content_type;    // "audio/wav", "application/json", ...
};

struct s3_object_info {
  std::uint64_t size = 0;
  std::string content_type;
  std::string etag;
};

class s3_client {
 public:
  explicit s3_client(s3_config config);
  ~s3_client();
  s3_client(const s3_client&) = delete;
  s3_client& operator=(const s3_client&) = delete;

  /// Uploads one file, with Content-MD5 (S3 rejects a body that does not match) and
  /// x-amz-content-sha256; above multipart_threshold as a multipart upload (aborted on failure).
  /// Thread-safe: several uploader threads may share one client.
  s3_result put_file(const s3_put_request& request) const;

  /// HEAD: size, type, ETag; outcome not_found when absent.
  std::pair<s3_result, std::optional<s3_object_info>> head(std::string_view key) const;

  /// GET, the body handed over in pieces as it arrives (return false to stop).
  s3_result get(std::string_view key,
                const std::function<bool(std::string_view piece)>& on_body) const;

  /// A presigned GET URL valid for `valid_for` (SigV4 query signing; at most 7 days).
  std::string presign_get(std::string_view key, std::chrono::seconds valid_for) const;

  /// From now on every request, those under way included, ends within about a second as a
  /// retryable failure ("cancelled: the node is stopping"): a node's stop is not held by a
  /// bucket that does not answer. Thread-safe; for good. Returns how many were under way.
  std::size_t cancel();

  const s3_config& config() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::net
