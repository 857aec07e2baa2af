#include "net/s3_client.hpp"

#include "net/base64.hpp"
#include "net/s3_wire.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <curl/curl.h>
#include <mutex>
#include <span>
#include <system_error>
#include <vector>

namespace switchboard::net {

namespace {

// SHA-256 of no bytes: the x-amz-content-sha256 of GET, HEAD, DELETE and an empty POST.
constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// S3 allows at most 10,000 parts per upload.
constexpr std::uint64_t max_parts = 10'000;
// Answers we keep whole (errors, the multipart XML); a bigger one is cut, as it is no S3 answer.
constexpr std::size_t max_kept_body = 1 << 20;

void init_curl_once() {
  // curl_global_init is not thread-safe: once per process, before the first handle.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct easy_deleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct slist_deleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct file_closer {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using file_handle = std::unique_ptr<std::FILE, file_closer>;

/// Content-MD5 (base64 of the MD5) and x-amz-content-sha256 (hex of the SHA-256) of a file's
/// byte range, read in pieces so that a large part never sits in memory.
struct payload_digests {
  std::string md5_base64;
  std::string sha256_hex;
};

boost::system::result<payload_digests, std::string> digest_error(std::string why) {
  return {boost::system::in_place_error, std::move(why)};
}

struct md_context_deleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

boost::system::result<payload_digests, std::string> digest_range(std::FILE* file,
                                                                 std::uint64_t offset,
                                                                 std::uint64_t length) {
  std::unique_ptr<EVP_MD_CTX, md_context_deleter> md5(EVP_MD_CTX_new());
  std::unique_ptr<EVP_MD_CTX, md_context_deleter> sha256(EVP_MD_CTX_new());
  if (!md5 || !sha256 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1 ||
      EVP_DigestInit_ex(sha256.get(), EVP_sha256(), nullptr) != 1)
    return digest_error(std::string("OpenSSL digest init failed"));
  if (fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0)
    return digest_error(std::string("seek failed: ") + std::strerror(errno));
  std::vector<char> chunk(std::size_t{256} * 1024);
  std::uint64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    const auto got = std::fread(chunk.data(), 1, want, file);
    if (got == 0)
      return digest_error(std::string("read failed (file shorter than its size, or an I/O error)"));
    EVP_DigestUpdate(md5.get(), chunk.data(), got);
    EVP_DigestUpdate(sha256.get(), chunk.data(), got);
    left -= got;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  payload_digests out;
  EVP_DigestFinal_ex(md5.get(), digest.data(), &digest_length);
  out.md5_base64 = encode_base64(std::span<const std::uint8_t>(digest.data(), digest_length));
  EVP_DigestFinal_ex(sha256.get(), digest.data(), &digest_length);
  out.sha256_hex =
      to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), digest_length));
  return out;
}

payload_digests digest_text(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  payload_digests out;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_md5(), nullptr);
  out.md5_base64 = encode_base64(std::span<const std::uint8_t>(digest.data(), length));
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  out.sha256_hex = to_hex(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
  return out;
}

/// One HTTP exchange with S3: what to send.
struct s3_exchange {
  const char* method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<std::string> headers;  // besides the signature's, which libcurl adds
  std::string_view payload_sha256 = empty_payload_sha256;
  // The body: text (POST), or a file's byte range (PUT), or nothing.
  const std::string* text_body = nullptr;
  std::FILE* file_body = nullptr;
  std::uint64_t file_offset = 0;
  std::uint64_t file_length = 0;
  // A 2xx body goes here piece by piece (GET) instead of into the kept body.
  const std::function<bool(std::string_view)>* on_body = nullptr;
};

/// What came back.
struct s3_response {
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  unsigned status = 0;
  std::string body;  // non-2xx answers and 2xx answers without on_body, up to max_kept_body
  std::string etag;
  std::string content_type;
  std::optional<std::uint64_t> content_length;
  bool stopped_by_reader = false;  // on_body returned false
};

struct transfer_state {
  CURL* handle = nullptr;
  const s3_exchange* exchange = nullptr;
  s3_response* response = nullptr;
  std::uint64_t file_left = 0;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& state = *static_cast<transfer_state*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (after a 100 Continue, say): forget the previous one's headers.
    state.response->etag.clear();
    state.response->content_type.clear();
    state.response->content_length.reset();
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return size * count;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  if (name == "etag") {
    state.response->etag = value;
  } else if (name == "content-type") {
    state.response->content_type = value;
  } else if (name == "content-length") {
    std::uint64_t length = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec == std::errc() && end == value.data() + value.size())
      state.response->content_length = length;
  }
  return size * count;
}

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto& state = *static_cast<transfer_state*>(user);
  const std::string_view piece(data, size * count);
  long status = 0;
  curl_easy_getinfo(state.handle, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300 && state.exchange->on_body != nullptr) {
    if (!(*state.exchange->on_body)(piece)) {
      state.response->stopped_by_reader = true;
      return 0;  // curl stops with CURLE_WRITE_ERROR
    }
    return piece.size();
  }
  auto& body = state.response->body;
  body.append(piece.substr(0, max_kept_body - std::min(max_kept_body, body.size())));
  return piece.size();
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& state = *static_cast<transfer_state*>(user);
  const auto want =
      static_cast<std::size_t>(std::min<std::uint64_t>(size * count, state.file_left));
  if (want == 0)
    return 0;
  const auto got = std::fread(buffer, 1, want, state.exchange->file_body);
  if (got == 0)
    return CURL_READFUNC_ABORT;  // the file shrank or failed: never send a short body
  state.file_left -= got;
  return got;
}

/// curl errors that retrying cannot cure: our own configuration or the local file.
bool is_permanent_curl_error(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return true;
    default:
      return false;
  }
}

/// CURLOPT_XFERINFOFUNCTION: curl calls it about once a second even while nothing moves, so a
/// cancel ends a request waiting on a silent server within a second.
int stop_if_cancelled(void* cancelled, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancelled)->load() ? 1 : 0;
}

constexpr std::string_view cancelled_reason = "cancelled: the node is stopping";

}  // namespace

struct s3_client::impl {
  s3_config config;
  boost::system::result<s3_addressing, std::string> addressing;
  std::string sigv4_provider;  // "aws:amz:<region>:s3"
  std::atomic<bool> cancelled{false};
  mutable std::atomic<std::size_t> under_way{0};  // requests in curl_easy_perform now

  explicit impl(s3_config c)
      : config(std::move(c)),
        addressing(make_s3_addressing(config)),
        sigv4_provider("aws:amz:" + config.region + ":s3") {}

  std::string where(std::string_view method, std::string_view key) const {
    return std::string(method) + " " + s3_url(config.bucket, key);
  }

  s3_response perform(const s3_exchange& exchange) const {
    s3_response response;
    std::unique_ptr<CURL, easy_deleter> handle(curl_easy_init());
    if (!handle) {
      response.curl_code = CURLE_FAILED_INIT;
      response.curl_error = "curl_easy_init failed";
      return response;
    }
    CURL* curl = handle.get();
    transfer_state state{curl, &exchange, &response, exchange.file_length};
    std::array<char, CURL_ERROR_SIZE> error_text{};

    curl_slist* raw_headers = nullptr;
    std::vector<std::string> headers = exchange.headers;
    // libcurl signs these (they are in the list it is given) but does not add the payload's
    // hash itself.
    headers.push_back("x-amz-content-sha256: " + std::string(exchange.payload_sha256));
    if (!config.credentials.session_token.empty())
      headers.push_back("x-amz-security-token: " + config.credentials.session_token);
    for (const auto& header : headers)
      raw_headers = curl_slist_append(raw_headers, header.c_str());
    std::unique_ptr<curl_slist, slist_deleter> header_list(raw_headers);

    curl_easy_setopt(curl, CURLOPT_URL, exchange.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text.data());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_provider.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, config.credentials.access_key_id.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config.credentials.secret_access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<std::int64_t>(config.timeout.count(), 10'000)));
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "switchboard");
    if (!config.ca_file.empty())
      curl_easy_setopt(curl, CURLOPT_CAINFO, config.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);

    const std::string_view method = exchange.method;
    if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
                       static_cast<curl_off_t>(exchange.file_length));
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(curl, CURLOPT_READDATA, &state);
    } else if (method == "POST") {
      static const std::string no_body;
      const std::string& body = exchange.text_body != nullptr ? *exchange.text_body : no_body;
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method == "DELETE") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    if (exchange.file_body != nullptr &&
        fseeko(exchange.file_body, static_cast<off_t>(exchange.file_offset), SEEK_SET) != 0) {
      response.curl_code = CURLE_READ_ERROR;
      response.curl_error = std::string("seek failed: ") + std::strerror(errno);
      return response;
    }

    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, stop_if_cancelled);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (cancelled) {
      response.curl_code = CURLE_ABORTED_BY_CALLBACK;
      return response;
    }
    ++under_way;
    response.curl_code = curl_easy_perform(curl);
    --under_way;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<unsigned>(status);
    if (response.curl_code != CURLE_OK) {
      response.curl_error = error_text[0] != '\0' ? std::string(error_text.data())
                                                  : curl_easy_strerror(response.curl_code);
    }
    return response;
  }

  /// The result of a response: its outcome and, when not ok, why.
  s3_result judge(const s3_response& response, std::string_view context, bool is_head) const {
    s3_result result;
    result.http_status = response.status;
    if (response.curl_code == CURLE_ABORTED_BY_CALLBACK && cancelled) {
      // Not the request's fault: the next start of the node sends it again.
      result.outcome = s3_outcome::retryable;
      result.reason = std::string(context) + ": " + std::string(cancelled_reason);
      return result;
    }
    if (response.curl_code != CURLE_OK && !response.stopped_by_reader) {
      result.outcome = is_permanent_curl_error(response.curl_code) ? s3_outcome::permanent
                                                                   : s3_outcome::retryable;
      result.http_status = 0;
      result.reason = std::string(context) + ": " + curl_easy_strerror(response.curl_code) + " (" +
                      response.curl_error + ")";
      return result;
    }
    const auto code = xml_element_text(response.body, "Code").value_or("");
    result.outcome = classify_s3_response(response.status, code, is_head);
    if (result.outcome != s3_outcome::ok) {
      result.reason = std::string(context) + ": HTTP " + std::to_string(response.status);
      if (!code.empty())
        result.reason += " " + code;
      if (const auto message = xml_element_text(response.body, "Message"))
        result.reason += ": " + *message;
    }
    return result;
  }

  s3_result put_single(const s3_put_request& request, std::FILE* file, std::uint64_t size) const {
    const auto context = where("PUT", request.key);
    const auto digests = digest_range(file, 0, size);
    if (!digests)
      return {s3_outcome::permanent, 0,
              context + ": " + request.file.string() + ": " + digests.error()};
    s3_exchange exchange;
    exchange.method = "PUT";
    exchange.url = s3_object_url(*addressing, request.key);
    exchange.headers = {"Content-Type: " + content_type_of(request),
                        "Content-MD5: " + digests->md5_base64};
    exchange.payload_sha256 = digests->sha256_hex;
    exchange.file_body = file;
    exchange.file_length = size;
    const auto response = perform(exchange);
    auto result = judge(response, context, false);
    if (result.outcome == s3_outcome::ok)
      result.etag = response.etag;
    return result;
  }

  s3_result put_multipart(const s3_put_request& request, std::FILE* file,
                          std::uint64_t size) const {
    const auto key_url = [&](std::string_view query) {
      return s3_object_url(*addressing, request.key, query);
    };
    // CreateMultipartUpload: the object's Content-Type is given here, not with the parts.
    s3_exchange create;
    create.method = "POST";
    create.url = key_url("uploads=");
    create.headers = {"Content-Type: " + content_type_of(request)};
    const auto created = perform(create);
    auto result = judge(created, where("POST (create multipart upload)", request.key), false);
    if (result.outcome != s3_outcome::ok)
      return result;
    const auto upload_id = xml_element_text(created.body, "UploadId").value_or("");
    if (upload_id.empty()) {
      result.outcome = s3_outcome::retryable;
      result.reason = where("POST (create multipart upload)", request.key) + ": no UploadId in " +
                      created.body.substr(0, 200);
      return result;
    }
    const std::string id_query = "uploadId=" + s3_uri_encode(upload_id, false);

    // Whatever fails from here on leaves parts that S3 keeps (and bills) until aborted.
    const auto abort_and_return = [&](s3_result failure) {
      s3_exchange abort;
      abort.method = "DELETE";
      abort.url = key_url(id_query);
      const auto aborted = judge(perform(abort), where("DELETE (abort)", request.key), false);
      if (aborted.outcome != s3_outcome::ok)
        failure.reason += "; abort failed too: " + aborted.reason;
      return failure;
    };

    std::uint64_t part_size = std::max<std::uint64_t>(config.part_size, 1);
    part_size = std::max(part_size, (size + max_parts - 1) / max_parts);
    std::vector<std::string> etags;
    for (std::uint64_t offset = 0; offset < size; offset += part_size) {
      const auto number = etags.size() + 1;
      const auto length = std::min(part_size, size - offset);
      const auto context = where("PUT (part " + std::to_string(number) + ")", request.key);
      const auto digests = digest_range(file, offset, length);
      if (!digests) {
        return abort_and_return({s3_outcome::permanent, 0,
                                 context + ": " + request.file.string() + ": " + digests.error()});
      }
      s3_exchange part;
      part.method = "PUT";
      part.url = key_url("partNumber=" + std::to_string(number) + "&" + id_query);
      part.headers = {"Content-MD5: " + digests->md5_base64};
      part.payload_sha256 = digests->sha256_hex;
      part.file_body = file;
      part.file_offset = offset;
      part.file_length = length;
      const auto response = perform(part);
      auto part_result = judge(response, context, false);
      if (part_result.outcome != s3_outcome::ok)
        return abort_and_return(std::move(part_result));
      if (response.etag.empty()) {
        part_result.outcome = s3_outcome::retryable;
        part_result.reason = context + ": no ETag in the answer";
        return abort_and_return(std::move(part_result));
      }
      etags.push_back(response.etag);
    }

    const std::string body = complete_multipart_xml(etags);
    const auto digests = digest_text(body);
    s3_exchange complete;
    complete.method = "POST";
    complete.url = key_url(id_query);
    complete.headers = {"Content-Type: application/xml", "Content-MD5: " + digests.md5_base64};
    complete.payload_sha256 = digests.sha256_hex;
    complete.text_body = &body;
    const auto completed = perform(complete);
    const auto context = where("POST (complete multipart upload)", request.key);
    result = judge(completed, context, false);
    // S3 may answer 200 and put an <Error> in the body, once the connection is committed.
    if (result.outcome == s3_outcome::ok && completed.body.find("<Error>") != std::string::npos) {
      const auto code = xml_element_text(completed.body, "Code").value_or("InternalError");
      result.outcome = classify_s3_response(500, code, false);
      result.reason = context + ": HTTP 200 with error " + code + ": " +
                      xml_element_text(completed.body, "Message").value_or("");
    }
    if (result.outcome != s3_outcome::ok)
      return abort_and_return(std::move(result));
    result.etag = xml_element_text(completed.body, "ETag").value_or(completed.etag);
    return result;
  }

  static std::string content_type_of(const s3_put_request& request) {
    return request.content_type.empty() ? "application/octet-stream" : request.content_type;
  }

  s3_result unusable(std::string_view context) const {
    return {s3_outcome::permanent, 0, std::string(context) + ": " + addressing.error()};
  }
};

s3_client::s3_client(s3_config config) : impl_(std::make_unique<impl>(std::move(config))) {
  init_curl_once();
}

s3_client::~s3_client() = default;

std::size_t s3_client::cancel() {
  impl_->cancelled = true;
  return impl_->under_way;
}

const s3_config& s3_client::config() const {
  return impl_->config;
}

s3_result s3_client::put_file(const s3_put_request& request) const {
  const auto context = impl_->where("PUT", request.key);
  if (!impl_->addressing)
    return impl_->unusable(context);
  std::error_code error;
  const auto size = std::filesystem::file_size(request.file, error);
  if (error)
    return {s3_outcome::permanent, 0,
            context + ": " + request.file.string() + ": " + error.message()};
  file_handle file(std::fopen(request.file.c_str(), "rb"));
  if (!file) {
    return {s3_outcome::permanent, 0,
            context + ": cannot open " + request.file.string() + ": " + std::strerror(errno)};
  }
  if (size > impl_->config.multipart_threshold)
    return impl_->put_multipart(request, file.get(), size);
  return impl_->put_single(request, file.get(), size);
}

std::pair<s3_result, std::optional<s3_object_info>> s3_client::head(std::string_view key) const {
  const auto context = impl_->where("HEAD", key);
  if (!impl_->addressing)
    return {impl_->unusable(context), std::nullopt};
  s3_exchange exchange;
  exchange.method = "HEAD";
  exchange.url = s3_object_url(*impl_->addressing, key);
  const auto response = impl_->perform(exchange);
  auto result = impl_->judge(response, context, true);
  if (result.outcome != s3_outcome::ok)
    return {std::move(result), std::nullopt};
  s3_object_info info;
  info.size = response.content_length.value_or(0);
  info.content_type = response.content_type;
  info.etag = response.etag;
  result.etag = response.etag;
  return {std::move(result), std::move(info)};
}

s3_result s3_client::get(std::string_view key,
                         const std::function<bool(std::string_view piece)>& on_body) const {
  const auto context = impl_->where("GET", key);
  if (!impl_->addressing)
    return impl_->unusable(context);
  s3_exchange exchange;
  exchange.method = "GET";
  exchange.url = s3_object_url(*impl_->addressing, key);
  exchange.on_body = &on_body;
  const auto response = impl_->perform(exchange);
  auto result = impl_->judge(response, context, false);
  if (result.outcome == s3_outcome::ok)
    result.etag = response.etag;
  return result;
}

std::string s3_client::presign_get(std::string_view key, std::chrono::seconds valid_for) const {
  return presign_get_url(impl_->config, key, valid_for, std::chrono::system_clock::now());
}

}  // namespace switchboard::net
