// The drain's settings (README "Drain"): NODE_STREAM_URL, DRAIN_TIMEOUT, DRAIN_MESSAGE; a mistake
// names the setting.
#include "config/settings.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace switchboard::config;

namespace {

boost::system::result<settings, config_errors> load_with(
    std::map<std::string, std::string, std::less<>> environment) {
  environment.emplace("ALLOW_UNSIGNED_TWILIO", "true");
  return load({}, environment_from_map(std::move(environment)),
              std::filesystem::path("/nonexistent/.env"));
}

std::string problems(const boost::system::result<settings, config_errors>& loaded) {
  return loaded ? std::string{} : format_errors(loaded.error());
}

}  // namespace

TEST_CASE("drain settings: the defaults", "[drain_settings]") {
  auto loaded = load_with({});
  REQUIRE(loaded.has_value());
  CHECK(loaded->node_stream_url.empty());
  CHECK(loaded->drain_timeout_s == 300);
  CHECK(loaded->drain_message == default_drain_message);
}

TEST_CASE("drain settings: values that are taken", "[drain_settings]") {
  auto loaded =
      load_with({{"NODE_STREAM_URL", "wss://switchboard-0.voice.example.com/media-stream"},
                 {"DRAIN_TIMEOUT", "0"},
                 {"DRAIN_MESSAGE", "We are moving you along. Goodbye!"}});
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK(loaded->node_stream_url == "wss://switchboard-0.voice.example.com/media-stream");
  CHECK(loaded->drain_timeout_s == 0);
  CHECK(loaded->drain_message == "We are moving you along. Goodbye!");
  // A local set-up without TLS, and a prefix the ingress strips.
  loaded = load_with({{"NODE_STREAM_URL", "ws://127.0.0.1:5050/node-0/media-stream"}});
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
}

TEST_CASE("drain settings: each mistake names its setting", "[drain_settings]") {
  for (const auto& url :
       {"https://switchboard-0.voice.example.com/media-stream",
        "wss://switchboard-0.voice.example.com/",
        "wss://switchboard-0.voice.example.com/media-stream?x=1", "switchboard-0/media-stream"}) {
    auto loaded = load_with({{"NODE_STREAM_URL", url}});
    INFO(url);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(problems(loaded).find("NODE_STREAM_URL") != std::string::npos);
  }
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"DRAIN_TIMEOUT", "-1"},
                                                        {"DRAIN_TIMEOUT", "86401"},
                                                        {"DRAIN_TIMEOUT", "five minutes"},
                                                        {"DRAIN_MESSAGE", ""}}) {
    auto loaded = load_with({{name, value}});
    INFO(name << "=" << value);
    REQUIRE_FALSE(loaded.has_value());
    CHECK(problems(loaded).find(name) != std::string::npos);
  }
  auto loaded = load_with({{"DRAIN_MESSAGE", "Goodbye\nand more"}});
  REQUIRE_FALSE(loaded.has_value());
  CHECK(problems(loaded).find("DRAIN_MESSAGE") != std::string::npos);
}
