#pragma once
// `switchboard serve` as a child process, for the load generator: spawned with an environment
// of our choosing, its log drained on a thread for the whole run (so it never blocks on a full
// pipe), its port read back from the `listening on ADDRESS:PORT` line, its warnings counted,
// and SIGTERM at the end.

#include <boost/system/result.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace switchboard::sim {

struct server_process_options {
  std::filesystem::path executable;
  std::vector<std::string> arguments;  // after the program name
  /// The whole environment, NAME=value each: nothing is inherited, so a setting in the
  /// caller's environment (PUBLIC_URL, say) cannot change the server under test.
  std::vector<std::string> environment;
  /// Its working directory: where it would read a .env.
  std::filesystem::path working_directory;
  /// Copy each log line to stderr, prefixed [server] (also when SWITCHBOARD_ECHO_SERVER_LOG is
  /// set in the environment).
  bool echo_log = false;
  /// Called with each log line on the thread that drains the log, before anything else sees it:
  /// a test counting what a node reports (a hand-over, say) up to its exit, which no scrape of
  /// a process about to exit can promise. Unset: nothing is called.
  std::function<void(std::string_view line)> on_log_line;
};

/// The port of a `listening on ADDRESS:PORT` log line (text or JSON format), or nullopt.
std::optional<std::uint16_t> listening_port(std::string_view log_line);
/// True for a text-format log line at warn level or above ("<time> <level> <message>").
bool is_warning_line(std::string_view log_line);

class server_process {
 public:
  static boost::system::result<std::unique_ptr<server_process>, std::string> spawn(
      const server_process_options& options);

  /// terminate()s.
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const { return pid_; }

  /// The port it logged, or why it never came (with the log's last lines).
  boost::system::result<std::uint16_t, std::string> wait_for_port(std::chrono::seconds timeout);

  /// Waits for the child to exit by itself (a drained node does), without signalling it, and
  /// reaps it: the status as waitpid reports it, or nullopt when it still runs after `timeout`.
  /// The exit is seen through the log pipe closing, so no polling.
  std::optional<int> wait_for_exit(std::chrono::seconds timeout);

  /// SIGTERM, SIGKILL after `grace`; reaps the child and joins the log thread. Idempotent.
  /// Returns the status as waitpid reports it.
  int terminate(std::chrono::seconds grace = std::chrono::seconds(10));

  struct log_summary {
    std::uint64_t warnings = 0;               // lines at warn level or above
    std::vector<std::string> first_warnings;  // the first few of them
  };
  log_summary log() const;

 private:
  server_process(pid_t pid, int read_fd, bool echo_log,
                 std::function<void(std::string_view)> on_log_line);
  void drain();
  void on_line(std::string_view line);
  std::string tail_locked() const;

  pid_t pid_;
  int read_fd_;
  bool echo_log_;
  std::function<void(std::string_view)> on_log_line_;
  int exit_status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint16_t port_ = 0;         // guarded by mutex_
  bool ended_ = false;             // guarded by mutex_: the log pipe closed
  std::vector<std::string> tail_;  // guarded by mutex_
  log_summary log_;                // guarded by mutex_
  std::thread drainer_;            // last: starts once everything above exists
};

}  // namespace switchboard::sim
