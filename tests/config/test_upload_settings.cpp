// The settings of recordings in object storage (README "Recordings in object storage"): unset
// bucket = local only, as before; a bucket needs its credentials (and on AWS its region); each
// mistake names its setting.
#include "config/settings.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace switchboard::config;

namespace {

using environment = std::map<std::string, std::string, std::less<>>;

boost::system::result<settings, config_errors> load_with(environment values) {
  values.emplace("ALLOW_UNSIGNED_TWILIO", "true");
  return load({}, environment_from_map(std::move(values)),
              std::filesystem::path("/nonexistent/.env"));
}

std::string problems(const boost::system::result<settings, config_errors>& loaded) {
  return loaded ? std::string{} : format_errors(loaded.error());
}

environment minio(environment more = {}) {
  environment values{{"RECORDINGS_BUCKET_URL", "s3://recordings/switchboard"},
                     {"S3_ENDPOINT", "http://127.0.0.1:9000"},
                     {"AWS_ACCESS_KEY_ID", "minioadmin"},
                     {"AWS_SECRET_ACCESS_KEY", "minioadmin-secret"}};
  for (auto& [name, value] : more)
    values[name] = value;
  return values;
}

}  // namespace

TEST_CASE("upload settings: unset means local only as before", "[upload_settings]") {
  auto loaded = load_with({});
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->uploads_recordings());
  CHECK(loaded->recordings_bucket_url.empty());
  CHECK_FALSE(loaded->recordings_keep_local);
  CHECK_FALSE(loaded->recordings_presign);
  CHECK(loaded->upload_concurrency == 2);
  CHECK_FALSE(loaded->s3_path_style());
}

TEST_CASE("upload settings: MinIO with an endpoint gets path style and us-east-1",
          "[upload_settings]") {
  auto loaded = load_with(minio());
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK(loaded->uploads_recordings());
  CHECK(loaded->recordings_bucket_url == "s3://recordings/switchboard");
  CHECK(loaded->s3_path_style());
  CHECK(loaded->s3_region() == "us-east-1");
  loaded = load_with(minio({{"S3_FORCE_PATH_STYLE", "false"},
                            {"RECORDINGS_BUCKET_URL", "s3://recordings/a/b/"},
                            {"RECORDINGS_KEEP_LOCAL", "true"},
                            {"RECORDINGS_PRESIGN", "true"},
                            {"UPLOAD_CONCURRENCY", "16"},
                            {"AWS_SESSION_TOKEN", "token"}}));
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->s3_path_style());
  CHECK(loaded->recordings_bucket_url == "s3://recordings/a/b");
  CHECK(loaded->recordings_keep_local);
  CHECK(loaded->recordings_presign);
  CHECK(loaded->upload_concurrency == 16);
  CHECK(loaded->aws_session_token == "token");
}

TEST_CASE("upload settings: AWS needs its region", "[upload_settings]") {
  environment aws{{"RECORDINGS_BUCKET_URL", "s3://calls.example.com"},
                  {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                  {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
  auto loaded = load_with(aws);
  REQUIRE_FALSE(loaded.has_value());
  CHECK(problems(loaded).find("AWS_REGION") != std::string::npos);
  // The secret is never repeated in a message.
  CHECK(problems(loaded).find("wJalrXUtnFEMI") == std::string::npos);
  aws["AWS_REGION"] = "eu-west-3";
  loaded = load_with(aws);
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->s3_path_style());
  CHECK(loaded->s3_region() == "eu-west-3");
}

TEST_CASE("upload settings: a bucket without credentials names each missing one",
          "[upload_settings]") {
  auto loaded = load_with({{"RECORDINGS_BUCKET_URL", "s3://recordings"},
                           {"S3_ENDPOINT", "https://storage.googleapis.com"}});
  REQUIRE_FALSE(loaded.has_value());
  CHECK(problems(loaded).find("AWS_ACCESS_KEY_ID") != std::string::npos);
  CHECK(problems(loaded).find("AWS_SECRET_ACCESS_KEY") != std::string::npos);
}

TEST_CASE("upload settings: each mistake names its setting", "[upload_settings]") {
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"RECORDINGS_BUCKET_URL", "https://recordings.s3.amazonaws.com"},
           {"RECORDINGS_BUCKET_URL", "s3://"},
           {"RECORDINGS_BUCKET_URL", "s3://ab"},
           {"RECORDINGS_BUCKET_URL", "s3://Recordings/x"},
           {"RECORDINGS_BUCKET_URL", "s3://recordings-/x"},
           {"RECORDINGS_BUCKET_URL", "s3://recordings/a b"},
           {"RECORDINGS_BUCKET_URL", "s3://recordings/a//b"},
           {"S3_ENDPOINT", "ftp://minio:9000"},
           {"S3_ENDPOINT", "minio:9000"},
           {"AWS_REGION", "EU West"},
           {"AWS_SECRET_ACCESS_KEY", "has a\nnewline"},
           {"S3_FORCE_PATH_STYLE", "sometimes"},
           {"RECORDINGS_KEEP_LOCAL", "maybe"},
           {"RECORDINGS_PRESIGN", "2"},
           {"UPLOAD_CONCURRENCY", "0"},
           {"UPLOAD_CONCURRENCY", "17"},
           {"UPLOAD_CONCURRENCY", "two"}}) {
    auto loaded = load_with(minio({{name, value}}));
    INFO(name << "=" << value);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(problems(loaded).find(name) != std::string::npos);
  }
}
