// The executable as a user runs it: a real child process, started and reaped by the test.
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "config/settings.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using switchboard::audio::test::run_command;
using switchboard::audio::test::shell_quote;

std::string binary() {
  const char* path = std::getenv("SWITCHBOARD_BINARY");
  REQUIRE(path != nullptr);
  return path;
}

/// Runs the binary through the shell with stderr folded into the output.
switchboard::audio::test::command_result run(const std::string& arguments,
                                             const std::string& environment = "") {
  return run_command(environment + " " + shell_quote(binary()) + " " + arguments + " 2>&1");
}

/// `switchboard serve` as a child process whose stderr the test reads line by line.
class server_process {
 public:
  explicit server_process(std::vector<std::string> arguments) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    std::vector<std::string> argv_storage{binary()};
    argv_storage.insert(argv_storage.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& argument : argv_storage)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    stderr_ = ::fdopen(pipe_fds[0], "r");
  }
  ~server_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stderr_ != nullptr)
      ::fclose(stderr_);
  }

  /// Reads log lines until one matches; returns its first capture ("" at end of output).
  std::string wait_for_line(const std::regex& pattern) {
    std::array<char, 4096> line{};
    while (::fgets(line.data(), static_cast<int>(line.size()), stderr_) != nullptr) {
      output_ += line.data();
      std::cmatch match;
      if (std::regex_search(line.data(), match, pattern))
        return match.size() > 1 ? match[1].str() : match[0].str();
    }
    return {};
  }
  /// Sends a signal and returns the exit status.
  int stop(int signal_number) {
    ::kill(pid_, signal_number);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  FILE* stderr_ = nullptr;
  std::string output_;
};

std::string http_get(std::uint16_t port, const std::string& path) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  return response;
}

}  // namespace

TEST_CASE("--help lists every command", "[commands]") {
  const auto help = run("--help");
  CHECK(help.exit_status == 0);
  for (const char* command : {"serve", "demo", "mix", "join", "repair", "settings"}) {
    CHECK(help.output.find(command) != std::string::npos);
  }
  CHECK(run("frobnicate").exit_status == 2);
}

TEST_CASE("the README's configuration table is the one the binary documents", "[commands]") {
  const auto table = run("settings");
  REQUIRE(table.exit_status == 0);
  std::ifstream readme(std::string(SWITCHBOARD_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << readme.rdbuf();
  CHECK(text.str().find(table.output) != std::string::npos);
  for (const auto& setting : switchboard::config::setting_descriptors()) {
    CHECK(table.output.find(std::string(setting.name)) != std::string::npos);
  }
}

TEST_CASE("a configuration mistake stops start-up with a message naming each setting",
          "[commands]") {
  const auto result = run("serve --log-level=loud", "PORT=abc TWILIO_AUTH_TOKEN=t");
  CHECK(result.exit_status == 2);
  CHECK(result.output.find("PORT") != std::string::npos);
  CHECK(result.output.find("LOG_LEVEL") != std::string::npos);
  // Without TWILIO_AUTH_TOKEN the server refuses to start unless explicitly insecure.
  const auto unsigned_start = run("serve", "env -u TWILIO_AUTH_TOKEN");
  CHECK(unsigned_start.exit_status == 2);
  CHECK(unsigned_start.output.find("ALLOW_UNSIGNED_TWILIO") != std::string::npos);
}

TEST_CASE("mix and repair give clear errors and never touch their inputs", "[commands]") {
  switchboard::testing::temporary_directory dir;
  const auto missing = run("mix " + shell_quote((dir.path() / "nope.wav").string()) + " " +
                           shell_quote((dir.path() / "nope2.wav").string()) + " --out " +
                           shell_quote(dir.path().string()));
  CHECK(missing.exit_status == 1);
  CHECK(missing.output.find("nope.wav") != std::string::npos);
  CHECK(run("mix only-one.wav --out x").exit_status == 2);

  const auto not_wav = dir.path() / "notes.wav";
  std::ofstream(not_wav) << "these are not the samples you are looking for";
  const auto repaired = run("repair " + shell_quote(not_wav.string()));
  CHECK(repaired.exit_status == 1);
  CHECK(repaired.output.find("notes.wav") != std::string::npos);
  std::ifstream again(not_wav);
  std::string content;
  std::getline(again, content);
  CHECK(content == "these are not the samples you are looking for");
}

TEST_CASE("join makes one recording of a handed-over call's parts", "[commands]") {
  switchboard::testing::temporary_directory dir;
  namespace audio = switchboard::audio;
  const auto part = [&](const std::string& name, const std::string& call_sid, int number,
                        int offset_ms, std::size_t samples, std::uint8_t code) {
    const auto directory = dir.path() / name;
    std::filesystem::create_directories(directory);
    for (const char* track : {"caller.wav", "agent.wav"}) {
      auto writer = audio::wav_writer::create((directory / track).string(),
                                              audio::wav_format::mulaw_8k_mono());
      REQUIRE(writer.has_value());
      REQUIRE(writer->append(std::vector<std::uint8_t>(samples, code)).has_value());
      REQUIRE(writer->close().has_value());
    }
    std::ofstream(directory / "call.json") << R"({"call_sid":")" << call_sid << R"(","part":)"
                                           << number << R"(,"part_offset_ms":)" << offset_ms << "}";
    return shell_quote(directory.string());
  };
  // Given out of order: part 2 (node-b, from 1000 ms) then part 1 (node-a, 900 ms long).
  const auto second = part("node-b-part2", "CA1", 2, 1000, 4000, 0x10);
  const auto first = part("node-a-part1", "CA1", 1, 0, 7200, 0x20);
  const auto out = dir.path() / "whole";
  const auto joined = run("join " + second + " " + first + " --out " + shell_quote(out.string()));
  INFO(joined.output);
  REQUIRE(joined.exit_status == 0);
  CHECK(joined.output.find("caller.wav: 1500 ms from 2 parts (100 ms of gaps") !=
        std::string::npos);
  for (const char* file : {"caller.wav", "agent.wav", "stereo.wav", "mono.wav"})
    CHECK(std::filesystem::exists(out / file));
  const auto info = audio::parse_wav_file((out / "caller.wav").string());
  REQUIRE(info.has_value());
  CHECK(info->frames() == 12'000);
  const auto bytes = switchboard::audio::test::read_bytes((out / "caller.wav").string());
  const auto at = [&](std::size_t sample) {
    return bytes[info->data_offset + sample];
  };
  CHECK(at(0) == 0x20);
  CHECK(at(7199) == 0x20);
  CHECK(at(7200) == 0xFF);  // the 100 ms gap: μ-law silence
  CHECK(at(8000) == 0x10);
  CHECK(at(11'999) == 0x10);

  // Parts of two calls are not one call; a second join never overwrites.
  const auto other = part("other", "CA2", 2, 1000, 80, 0x30);
  CHECK(run("join " + first + " " + other + " --out " + shell_quote((dir.path() / "x").string()))
            .exit_status == 1);
  CHECK(run("join " + second + " " + first + " --out " + shell_quote(out.string())).exit_status ==
        1);
  CHECK(run("join --out " + shell_quote(out.string())).exit_status == 2);
}

TEST_CASE("serve answers its health probes and stops on SIGTERM", "[commands]") {
  switchboard::testing::temporary_directory dir;
  server_process server({"serve", "--port=0", "--bind-address=127.0.0.1",
                         "--twilio-auth-token=process-test",
                         "--recordings-dir=" + dir.path().string()});
  const auto port_text = server.wait_for_line(std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
  REQUIRE_FALSE(port_text.empty());
  const auto port = static_cast<std::uint16_t>(std::stoi(port_text));
  CHECK(http_get(port, "/healthz").find("200 OK") != std::string::npos);
  CHECK(http_get(port, "/readyz").find("200 OK") != std::string::npos);
  CHECK(http_get(port, "/incoming-call").find("403") != std::string::npos);  // unsigned
  CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("the demo a new user runs first: an inbound and an outbound call, both recorded",
          "[commands][demo]") {
  switchboard::testing::temporary_directory dir;
  // No credentials: the stand-ins answer. From an empty directory: no .env is read.
  const auto result = run("demo", "cd " + shell_quote(dir.path().string()) +
                                      " && env -u OPENAI_API_KEY -u PORT -u API_TOKEN");
  INFO(result.output);
  REQUIRE(result.exit_status == 0);
  CHECK(result.output.find("=== switchboard demo: inbound call") != std::string::npos);
  CHECK(result.output.find("=== switchboard demo: outbound call") != std::string::npos);
  CHECK(result.output.find("queued -> ringing -> in-progress -> completed") != std::string::npos);
  CHECK(result.output.find("4 of 4 status callbacks accepted") != std::string::npos);
  std::size_t calls = 0;
  for (const auto& day : std::filesystem::directory_iterator(dir.path() / "recordings")) {
    for (const auto& call : std::filesystem::directory_iterator(day.path())) {
      ++calls;
      CHECK(std::filesystem::exists(call.path() / "stereo.wav"));
      CHECK(std::filesystem::exists(call.path() / "call.json"));
    }
  }
  CHECK(calls == 2);
}

TEST_CASE(
    "demo --nodes 3: calls spread over three node processes and a killed node's calls end "
    "as node lost",
    "[commands][demo]") {
  switchboard::testing::temporary_directory dir;
  const auto result =
      run("demo --nodes 3", "cd " + shell_quote(dir.path().string()) +
                                " && env -u OPENAI_API_KEY -u PORT -u API_TOKEN -u CLUSTER_PORT");
  INFO(result.output);
  REQUIRE(result.exit_status == 0);
  CHECK(result.output.find("every node linked to every other (full mesh), all ready") !=
        std::string::npos);
  // Nine calls to node-1, three places on each node: placement filled each.
  CHECK(result.output.find("spread:  node-1 3  node-2 3  node-3 3") != std::string::npos);
  CHECK(result.output.find("call 10: every node full") != std::string::npos);
  CHECK(result.output.find("node-1 marked node-3 down after") != std::string::npos);
  std::size_t lost = 0;
  for (auto at = result.output.find("ended because: node lost"); at != std::string::npos;
       at = result.output.find("ended because: node lost", at + 1)) {
    ++lost;
  }
  CHECK(lost == 3);
}
