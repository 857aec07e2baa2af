// `switchboard loadgen` flags and the spawned server's log lines.
#include "sim/loadgen.hpp"
#include "sim/server_process.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace switchboard::sim;

namespace {

boost::system::result<loadgen_options, std::string> parse(std::vector<std::string> arguments) {
  return parse_loadgen_arguments(arguments);
}

}  // namespace

TEST_CASE("loadgen flags: defaults and every option", "[loadgen]") {
  const auto defaults = parse({});
  REQUIRE(defaults.has_value());
  CHECK(defaults->calls == 100);
  CHECK(defaults->seconds == 25);
  CHECK(defaults->ramp_per_second == 100.0);
  CHECK(defaults->pattern == loadgen_pattern::echo);
  CHECK_FALSE(defaults->model_tls);
  CHECK(defaults->recordings);
  CHECK(defaults->spawns_server());

  const auto all = parse({"--calls", "50", "--seconds=10", "--ramp-per-second", "25.5", "--pattern",
                          "speech", "--model-tls", "--recordings", "off", "--json", "out.json",
                          "--idle-ms", "0", "--", "--io-threads=1"});
  REQUIRE(all.has_value());
  CHECK(all->calls == 50);
  CHECK(all->seconds == 10);
  CHECK(all->ramp_per_second == 25.5);
  CHECK(all->pattern == loadgen_pattern::speech);
  CHECK(all->model_tls);
  CHECK_FALSE(all->recordings);
  CHECK(all->json_path == "out.json");
  CHECK(all->idle.count() == 0);
  CHECK(all->serve_arguments == std::vector<std::string>{"--io-threads=1"});

  const auto target = parse({"--target", "http://127.0.0.1:5050/", "--auth-token", "secret",
                             "--server-pid", "1234", "--model-listen", "127.0.0.1:9000"});
  REQUIRE(target.has_value());
  CHECK_FALSE(target->spawns_server());
  CHECK(target->target == "http://127.0.0.1:5050");
  CHECK(target->server_pid == 1234);
}

TEST_CASE("loadgen flags: bad values are refused by name", "[loadgen]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--calls", "0"}, "--calls"},
      {{"--calls", "ten"}, "--calls"},
      {{"--calls", "1048576"}, "--calls"},
      {{"--seconds", "0"}, "--seconds"},
      {{"--ramp-per-second", "-1"}, "--ramp-per-second"},
      {{"--pattern", "noise"}, "--pattern"},
      {{"--recordings", "maybe"}, "--recordings"},
      {{"--calls"}, "--calls needs a value"},
      {{"--frobnicate", "1"}, "unknown option --frobnicate"},
      {{"--target", "https://example.com"}, "--target"},
      {{"--target", "http://127.0.0.1:5050"}, "--auth-token"},
      {{"--target", "http://127.0.0.1:5050", "--auth-token", "t"}, "--model-listen"},
      {{"--target", "http://127.0.0.1:5050", "--auth-token", "t", "--model-listen", "127.0.0.1:0"},
       "--model-listen"},
      {{"--target", "http://127.0.0.1:5050", "--auth-token", "t", "--model-listen",
        "127.0.0.1:9000", "--model-tls"},
       "--model-ca-dir"},
      {{"--server-pid", "12"}, "goes with --target"},
      // 1000 calls at 100 a second take 10 s to start: 10 s of audio leaves no window.
      {{"--calls", "1000", "--seconds", "10"}, "--seconds 13 or more"},
  };
  for (const auto& [arguments, expected] : cases) {
    INFO(arguments.front());
    const auto options = parse(arguments);
    REQUIRE_FALSE(options.has_value());
    CHECK_THAT(options.error(), Catch::Contains(expected));
  }
  CHECK(loadgen_help_requested(std::vector<std::string>{"--calls", "3", "--help"}));
  CHECK_FALSE(loadgen_help_requested(std::vector<std::string>{"--", "--help"}));
}

TEST_CASE("the spawned server's port and warnings are read from its log", "[loadgen]") {
  CHECK(listening_port("2025-01-01T00:00:00.000 info  listening on 127.0.0.1:40123 (2 io "
                       "threads, 2 actor threads)") == 40123);
  CHECK(listening_port(R"({"time":"…","level":"info","message":"listening on 0.0.0.0:5050"})") ==
        5050);
  CHECK(listening_port("listening on [::1]:8080 (1 io threads)") == 8080);
  CHECK_FALSE(listening_port("2025-01-01T00:00:00.000 info  starting"));
  CHECK_FALSE(listening_port("listening on 127.0.0.1:0"));

  CHECK(is_warning_line("2025-01-01T00:00:00.000 warning webhook refused"));
  CHECK(is_warning_line("2025-01-01T00:00:00.000 error model connection failed"));
  CHECK(is_warning_line("2025-01-01T00:00:00.000 critical out of memory"));
  CHECK_FALSE(is_warning_line("2025-01-01T00:00:00.000 info  call ended: no error here"));
}
