// The cluster's settings: CLUSTER_PORT, CLUSTER_BIND, CLUSTER_SEEDS, CLUSTER_INSECURE, and the
// rules that stop start-up naming the setting.
#include "config/settings.hpp"
#include "support/temporary_directory.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
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

TEST_CASE("cluster settings: unset CLUSTER_PORT means no cluster", "[cluster_settings]") {
  auto loaded = load_with({});
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->cluster_port);
  CHECK(loaded->cluster_seeds.empty());
  CHECK(loaded->cluster_bind.empty());
  CHECK_FALSE(loaded->cluster_insecure);
}

TEST_CASE("cluster settings: a port, a bind address and seeds", "[cluster_settings]") {
  auto loaded = load_with({{"CLUSTER_PORT", "0"},
                           {"CLUSTER_INSECURE", "true"},
                           {"CLUSTER_BIND", "127.0.0.1"},
                           {"CLUSTER_SEEDS", "node-0.switchboard:4000,10.0.0.2:4000,[::1]:4001"}});
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK(loaded->cluster_port == 0);
  CHECK(loaded->cluster_bind == "127.0.0.1");
  CHECK(loaded->cluster_seeds ==
        std::vector<std::string>{"node-0.switchboard:4000", "10.0.0.2:4000", "[::1]:4001"});
}

TEST_CASE("cluster settings: CLUSTER_DNS names peers on CLUSTER_PORT and needs a fixed one",
          "[cluster_settings]") {
  auto loaded = load_with({{"CLUSTER_PORT", "7070"},
                           {"CLUSTER_INSECURE", "true"},
                           {"CLUSTER_DNS", "switchboard-cluster.voice.svc.cluster.local"}});
  INFO(problems(loaded));
  REQUIRE(loaded.has_value());
  CHECK(loaded->cluster_dns == "switchboard-cluster.voice.svc.cluster.local");
  // Any free port cannot be found by a name: every node must listen on the same one.
  for (const auto& port : {std::string("0"), std::string()}) {
    std::map<std::string, std::string, std::less<>> environment{
        {"CLUSTER_INSECURE", "true"}, {"CLUSTER_DNS", "switchboard-cluster"}};
    if (!port.empty())
      environment.emplace("CLUSTER_PORT", port);
    auto refused = load_with(std::move(environment));
    REQUIRE_FALSE(refused.has_value());
    CHECK(problems(refused).find("CLUSTER_DNS") != std::string::npos);
    CHECK(problems(refused).find("CLUSTER_PORT") != std::string::npos);
  }
}

TEST_CASE("cluster settings: a cluster port without TLS needs CLUSTER_INSECURE",
          "[cluster_settings]") {
  auto loaded = load_with({{"CLUSTER_PORT", "4000"}});
  REQUIRE_FALSE(loaded.has_value());
  CHECK(problems(loaded).find("CLUSTER_PORT") != std::string::npos);
  CHECK(problems(loaded).find("CLUSTER_INSECURE=true") != std::string::npos);
}

TEST_CASE("cluster settings: malformed values and clashing ports stop start-up by name",
          "[cluster_settings]") {
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"CLUSTER_SEEDS", "host"},
                                          {"CLUSTER_SEEDS", "host:0"},
                                          {"CLUSTER_SEEDS", ":4000"},
                                          {"CLUSTER_SEEDS", "a:4000,,b:4000"},
                                          {"CLUSTER_BIND", "not-an-ip"},
                                          {"CLUSTER_PORT", "70000"}}) {
    INFO(name << "=" << value);
    std::map<std::string, std::string, std::less<>> environment{{"CLUSTER_INSECURE", "true"},
                                                                {name, value}};
    environment.emplace("CLUSTER_PORT", "4000");  // unless the value under test is the port
    auto loaded = load_with(std::move(environment));
    REQUIRE_FALSE(loaded.has_value());
    CHECK(problems(loaded).find(name) != std::string::npos);
  }
  auto clash =
      load_with({{"CLUSTER_PORT", "5050"}, {"CLUSTER_INSECURE", "true"}, {"PORT", "5050"}});
  REQUIRE_FALSE(clash.has_value());
  CHECK(problems(clash).find("CLUSTER_PORT") != std::string::npos);
}

TEST_CASE("cluster settings: the TLS files go together and must be readable",
          "[cluster_settings]") {
  switchboard::testing::temporary_directory dir;
  const auto pem = (dir.path() / "any.pem").string();
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n";  // read by CAF at start, not here
  auto partial = load_with({{"CLUSTER_PORT", "4000"}, {"CLUSTER_TLS_CERT", pem}});
  REQUIRE_FALSE(partial.has_value());
  CHECK(problems(partial).find("set all three or none") != std::string::npos);
  auto unreadable = load_with({{"CLUSTER_PORT", "4000"},
                               {"CLUSTER_TLS_CERT", "/nonexistent/node.pem"},
                               {"CLUSTER_TLS_KEY", "/nonexistent/node-key.pem"},
                               {"CLUSTER_TLS_CA", "/nonexistent/ca.pem"}});
  REQUIRE_FALSE(unreadable.has_value());
  CHECK(problems(unreadable).find("CLUSTER_TLS_KEY") != std::string::npos);
  CHECK(problems(unreadable).find("CLUSTER_INSECURE") == std::string::npos);
  auto complete = load_with({{"CLUSTER_PORT", "4000"},
                             {"CLUSTER_TLS_CERT", pem},
                             {"CLUSTER_TLS_KEY", pem},
                             {"CLUSTER_TLS_CA", pem}});
  INFO(problems(complete));
  CHECK(complete.has_value());  // TLS instead of CLUSTER_INSECURE
}
