#pragma once
// The parts of the S3 client that do no I/O, unit-tested directly: addressing (path-style or
// virtual-host), S3's URI encoding, the few elements we read from S3's XML answers, the
// outcome of a response, and the presigned GET URL (SigV4 query signing, which libcurl cannot
// do: written here over OpenSSL's HMAC-SHA256 and tested against AWS's published example).

#include "net/s3_client.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::net {

/// S3's URI encoding (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html):
/// unreserved characters (A-Z a-z 0-9 - . _ ~) stay, every other byte becomes %XX (upper-case
/// hex); '/' stays when `keep_slash` (object keys in the path), else %2F (query values).
std::string s3_uri_encode(std::string_view text, bool keep_slash);

/// Whether `name` follows S3's bucket naming rules (3-63 characters, lower-case letters, digits,
/// dots and hyphens, beginning and ending with a letter or digit, no "..").
bool is_valid_bucket_name(std::string_view name);

/// Where the requests of one client go: "scheme://host[:port]" and the path before the key.
struct s3_addressing {
  std::string origin;       // "https://bucket.s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string host_header;  // what Host carries (and SigV4 signs): host[:port unless default]
  std::string path_prefix;  // "/bucket" path-style, "" virtual-host
};
/// From the config's endpoint (AWS's regional one when empty), bucket and addressing style.
boost::system::result<s3_addressing, std::string> make_s3_addressing(const s3_config& config);
/// origin + path_prefix + "/" + encoded key (+ "?" + query when not empty).
std::string s3_object_url(const s3_addressing& addressing, std::string_view key,
                          std::string_view query = {});

/// The text of the first <name>…</name> element in `xml`, entities decoded, or nullopt.
/// Bounded by the input; takes any bytes (S3's answers, or whatever a proxy put there).
std::optional<std::string> xml_element_text(std::string_view xml, std::string_view name);

/// The decision of issue 15: 2xx ok; 404 NoSuchKey (or a HEAD's 404) not_found; 5xx, 429,
/// SlowDown and RequestTimeout retryable; every other 4xx (AccessDenied, SignatureDoesNotMatch,
/// InvalidAccessKeyId, NoSuchBucket, 400s) permanent. `code` is S3's <Code> ("" when none).
s3_outcome classify_s3_response(unsigned http_status, std::string_view code, bool is_head);

/// CompleteMultipartUpload's body for parts 1..n with the ETags S3 answered for each.
std::string complete_multipart_xml(const std::vector<std::string>& part_etags);

/// A presigned GET URL for `key`, signed at `now` (injectable for the test vector), valid for
/// `valid_for` clamped to 1 s .. 7 days. Empty when the endpoint is unusable.
std::string presign_get_url(const s3_config& config, std::string_view key,
                            std::chrono::seconds valid_for,
                            std::chrono::system_clock::time_point now);

/// Lower-case hex of `bytes`.
std::string to_hex(std::string_view bytes);

}  // namespace switchboard::net
