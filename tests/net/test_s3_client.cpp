// The object storage client (issue 15): its pure parts directly, then its requests, signed by
// libcurl, against the S3 stand-in, which recomputes every signature with the AWS SDK's signer
// and refuses a mismatch as S3 does.
#include "net/s3_client.hpp"
#include "net/s3_wire.hpp"
#include "support/s3_standin.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace switchboard;
using namespace switchboard::net;
using switchboard::testing::s3_fault;
using switchboard::testing::s3_standin;
using switchboard::testing::temporary_directory;

namespace {

std::string get_whole(const s3_client& client, std::string_view key, s3_result* result = nullptr) {
  std::string body;
  auto got = client.get(key, [&](std::string_view piece) {
    body.append(piece);
    return true;
  });
  if (result != nullptr)
    *result = got;
  return body;
}

/// Bytes that are not all alike, so a part in the wrong place would show.
std::string patterned_bytes(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint32_t state = 2463534242u;
  for (auto& byte : bytes) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    byte = static_cast<char>(state & 0xff);
  }
  return bytes;
}

struct plain_answer {
  unsigned status = 0;
  std::string body;
};

/// A GET with no credentials at all (what a browser following a presigned URL sends).
plain_answer plain_get(std::uint16_t port, const std::string& target, std::string host = {}) {
  if (host.empty())
    host = "127.0.0.1:" + std::to_string(port);
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const std::string request = "GET " + target + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  plain_answer answer;
  if (response.size() >= 12)
    answer.status = static_cast<unsigned>(std::stoi(response.substr(9, 3)));
  if (const auto at = response.find("\r\n\r\n"); at != std::string::npos)
    answer.body = response.substr(at + 4);
  return answer;
}

bool signed_header(const testing::s3_standin_request& request, std::string_view name) {
  return std::find(request.signed_headers.begin(), request.signed_headers.end(), name) !=
         request.signed_headers.end();
}

}  // namespace

TEST_CASE("parse_s3_url splits bucket and prefix and refuses what S3 would", "[s3]") {
  auto parsed = parse_s3_url("s3://call-recordings/prod/eu/");
  REQUIRE(parsed.has_value());
  CHECK(parsed->bucket == "call-recordings");
  CHECK(parsed->prefix == "prod/eu");
  parsed = parse_s3_url("s3://my.bucket.01");
  REQUIRE(parsed.has_value());
  CHECK(parsed->bucket == "my.bucket.01");
  CHECK(parsed->prefix.empty());
  CHECK(parse_s3_url("s3://abc/")->prefix.empty());

  for (const char* bad :
       {"https://bucket/prefix", "s3://", "s3:///prefix", "s3://ab", "s3://Upper-Case",
        "s3://under_score", "s3://-leading", "s3://trailing-", "s3://two..dots", "s3://192.168.5.4",
        "s3://bucket/prefix?x=1",
        "s3://a123456789012345678901234567890123456789012345678901234567890123"}) {
    INFO(bad);
    CHECK_FALSE(parse_s3_url(bad).has_value());
  }
  CHECK(parse_s3_url("s3://Upper").error().find("naming rules") != std::string::npos);
  CHECK(s3_url("recordings", "prod/2026-12-06/CA1/call.json") ==
        "s3://recordings/prod/2026-12-06/CA1/call.json");
}

TEST_CASE("S3's URI encoding keeps unreserved characters and slashes in keys only", "[s3]") {
  CHECK(s3_uri_encode("calls/2026-12-06/CA_1~x.wav", true) == "calls/2026-12-06/CA_1~x.wav");
  CHECK(s3_uri_encode("a b+c/d", true) == "a%20b%2Bc/d");
  CHECK(s3_uri_encode("a b+c/d", false) == "a%20b%2Bc%2Fd");
  CHECK(s3_uri_encode("\xc3\xbc", true) == "%C3%BC");
}

TEST_CASE("Elements of S3's XML answers are read without trusting the input", "[s3]") {
  const std::string error =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key &lt;x&gt; &amp; "
      "&quot;y&quot; &#34;z&#x22; is gone</Message></Error>";
  CHECK(xml_element_text(error, "Code") == "NoSuchKey");
  CHECK(xml_element_text(error, "Message") == "The key <x> & \"y\" \"z\" is gone");
  CHECK(xml_element_text("<ETag>&quot;abc&quot;</ETag>", "ETag") == "\"abc\"");
  CHECK(xml_element_text("<CodeX>a</CodeX><Code>b</Code>", "Code") == "b");
  CHECK(xml_element_text("<UploadId attr=\"1\">id</UploadId>", "UploadId") == "id");
  // Hostile or cut: nothing, never a read past the end.
  for (const char* bad :
       {"", "<Code", "<Code>", "<Code>unterminated", "<Code/>", "</Code>", "<Code>a</Cod", "<"}) {
    INFO(bad);
    CHECK_FALSE(xml_element_text(bad, "Code"));
  }
  CHECK(xml_element_text("<Code>&#0;&#xFFFFFFFFF;&bogus;&</Code>", "Code") ==
        "&#0;&#xFFFFFFFFF;&bogus;&");
  CHECK(xml_element_text(std::string(100000, '<'), "Code") == std::nullopt);
}

TEST_CASE("Responses are classified for the uploader's retry decision", "[s3]") {
  CHECK(classify_s3_response(200, "", false) == s3_outcome::ok);
  CHECK(classify_s3_response(204, "", false) == s3_outcome::ok);
  CHECK(classify_s3_response(404, "NoSuchKey", false) == s3_outcome::not_found);
  CHECK(classify_s3_response(404, "", true) == s3_outcome::not_found);
  CHECK(classify_s3_response(404, "NoSuchBucket", false) == s3_outcome::permanent);
  CHECK(classify_s3_response(500, "InternalError", false) == s3_outcome::retryable);
  CHECK(classify_s3_response(503, "SlowDown", false) == s3_outcome::retryable);
  CHECK(classify_s3_response(429, "", false) == s3_outcome::retryable);
  CHECK(classify_s3_response(400, "RequestTimeout", false) == s3_outcome::retryable);
  CHECK(classify_s3_response(403, "AccessDenied", false) == s3_outcome::permanent);
  CHECK(classify_s3_response(403, "SignatureDoesNotMatch", false) == s3_outcome::permanent);
  CHECK(classify_s3_response(403, "InvalidAccessKeyId", false) == s3_outcome::permanent);
  CHECK(classify_s3_response(400, "InvalidRequest", false) == s3_outcome::permanent);
}

TEST_CASE("Addressing is virtual-host for AWS and path-style for an endpoint that asks", "[s3]") {
  s3_config config;
  config.bucket = "recordings";
  config.region = "eu-west-1";
  auto aws = make_s3_addressing(config);
  REQUIRE(aws.has_value());
  CHECK(aws->origin == "https://recordings.s3.eu-west-1.amazonaws.com");
  CHECK(s3_object_url(*aws, "p/a b.wav") ==
        "https://recordings.s3.eu-west-1.amazonaws.com/p/a%20b.wav");

  config.endpoint = "http://127.0.0.1:9000";
  config.path_style = true;
  auto minio = make_s3_addressing(config);
  REQUIRE(minio.has_value());
  CHECK(minio->host_header == "127.0.0.1:9000");
  CHECK(s3_object_url(*minio, "k", "uploads=") == "http://127.0.0.1:9000/recordings/k?uploads=");

  config.endpoint = "https://storage.googleapis.com:443";
  config.path_style = false;
  auto gcs = make_s3_addressing(config);
  REQUIRE(gcs.has_value());
  CHECK(gcs->host_header == "recordings.storage.googleapis.com");

  config.endpoint = "ftp://host";
  CHECK_FALSE(make_s3_addressing(config).has_value());
  config.endpoint = "http://user:secret@host";
  CHECK_FALSE(make_s3_addressing(config).has_value());
}

TEST_CASE("A presigned GET URL matches AWS's published example", "[s3]") {
  // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html, "An example": GET
  // examplebucket/test.txt, signed 2013-05-24T00:00:00Z, valid 86400 s. The stand-in's signer
  // (@smithy/signature-v4) computes the same signature for these inputs.
  s3_config config;
  config.bucket = "examplebucket";
  config.endpoint = "https://s3.amazonaws.com";
  config.region = "us-east-1";
  config.credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  config.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const auto signed_at = std::chrono::sys_days{std::chrono::year{2013} / 5 / 24};
  const auto url = presign_get_url(config, "test.txt", std::chrono::seconds(86400), signed_at);
  CHECK(url ==
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  // At most 7 days.
  CHECK(presign_get_url(config, "test.txt", std::chrono::hours(24 * 30), signed_at)
            .find("X-Amz-Expires=604800&") != std::string::npos);
}

TEST_CASE("A small file goes up signed and comes back byte for byte", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  temporary_directory files;
  const std::string contents = "RIFF" + patterned_bytes(70'000);
  const auto file = files.write("recording.wav", contents);
  // A key with a space, a plus and a non-ASCII byte: encoded once, signed as sent.
  const std::string key = "prod/2026-12-06/CA0123/caller+agent \xc3\xbc.wav";

  const auto put = client.put_file({key, file, "audio/wav"});
  INFO(put.reason);
  REQUIRE(put.outcome == s3_outcome::ok);
  CHECK(put.http_status == 200);
  CHECK_FALSE(put.etag.empty());

  s3_result got;
  CHECK(get_whole(client, key, &got) == contents);
  CHECK(got.outcome == s3_outcome::ok);

  const auto [head, info] = client.head(key);
  REQUIRE(head.outcome == s3_outcome::ok);
  REQUIRE(info);
  CHECK(info->size == contents.size());
  CHECK(info->content_type == "audio/wav");
  CHECK(info->etag == put.etag);

  const auto requests = s3.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].path == "/recordings/prod/2026-12-06/CA0123/caller%2Bagent%20%C3%BC.wav");
  CHECK_FALSE(requests[0].content_md5.empty());
  CHECK(requests[1].method == "GET");
  CHECK(requests[2].method == "HEAD");
  for (const auto& request : requests) {
    INFO(request.method << " " << request.path << " " << request.error_code);
    CHECK(request.signature_ok);
    CHECK(signed_header(request, "x-amz-content-sha256"));
    CHECK(signed_header(request, "host"));
    CHECK(signed_header(request, "x-amz-date"));
  }
  CHECK(signed_header(requests[0], "content-md5"));
}

TEST_CASE("A file above the threshold goes up as a multipart upload and arrives whole",
          "[s3][standin]") {
  s3_standin s3;
  auto config = s3.client_config();
  // S3's minimum part is 5 MiB (except the last).
  config.multipart_threshold = 5 * 1024 * 1024 + 1;
  config.part_size = 5 * 1024 * 1024 + 1;
  const s3_client client(config);
  temporary_directory files;
  const std::string contents = patterned_bytes(std::size_t{11} * 1024 * 1024);
  const auto file = files.write("caller.wav", contents);

  const auto put = client.put_file({"calls/CA1/caller.wav", file, "audio/wav"});
  INFO(put.reason);
  REQUIRE(put.outcome == s3_outcome::ok);
  CHECK(get_whole(client, "calls/CA1/caller.wav") == contents);
  const auto [head, info] = client.head("calls/CA1/caller.wav");
  REQUIRE(info);
  CHECK(info->size == contents.size());
  CHECK(info->content_type == "audio/wav");

  const auto requests = s3.requests();
  REQUIRE(requests.size() == 7);  // create, 3 parts, complete, GET, HEAD
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].query == "uploads=");
  for (int part = 1; part <= 3; ++part) {
    const auto& request = requests[static_cast<std::size_t>(part)];
    CHECK(request.method == "PUT");
    CHECK(request.query.starts_with("partNumber=" + std::to_string(part) + "&uploadId="));
    CHECK_FALSE(request.content_md5.empty());
  }
  CHECK(requests[4].method == "POST");
  CHECK(requests[4].query.starts_with("uploadId="));
  for (const auto& request : requests) {
    INFO(request.method << " " << request.query << " " << request.error_code);
    CHECK(request.signature_ok);
    CHECK(request.status == 200);
  }
}

TEST_CASE("A multipart upload that fails in a part is aborted", "[s3][standin]") {
  s3_standin s3;
  auto config = s3.client_config();
  config.multipart_threshold = 5 * 1024 * 1024 + 1;
  config.part_size = 5 * 1024 * 1024 + 1;
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("agent.wav", patterned_bytes(std::size_t{11} * 1024 * 1024));
  // Create and part 1 pass; part 2 gets a 500.
  s3.inject_faults({.status = 500, .count = 1, .skip = 2});

  const auto put = client.put_file({"calls/CA2/agent.wav", file, "audio/wav"});
  CHECK(put.outcome == s3_outcome::retryable);
  CHECK(put.http_status == 500);
  CHECK(put.reason.find("part 2") != std::string::npos);
  CHECK(put.reason.find("InternalError") != std::string::npos);

  const auto requests = s3.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[2].fault);
  CHECK(requests[3].method == "DELETE");
  CHECK(requests[3].query.starts_with("uploadId="));
  CHECK(requests[3].signature_ok);
  CHECK(requests[3].status == 204);
  CHECK(client.head("calls/CA2/agent.wav").first.outcome == s3_outcome::not_found);
}

TEST_CASE("Threads share one client and a reader may stop a GET early", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  temporary_directory files;
  constexpr int uploads = 4;
  std::vector<std::string> contents;
  std::vector<std::filesystem::path> paths;
  for (int i = 0; i < uploads; ++i) {
    contents.push_back(std::to_string(i) + patterned_bytes(300'000 + static_cast<std::size_t>(i)));
    paths.push_back(files.write("file" + std::to_string(i), contents.back()));
  }
  std::vector<s3_result> results(uploads);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < uploads; ++i) {
      threads.emplace_back([&, i] {
        results[static_cast<std::size_t>(i)] =
            client.put_file({"calls/CA12/file" + std::to_string(i),
                             paths[static_cast<std::size_t>(i)], "application/octet-stream"});
      });
    }
    for (auto& thread : threads)
      thread.join();
  }
  for (int i = 0; i < uploads; ++i) {
    INFO(results[static_cast<std::size_t>(i)].reason);
    CHECK(results[static_cast<std::size_t>(i)].outcome == s3_outcome::ok);
    CHECK(get_whole(client, "calls/CA12/file" + std::to_string(i)) ==
          contents[static_cast<std::size_t>(i)]);
  }

  // Stopping after the first piece ends the transfer without an error.
  std::string first_piece;
  const auto stopped = client.get("calls/CA12/file0", [&](std::string_view piece) {
    first_piece = piece;
    return false;
  });
  CHECK(stopped.outcome == s3_outcome::ok);
  CHECK_FALSE(first_piece.empty());
  CHECK(first_piece.size() < contents[0].size());
  CHECK(contents[0].starts_with(first_piece));
  for (const auto& request : s3.requests())
    CHECK(request.signature_ok);
}

TEST_CASE("A wrong secret is refused by the stand-in's signature check as permanent",
          "[s3][standin]") {
  s3_standin s3;
  auto config = s3.client_config();
  config.credentials.secret_access_key = "not-the-secret";
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("call.json", "{}");

  const auto put = client.put_file({"calls/CA3/call.json", file, "application/json"});
  CHECK(put.outcome == s3_outcome::permanent);
  CHECK(put.http_status == 403);
  CHECK(put.reason.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(put.reason.find("s3://recordings/calls/CA3/call.json") != std::string::npos);
  const auto requests = s3.requests();
  REQUIRE(requests.size() == 1);
  CHECK_FALSE(requests[0].signature_ok);
  CHECK(requests[0].error_code == "SignatureDoesNotMatch");
}

TEST_CASE("A session token is sent and signed", "[s3][standin]") {
  s3_standin s3;
  auto config = s3.client_config();
  config.credentials.session_token = "FwoGZXIvYXdzEJr//////////token+with/odd=chars";
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("call.json", "{\"sid\":\"CA4\"}");

  const auto put = client.put_file({"calls/CA4/call.json", file, "application/json"});
  INFO(put.reason);
  CHECK(put.outcome == s3_outcome::ok);
  const auto requests = s3.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].signature_ok);
  CHECK(requests[0].session_token == config.credentials.session_token);
  CHECK(signed_header(requests[0], "x-amz-security-token"));

  // A presigned URL carries it in its query (X-Amz-Security-Token), signed too.
  const auto url = client.presign_get("calls/CA4/call.json", std::chrono::seconds(60));
  CHECK(url.find("&X-Amz-Security-Token=") != std::string::npos);
  const auto answer = plain_get(s3.port(), url.substr(s3.endpoint().size()));
  CHECK(answer.status == 200);
  CHECK(answer.body == "{\"sid\":\"CA4\"}");
  const auto after = s3.requests();
  REQUIRE(after.size() == 2);
  CHECK(after[1].signature_ok);
  CHECK(after[1].session_token == config.credentials.session_token);
}

TEST_CASE("A request that outlives its timeout is retryable", "[s3][standin]") {
  s3_standin s3;
  auto config = s3.client_config();
  config.timeout = std::chrono::milliseconds(200);
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("call.json", "{}");
  // Held far longer than the timeout (the stand-in answers once the hold ends, to nobody).
  s3.inject_faults({.status = 0, .count = 1, .hang_ms = 30'000});

  const auto put = client.put_file({"calls/CA11/call.json", file, "application/json"});
  CHECK(put.outcome == s3_outcome::retryable);
  CHECK(put.http_status == 0);
  CHECK(put.reason.find("s3://recordings/calls/CA11/call.json") != std::string::npos);
  CHECK(put.reason.find("imeout") != std::string::npos);
}

TEST_CASE("A 503 is retryable and the next attempt goes through", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  temporary_directory files;
  const auto file = files.write("call.json", "{}");
  s3.inject_faults({.status = 503, .count = 1});

  const auto first = client.put_file({"calls/CA5/call.json", file, "application/json"});
  CHECK(first.outcome == s3_outcome::retryable);
  CHECK(first.http_status == 503);
  CHECK(first.reason.find("SlowDown") != std::string::npos);
  const auto second = client.put_file({"calls/CA5/call.json", file, "application/json"});
  INFO(second.reason);
  CHECK(second.outcome == s3_outcome::ok);
  CHECK(get_whole(client, "calls/CA5/call.json") == "{}");
}

TEST_CASE("A 403 AccessDenied is permanent", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  temporary_directory files;
  const auto file = files.write("call.json", "{}");
  s3.inject_faults({.status = 403, .count = -1});

  const auto put = client.put_file({"calls/CA6/call.json", file, "application/json"});
  CHECK(put.outcome == s3_outcome::permanent);
  CHECK(put.http_status == 403);
  CHECK(put.reason.find("AccessDenied") != std::string::npos);
  CHECK(client.put_file({"calls/CA6/call.json", file, "application/json"}).outcome ==
        s3_outcome::permanent);
}

TEST_CASE("GET and HEAD of a missing key are not_found", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  s3_result got;
  CHECK(get_whole(client, "calls/none/caller.wav", &got).empty());
  CHECK(got.outcome == s3_outcome::not_found);
  CHECK(got.http_status == 404);
  CHECK(got.reason.find("NoSuchKey") != std::string::npos);
  const auto [head, info] = client.head("calls/none/caller.wav");
  CHECK(head.outcome == s3_outcome::not_found);
  CHECK_FALSE(info);
}

TEST_CASE("A presigned URL serves the object to a plain GET without credentials", "[s3][standin]") {
  s3_standin s3;
  const s3_client client(s3.client_config());
  temporary_directory files;
  const std::string contents = patterned_bytes(5000);
  const auto file = files.write("agent.wav", contents);
  REQUIRE(client.put_file({"calls/CA7/agent one.wav", file, "audio/wav"}).outcome ==
          s3_outcome::ok);

  const auto url = client.presign_get("calls/CA7/agent one.wav", std::chrono::minutes(5));
  const auto origin = s3.endpoint();
  REQUIRE(url.starts_with(origin + "/recordings/calls/CA7/agent%20one.wav?X-Amz-"));
  const auto answer = plain_get(s3.port(), url.substr(origin.size()));
  CHECK(answer.status == 200);
  CHECK(answer.body == contents);

  // Without its query the same path is refused: the stand-in checks the presigned signature.
  const auto bare = plain_get(s3.port(), "/recordings/calls/CA7/agent%20one.wav");
  CHECK(bare.status == 403);
  auto tampered = url.substr(origin.size());
  tampered.replace(tampered.find("CA7"), 3, "CA8");
  CHECK(plain_get(s3.port(), tampered).status == 403);
  const auto requests = s3.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[1].signature_ok);
  CHECK_FALSE(requests[2].signature_ok);
  CHECK(requests[3].error_code == "SignatureDoesNotMatch");
}

TEST_CASE("Virtual-host addressing reaches the bucket by its host name", "[s3][standin]") {
  // curl resolves every *.localhost name to loopback; the stand-in takes the bucket from Host.
  s3_standin s3;
  auto config = s3.client_config();
  config.endpoint = "http://localhost:" + std::to_string(s3.port());
  config.path_style = false;
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("call.json", "{\"vhost\":true}");

  const auto put = client.put_file({"calls/CA10/call.json", file, "application/json"});
  INFO(put.reason);
  REQUIRE(put.outcome == s3_outcome::ok);
  CHECK(get_whole(client, "calls/CA10/call.json") == "{\"vhost\":true}");
  const auto url = client.presign_get("calls/CA10/call.json", std::chrono::seconds(60));
  const std::string origin = "http://recordings.localhost:" + std::to_string(s3.port());
  REQUIRE(url.starts_with(origin + "/calls/CA10/call.json?"));
  const auto answer = plain_get(s3.port(), url.substr(origin.size()),
                                "recordings.localhost:" + std::to_string(s3.port()));
  CHECK(answer.status == 200);
  CHECK(answer.body == "{\"vhost\":true}");

  const auto requests = s3.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].path == "/calls/CA10/call.json");
  for (const auto& request : requests)
    CHECK(request.signature_ok);
}

TEST_CASE("A refused connection is retryable", "[s3]") {
  // A port that was just free: bound, then closed, so nothing listens there.
  std::uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  s3_config config;
  config.bucket = "recordings";
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  config.path_style = true;
  config.credentials = {"AKIA", "secret", ""};
  const s3_client client(config);
  temporary_directory files;
  const auto file = files.write("call.json", "{}");
  const auto put = client.put_file({"calls/CA9/call.json", file, "application/json"});
  CHECK(put.outcome == s3_outcome::retryable);
  CHECK(put.http_status == 0);
  CHECK(put.reason.find("s3://recordings/calls/CA9/call.json") != std::string::npos);
  CHECK(client.head("x").first.outcome == s3_outcome::retryable);
}

TEST_CASE("A missing local file is a permanent failure with its path", "[s3]") {
  s3_config config;
  config.bucket = "recordings";
  config.endpoint = "http://127.0.0.1:9";
  config.path_style = true;
  const s3_client client(config);
  const auto put = client.put_file({"k", "/nonexistent/switchboard/file.wav", "audio/wav"});
  CHECK(put.outcome == s3_outcome::permanent);
  CHECK(put.reason.find("/nonexistent/switchboard/file.wav") != std::string::npos);
}
