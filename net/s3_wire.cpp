#include "net/s3_wire.hpp"

#include <boost/url/parse.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>

namespace switchboard::net {

namespace {

// s3_location and s3_addressing are aggregates of strings, so a bare string would be ambiguous
// between the value and the error.
boost::system::result<s3_location, std::string> location_error(std::string why) {
  return {boost::system::in_place_error, std::move(why)};
}
boost::system::result<s3_addressing, std::string> addressing_error(std::string why) {
  return {boost::system::in_place_error, std::move(why)};
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length);
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

// "20130524T000000Z" and "20130524" of a UTC time.
std::pair<std::string, std::string> amz_dates(std::chrono::system_clock::time_point now) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 32> text{};
  const auto length = std::strftime(text.data(), text.size(), "%Y%m%dT%H%M%SZ", &utc);
  std::string long_date(text.data(), length);
  return {long_date, long_date.substr(0, 8)};
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0x0f]);
  }
  return out;
}

std::string s3_uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(digits[byte >> 4]);
      out.push_back(digits[byte & 0x0f]);
    }
  }
  return out;
}

bool is_valid_bucket_name(std::string_view name) {
  // docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
  const auto letter_or_digit = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (name.size() < 3 || name.size() > 63)
    return false;
  if (!letter_or_digit(name.front()) || !letter_or_digit(name.back()))
    return false;
  if (!std::all_of(name.begin(), name.end(),
                   [&](char c) { return letter_or_digit(c) || c == '.' || c == '-'; }))
    return false;
  if (name.find("..") != std::string_view::npos)
    return false;
  // Not formatted as an IP address (192.168.5.4).
  const bool digits_and_dots = std::all_of(
      name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  return !(digits_and_dots && std::count(name.begin(), name.end(), '.') == 3);
}

boost::system::result<s3_location, std::string> parse_s3_url(std::string_view url) {
  constexpr std::string_view scheme = "s3://";
  if (!url.starts_with(scheme))
    return location_error("not an s3:// URL: '" + std::string(url) + "'");
  auto rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    return location_error("an s3:// URL has no query or fragment: '" + std::string(url) + "'");
  const auto slash = rest.find('/');
  const auto bucket = rest.substr(0, slash);
  if (bucket.empty())
    return location_error("no bucket in '" + std::string(url) + "'");
  if (!is_valid_bucket_name(bucket)) {
    return location_error(
        "bucket name '" + std::string(bucket) +
        "' breaks S3's naming rules (3-63 lower-case letters, digits, dots and hyphens, "
        "beginning and ending with a letter or digit)");
  }
  auto prefix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.front() == '/')
    prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/')
    prefix.remove_suffix(1);
  return s3_location{std::string(bucket), std::string(prefix)};
}

std::string s3_url(std::string_view bucket, std::string_view key) {
  std::string out = "s3://";
  out.append(bucket).append("/").append(key);
  return out;
}

boost::system::result<s3_addressing, std::string> make_s3_addressing(const s3_config& config) {
  // A NUL-terminated copy: Boost.URL 1.81 may read past the end of a view (see url.cpp).
  const std::string endpoint =
      config.endpoint.empty() ? "https://s3." + config.region + ".amazonaws.com" : config.endpoint;
  auto parsed = boost::urls::parse_uri(endpoint);
  if (!parsed)
    return addressing_error("S3 endpoint is not a URL: '" + endpoint + "'");
  const auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https")
    return addressing_error("S3 endpoint must be http:// or https://: '" + endpoint + "'");
  if (parsed->has_userinfo() || parsed->encoded_host().empty())
    return addressing_error("S3 endpoint needs a host and no credentials: '" + endpoint + "'");
  if (!is_valid_bucket_name(config.bucket))
    return addressing_error("bucket name '" + config.bucket + "' breaks S3's naming rules");
  const bool default_port = !parsed->has_port() || (scheme == "http" && parsed->port() == "80") ||
                            (scheme == "https" && parsed->port() == "443");
  std::string host(parsed->encoded_host());
  if (!config.path_style)
    host = config.bucket + "." + host;
  if (!default_port)
    host += ":" + std::string(parsed->port());
  s3_addressing out;
  out.origin = std::string(scheme) + "://" + host;
  out.host_header = host;
  out.path_prefix = config.path_style ? "/" + config.bucket : "";
  return out;
}

std::string s3_object_url(const s3_addressing& addressing, std::string_view key,
                          std::string_view query) {
  std::string url = addressing.origin + addressing.path_prefix + "/" + s3_uri_encode(key, true);
  if (!query.empty())
    url.append("?").append(query);
  return url;
}

std::optional<std::string> xml_element_text(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name);
  const std::string close = "</" + std::string(name) + ">";
  std::size_t at = 0;
  for (;;) {
    at = xml.find(open, at);
    if (at == std::string_view::npos)
      return std::nullopt;
    const auto after = at + open.size();
    if (after < xml.size() && (xml[after] == '>' || xml[after] == ' ' || xml[after] == '\t' ||
                               xml[after] == '\r' || xml[after] == '\n'))
      break;
    at = after;  // <CodeX> is not <Code>
  }
  const auto tag_end = xml.find('>', at);
  if (tag_end == std::string_view::npos || xml[tag_end - 1] == '/')
    return std::nullopt;  // unterminated or <Code/>
  const auto end = xml.find(close, tag_end + 1);
  if (end == std::string_view::npos)
    return std::nullopt;
  const auto raw = xml.substr(tag_end + 1, end - tag_end - 1);

  std::string text;
  text.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      text.push_back(raw[i]);
      continue;
    }
    const auto semicolon = raw.find(';', i);
    if (semicolon == std::string_view::npos || semicolon - i > 10) {
      text.push_back('&');
      continue;
    }
    const auto entity = raw.substr(i + 1, semicolon - i - 1);
    std::optional<char> decoded;
    if (entity == "lt")
      decoded = '<';
    else if (entity == "gt")
      decoded = '>';
    else if (entity == "amp")
      decoded = '&';
    else if (entity == "quot")
      decoded = '"';
    else if (entity == "apos")
      decoded = '\'';
    else if (entity.size() > 1 && entity[0] == '#') {
      // Numeric references to ASCII only (S3 writes &#34; for '"'); others stay as written.
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const auto digits = entity.substr(hex ? 2 : 1);
      unsigned value = 0;
      const auto [ptr, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec == std::errc() && ptr == digits.data() + digits.size() && value > 0 && value < 0x80)
        decoded = static_cast<char>(value);
    }
    if (decoded) {
      text.push_back(*decoded);
      i = semicolon;
    } else {
      text.push_back('&');
    }
  }
  return text;
}

s3_outcome classify_s3_response(unsigned http_status, std::string_view code, bool is_head) {
  if (http_status >= 200 && http_status < 300)
    return s3_outcome::ok;
  if (http_status == 404 && (code == "NoSuchKey" || (is_head && code.empty())))
    return s3_outcome::not_found;
  if (http_status >= 500 || http_status == 429 || code == "SlowDown" || code == "RequestTimeout")
    return s3_outcome::retryable;
  return s3_outcome::permanent;
}

std::string complete_multipart_xml(const std::vector<std::string>& part_etags) {
  std::string xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (std::size_t i = 0; i < part_etags.size(); ++i) {
    // ETags are hex in quotes: escape the quotes, as S3's own answers do.
    std::string etag;
    for (const char c : part_etags[i]) {
      if (c == '"')
        etag += "&quot;";
      else if (c == '&')
        etag += "&amp;";
      else if (c == '<')
        etag += "&lt;";
      else
        etag.push_back(c);
    }
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etag +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  return xml;
}

std::string presign_get_url(const s3_config& config, std::string_view key,
                            std::chrono::seconds valid_for,
                            std::chrono::system_clock::time_point now) {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
  const auto addressing = make_s3_addressing(config);
  if (!addressing)
    return {};
  // S3 refuses a presigned URL valid for more than 7 days.
  constexpr std::chrono::seconds::rep max_expiry =
      std::chrono::seconds(std::chrono::days(7)).count();
  const auto expires = std::clamp<std::chrono::seconds::rep>(valid_for.count(), 1, max_expiry);
  const auto [long_date, short_date] = amz_dates(now);
  const std::string scope = short_date + "/" + config.region + "/s3/aws4_request";
  const auto& credentials = config.credentials;

  // The query in canonical order (sorted by name).
  std::string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  query += "&X-Amz-Credential=" + s3_uri_encode(credentials.access_key_id + "/" + scope, false);
  query += "&X-Amz-Date=" + long_date;
  query += "&X-Amz-Expires=" + std::to_string(expires);
  if (!credentials.session_token.empty())
    query += "&X-Amz-Security-Token=" + s3_uri_encode(credentials.session_token, false);
  query += "&X-Amz-SignedHeaders=host";

  const std::string path = addressing->path_prefix + "/" + s3_uri_encode(key, true);
  const std::string canonical_request = "GET\n" + path + "\n" + query +
                                        "\nhost:" + addressing->host_header +
                                        "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + long_date + "\n" + scope + "\n" + to_hex(sha256(canonical_request));
  auto signing_key = hmac_sha256("AWS4" + credentials.secret_access_key, short_date);
  signing_key = hmac_sha256(signing_key, config.region);
  signing_key = hmac_sha256(signing_key, "s3");
  signing_key = hmac_sha256(signing_key, "aws4_request");
  const std::string signature = to_hex(hmac_sha256(signing_key, string_to_sign));
  return addressing->origin + path + "?" + query + "&X-Amz-Signature=" + signature;
}

}  // namespace switchboard::net
