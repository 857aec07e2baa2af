#include "sim/server_process.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace switchboard::sim {

using namespace std::chrono_literals;

std::optional<std::uint16_t> listening_port(std::string_view log_line) {
  constexpr std::string_view listening = "listening on ";
  const auto at = log_line.find(listening);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto address = log_line.substr(at + listening.size());
  address = address.substr(0, address.find_first_of(" \""));
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return std::nullopt;
  const auto digits = address.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port == 0)
    return std::nullopt;
  return port;
}

bool is_warning_line(std::string_view log_line) {
  // metrics/logging.cpp writes "<time> <level, padded to 5> <message>".
  const auto space = log_line.find(' ');
  if (space == std::string_view::npos)
    return false;
  auto level = log_line.substr(space + 1);
  level = level.substr(0, level.find(' '));
  return level == "warn" || level == "warning" || level == "error" || level == "critical";
}

boost::system::result<std::unique_ptr<server_process>, std::string> server_process::spawn(
    const server_process_options& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return std::string("pipe2: ") + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copies; the originals close at exec.
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  if (!options.working_directory.empty())
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());

  std::vector<std::string> arguments{options.executable.string()};
  arguments.insert(arguments.end(), options.arguments.begin(), options.arguments.end());
  std::vector<char*> argv;
  for (auto& argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment = options.environment;
  std::vector<char*> envp;
  for (auto& variable : environment)
    envp.push_back(variable.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int spawned =
      ::posix_spawn(&pid, options.executable.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return "cannot run " + options.executable.string() + ": " + std::strerror(spawned);
  }
  // SWITCHBOARD_ECHO_SERVER_LOG=1 in a test's environment shows every child's log: what a
  // sanitizer printed as the child exited, say, which a test that reads only the exit status
  // would otherwise hide.
  const bool echo = options.echo_log || std::getenv("SWITCHBOARD_ECHO_SERVER_LOG") != nullptr;
  return std::unique_ptr<server_process>(
      new server_process(pid, fds[0], echo, options.on_log_line));
}

server_process::server_process(pid_t pid, int read_fd, bool echo_log,
                               std::function<void(std::string_view)> on_log_line)
    : pid_(pid),
      read_fd_(read_fd),
      echo_log_(echo_log),
      on_log_line_(std::move(on_log_line)),
      drainer_([this] { drain(); }) {}

server_process::~server_process() {
  terminate();
}

boost::system::result<std::uint16_t, std::string> server_process::wait_for_port(
    std::chrono::seconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return port_ != 0 || ended_; })) {
    return "the server did not log `listening on` within " + std::to_string(timeout.count()) +
           " s:\n" + tail_locked();
  }
  if (port_ == 0)
    return "the server exited before listening:\n" + tail_locked();
  return port_;
}

std::optional<int> server_process::wait_for_exit(std::chrono::seconds timeout) {
  if (pid_ <= 0)
    return exit_status_;
  {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return ended_; }))
      return std::nullopt;
  }
  // The pipe closes when the process (and every child that inherited it) has exited: waitpid
  // returns at once.
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_status_ = status;
  pid_ = -1;
  if (drainer_.joinable())
    drainer_.join();
  return exit_status_;
}

int server_process::terminate(std::chrono::seconds grace) {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      // waitpid has no timeout: poll the child's exit during its shutdown.
      std::this_thread::sleep_for(20ms);
    }
    exit_status_ = status;
    pid_ = -1;
  }
  if (drainer_.joinable())
    drainer_.join();
  return exit_status_;
}

server_process::log_summary server_process::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

void server_process::drain() {
  std::string pending;
  char chunk[4096];
  for (;;) {
    const auto got = ::read(read_fd_, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    pending.append(chunk, static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n', start)) {
      on_line(std::string_view(pending).substr(start, end - start));
      start = end + 1;
    }
    pending.erase(0, start);
  }
  ::close(read_fd_);
  std::lock_guard lock(mutex_);
  ended_ = true;
  changed_.notify_all();
}

void server_process::on_line(std::string_view line) {
  if (echo_log_)
    std::cerr << "[server] " << line << "\n";
  if (on_log_line_)
    on_log_line_(line);
  std::lock_guard lock(mutex_);
  tail_.emplace_back(line);
  if (tail_.size() > 20)
    tail_.erase(tail_.begin());
  if (is_warning_line(line)) {
    ++log_.warnings;
    if (log_.first_warnings.size() < 5)
      log_.first_warnings.emplace_back(line);
  }
  if (port_ == 0) {
    if (const auto port = listening_port(line)) {
      port_ = *port;
      changed_.notify_all();
    }
  }
}

std::string server_process::tail_locked() const {
  std::string text;
  for (const auto& line : tail_)
    text.append("  ").append(line).append("\n");
  return text;
}

}  // namespace switchboard::sim
