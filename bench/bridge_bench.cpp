// bridge_bench: the figures for the call bridge's notes — how long a 20 ms frame takes to cross
// the bridge each way, and what one call costs the server in CPU and memory.
//
//   Twilio stand-ins ──media──▶ `switchboard serve` ──append──▶ model stand-in, echo mode
//   (this process)   ◀──media─── (a child process)   ◀──delta───  (this process)
//                                                     (the appended bytes)
//
// Every caller frame carries a marker (call index, frame number) in its first bytes. The bridge
// forwards audio as base64 without re-encoding and the echo returns the appended bytes, so each
// marker is seen four times, all on this process's steady clock:
//   inbound  = model received the append − caller wrote the media frame
//   outbound = caller received the media − model wrote the echo delta
// The server's CPU and RSS come from /proc/<pid>/{stat,status}: idle (before the calls), over a
// window in which every call streams, and after the calls ended.
//
// Not a test: it prints a table and one JSON line, and asserts nothing about timing.

#include "sim/realtime_model_server.hpp"
#include "sim/twilio_caller.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <spawn.h>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using namespace switchboard;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

template <class T>
using result = boost::system::result<T, std::string>;

// ---- options --------------------------------------------------------------------------------

struct bench_options {
  std::size_t calls = 100;
  std::chrono::milliseconds ramp{2000};
  std::uint32_t seconds = 20;            // marked audio per call
  std::chrono::milliseconds idle{2000};  // the server's baseline, before the calls
  std::string server = SWITCHBOARD_BINARY_DIR "/switchboard";
  bool keep_recordings = false;
  bool show_server_log = false;
  std::vector<std::string> server_arguments;  // after `--`, appended to `serve`'s flags
};

constexpr std::string_view usage =
    "usage: bridge_bench [--calls N] [--ramp-ms MS] [--seconds S] [--idle-ms MS]\n"
    "                    [--server PATH] [--keep-recordings] [--show-server-log]\n"
    "                    [-- SERVE_FLAGS...]\n"
    "  --calls N          concurrent simulated calls (default 100)\n"
    "  --ramp-ms MS       calls start evenly over this time (default 2000)\n"
    "  --seconds S        marked audio each call streams before hanging up (default 20)\n"
    "  --idle-ms MS       the server's idle baseline (CPU, RSS) before the calls (default 2000)\n"
    "  --server PATH      the switchboard executable (default: the one built with the bench)\n"
    "  --keep-recordings  keep the server's recordings directory (its path is printed)\n"
    "  --show-server-log  copy the server's log to stderr\n"
    "  -- SERVE_FLAGS     passed to `switchboard serve` after the bench's own flags\n";

template <class Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

result<bench_options> parse_options(int argc, char** argv) {
  bench_options options;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    if (name == "--") {
      options.server_arguments.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                      args.end());
      break;
    }
    if (name == "--keep-recordings") {
      options.keep_recordings = true;
      continue;
    }
    if (name == "--show-server-log") {
      options.show_server_log = true;
      continue;
    }
    std::string_view value;
    if (const auto equals = name.find('='); equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return "bridge_bench: " + std::string(name) + " needs a value";
    }
    auto bad = [&] {
      return "bridge_bench: " + std::string(name) + ": '" + std::string(value) +
             "' is not a valid value";
    };
    if (name == "--calls") {
      const auto calls = parse_number<std::size_t>(value);
      // The marker keeps 20 bits for the call index.
      if (!calls || *calls == 0 || *calls >= (1U << 20))
        return bad();
      options.calls = *calls;
    } else if (name == "--ramp-ms") {
      const auto ramp = parse_number<std::uint32_t>(value);
      if (!ramp)
        return bad();
      options.ramp = std::chrono::milliseconds(*ramp);
    } else if (name == "--idle-ms") {
      const auto idle = parse_number<std::uint32_t>(value);
      if (!idle)
        return bad();
      options.idle = std::chrono::milliseconds(*idle);
    } else if (name == "--seconds") {
      const auto seconds = parse_number<std::uint32_t>(value);
      if (!seconds || *seconds == 0 || *seconds > 3600)
        return bad();
      options.seconds = *seconds;
    } else if (name == "--server") {
      options.server = std::string(value);
    } else {
      return "bridge_bench: unknown option " + std::string(name);
    }
  }
  // The steady-state window runs from 1 s after the last call started to when the first call
  // stops sending marked audio; it must be at least a second long.
  if (std::chrono::seconds(options.seconds) < options.ramp + 2s) {
    return "bridge_bench: --seconds " + std::to_string(options.seconds) +
           " leaves no steady-state window after a --ramp-ms of " +
           std::to_string(options.ramp.count()) + " (need seconds ≥ ramp + 2 s)";
  }
  return options;
}

// ---- markers --------------------------------------------------------------------------------

// Twilio media frames are 20 ms of μ-law: 160 bytes (protocols.md §A2).
constexpr std::size_t frame_bytes = 160;
constexpr std::size_t frames_per_second = 50;
// Bytes 0..7: the key (call index << 36 | frame number), 7 bits a byte, each byte 0x01..0x80;
// byte 8: a check byte 0x81..0xF0. μ-law silence is 0xFF, so silence never reads as a marker.
constexpr std::size_t marker_bytes = 9;
constexpr unsigned frame_number_bits = 36;

std::uint8_t check_byte(std::span<const std::uint8_t> key_bytes) {
  unsigned sum = 0;
  for (const auto byte : key_bytes)
    sum += byte;
  return static_cast<std::uint8_t>(0x81 + sum % 0x70);
}

void write_marker(std::span<std::uint8_t> frame, std::uint64_t call, std::uint64_t number) {
  const std::uint64_t key = (call << frame_number_bits) | number;
  for (std::size_t i = 0; i < 8; ++i)
    frame[i] = static_cast<std::uint8_t>(0x01 + ((key >> (7 * i)) & 0x7F));
  frame[8] = check_byte(frame.first(8));
}

struct marker {
  std::size_t call = 0;
  std::size_t number = 0;
};

std::optional<marker> read_marker(std::span<const std::uint8_t> frame) {
  if (frame.size() < marker_bytes)
    return std::nullopt;
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (frame[i] < 0x01 || frame[i] > 0x80)
      return std::nullopt;
    key |= std::uint64_t{frame[i] - 1U} << (7 * i);
  }
  if (frame[8] != check_byte(frame.first(8)))
    return std::nullopt;
  return marker{static_cast<std::size_t>(key >> frame_number_bits),
                static_cast<std::size_t>(key & ((std::uint64_t{1} << frame_number_bits) - 1))};
}

/// One call's marked audio: `frames` frames, each with its marker, the rest a loud non-silent
/// pattern (the bridge and the echo do not look at it).
std::vector<std::uint8_t> marked_audio(std::size_t call, std::size_t frames) {
  std::vector<std::uint8_t> audio(frames * frame_bytes);
  for (std::size_t n = 0; n < frames; ++n) {
    const auto frame = std::span(audio).subspan(n * frame_bytes, frame_bytes);
    write_marker(frame, call, n);
    for (std::size_t i = marker_bytes; i < frame_bytes; ++i)
      frame[i] = static_cast<std::uint8_t>(0x10 + (i * 13 + n) % 0x60);
  }
  return audio;
}

// ---- when each marker was seen -------------------------------------------------------------

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

/// Steady-clock times (ns) of each marked frame; 0: not seen. Each field is written by one io
/// thread only (sent/received: the callers' thread; appended/echoed: the model's thread) and read
/// after both threads have been joined.
struct frame_times {
  std::int64_t sent = 0;
  std::int64_t appended = 0;
  std::int64_t echoed = 0;
  std::int64_t received = 0;
};

class marker_table {
 public:
  marker_table(std::size_t calls, std::size_t frames_per_call)
      : frames_per_call_(frames_per_call), times_(calls * frames_per_call) {}

  /// Stamps `field` of every marked frame in `audio` (a payload may hold several frames).
  void stamp(std::span<const std::uint8_t> audio, std::int64_t frame_times::*field) {
    const auto now = now_ns();
    for (std::size_t offset = 0; offset + frame_bytes <= audio.size(); offset += frame_bytes) {
      const auto found = read_marker(audio.subspan(offset, frame_bytes));
      if (!found)
        continue;
      if (found->number >= frames_per_call_ || found->call * frames_per_call_ >= times_.size()) {
        foreign_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto& slot = times_[found->call * frames_per_call_ + found->number].*field;
      if (slot != 0) {
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      slot = now;
    }
  }

  const std::vector<frame_times>& times() const { return times_; }
  std::uint64_t foreign() const { return foreign_.load(); }
  std::uint64_t duplicates() const { return duplicates_.load(); }

 private:
  std::size_t frames_per_call_;
  std::vector<frame_times> times_;
  std::atomic<std::uint64_t> foreign_{0};     // a marker outside the table: a corrupted frame
  std::atomic<std::uint64_t> duplicates_{0};  // a frame seen twice at the same point
};

struct direction_figures {
  std::uint64_t sent = 0;
  std::uint64_t matched = 0;
  std::uint64_t lost = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
};

/// Nearest-rank percentile of sorted samples (ns), in ms.
double percentile_ms(const std::vector<std::int64_t>& sorted, double fraction) {
  if (sorted.empty())
    return 0;
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) / 1e6;
}

/// Latencies from `from` to `to` of the frames whose `from` time is in [begin_ns, end_ns).
direction_figures figures(const std::vector<frame_times>& times, std::int64_t frame_times::*from,
                          std::int64_t frame_times::*to, std::int64_t begin_ns = INT64_MIN,
                          std::int64_t end_ns = INT64_MAX) {
  direction_figures out;
  std::vector<std::int64_t> latencies;
  latencies.reserve(times.size());
  for (const auto& frame : times) {
    if (frame.*from == 0 || frame.*from < begin_ns || frame.*from >= end_ns)
      continue;
    ++out.sent;
    if (frame.*to == 0) {
      ++out.lost;
      continue;
    }
    ++out.matched;
    latencies.push_back(frame.*to - frame.*from);
  }
  std::sort(latencies.begin(), latencies.end());
  out.p50_ms = percentile_ms(latencies, 0.50);
  out.p95_ms = percentile_ms(latencies, 0.95);
  out.p99_ms = percentile_ms(latencies, 0.99);
  out.max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
  return out;
}

// ---- /proc ----------------------------------------------------------------------------------

struct process_sample {
  steady::time_point at;
  std::uint64_t cpu_ticks = 0;  // utime + stime, in clock ticks (sysconf(_SC_CLK_TCK))
  std::uint64_t rss_kib = 0;    // VmRSS
};

/// utime + stime of /proc/<path>/stat (fields 14 and 15, counted after the `(comm)` field, which
/// may itself contain spaces and parentheses).
std::optional<std::uint64_t> read_cpu_ticks(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string line;
  if (!std::getline(in, line))
    return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  // After `)`: state(3) ppid(4) … utime(14) stime(15).
  for (int index = 3; index <= 15 && (fields >> field); ++index) {
    if (index == 14)
      utime = parse_number<std::uint64_t>(field).value_or(0);
    if (index == 15)
      stime = parse_number<std::uint64_t>(field).value_or(0);
  }
  return utime + stime;
}

std::optional<std::uint64_t> read_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) {
      std::istringstream fields(line.substr(6));
      std::uint64_t kib = 0;
      if (fields >> kib)
        return kib;
    }
  }
  return std::nullopt;
}

process_sample sample_process(pid_t pid) {
  process_sample sample;
  sample.at = steady::now();
  sample.cpu_ticks = read_cpu_ticks("/proc/" + std::to_string(pid) + "/stat").value_or(0);
  sample.rss_kib = read_rss_kib(pid).value_or(0);
  return sample;
}

/// CPU used between two samples, as a percentage of one core.
double core_percent(std::uint64_t ticks_before, std::uint64_t ticks_after,
                    steady::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  if (seconds <= 0 || ticks_after < ticks_before)
    return 0;
  const double cpu_seconds =
      static_cast<double>(ticks_after - ticks_before) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return 100.0 * cpu_seconds / seconds;
}

// ---- the server process -------------------------------------------------------------------

/// `switchboard serve` as a child process. Its stdout and stderr go into one pipe that a thread
/// drains for the whole run, so the server never blocks on a full pipe.
class server_process {
 public:
  static result<std::unique_ptr<server_process>> spawn(const std::string& executable,
                                                       const std::vector<std::string>& arguments,
                                                       const std::filesystem::path& directory,
                                                       bool echo_log) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
      return std::string("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the copies; the originals close at exec.
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    // A .env in the bench's directory must not configure the server under test.
    posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
    std::vector<std::string> owned{executable};
    owned.insert(owned.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (auto& argument : owned)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int spawned =
        ::posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      return "cannot run " + executable + ": " + std::strerror(spawned);
    }
    return std::unique_ptr<server_process>(new server_process(pid, fds[0], echo_log));
  }

  ~server_process() { terminate(); }
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const { return pid_; }

  /// The port of the `listening on ADDRESS:PORT` line, or why it never came.
  result<std::uint16_t> wait_for_port(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return port_ != 0 || ended_; }))
      return "the server did not log `listening on` within " + std::to_string(timeout.count()) +
             " s:\n" + tail_locked();
    if (port_ == 0)
      return "the server exited before listening:\n" + tail_locked();
    return port_;
  }

  /// SIGTERM, then SIGKILL after 10 s; reaps the child and joins the drain thread. Idempotent.
  /// Returns the exit status as waitpid reports it.
  int terminate() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto deadline = steady::now() + 10s;
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (steady::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        // Polling a child's exit: waitpid has no timeout and the bench is not a test.
        std::this_thread::sleep_for(20ms);
      }
      exit_status_ = status;
      pid_ = -1;
    }
    if (drainer_.joinable())
      drainer_.join();
    return exit_status_;
  }

  /// Lines the server logged at warn level or above (the first few), and their count.
  std::vector<std::string> warnings(std::uint64_t& count) const {
    std::lock_guard lock(mutex_);
    count = warning_count_;
    return first_warnings_;
  }

 private:
  server_process(pid_t pid, int read_fd, bool echo_log)
      : pid_(pid), read_fd_(read_fd), echo_log_(echo_log), drainer_([this] { drain(); }) {}

  void drain() {
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
      for (auto end = pending.find('\n'); end != std::string::npos;
           end = pending.find('\n', start)) {
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

  void on_line(std::string_view line) {
    if (echo_log_)
      std::cerr << "[server] " << line << "\n";
    std::lock_guard lock(mutex_);
    tail_.emplace_back(line);
    if (tail_.size() > 20)
      tail_.erase(tail_.begin());
    // Text log lines read "<time> <level> <message>" (metrics/logging.cpp).
    if (line.find(" warn ") != std::string_view::npos ||
        line.find(" error ") != std::string_view::npos ||
        line.find(" critical ") != std::string_view::npos) {
      ++warning_count_;
      if (first_warnings_.size() < 5)
        first_warnings_.emplace_back(line);
    }
    if (port_ == 0) {
      constexpr std::string_view listening = "listening on ";
      if (const auto at = line.find(listening); at != std::string_view::npos) {
        auto address = line.substr(at + listening.size());
        address = address.substr(0, address.find(' '));
        if (const auto colon = address.rfind(':'); colon != std::string_view::npos) {
          port_ = parse_number<std::uint16_t>(address.substr(colon + 1)).value_or(0);
          changed_.notify_all();
        }
      }
    }
  }

  std::string tail_locked() const {
    std::string text;
    for (const auto& line : tail_)
      text.append("  ").append(line).append("\n");
    return text;
  }

  pid_t pid_;
  int read_fd_;
  bool echo_log_;
  int exit_status_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint16_t port_ = 0;                   // guarded by mutex_
  bool ended_ = false;                       // guarded by mutex_
  std::vector<std::string> tail_;            // guarded by mutex_
  std::uint64_t warning_count_ = 0;          // guarded by mutex_
  std::vector<std::string> first_warnings_;  // guarded by mutex_
  std::thread drainer_;                      // last: starts after everything above exists
};

// ---- helpers --------------------------------------------------------------------------------

std::string random_hex(std::size_t bytes) {
  std::random_device seed;
  std::string text;
  constexpr std::string_view digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto value = seed();
    text += digits[value & 0xF];
    text += digits[(value >> 4) & 0xF];
  }
  return text;
}

/// One io_context on its own thread, kept running until stop().
class io_thread {
 public:
  io_thread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {
    std::promise<pid_t> id;
    auto got = id.get_future();
    asio::post(io_, [&id] { id.set_value(::gettid()); });
    tid_ = got.get();
  }
  ~io_thread() { stop(); }
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;

  asio::io_context& io() { return io_; }
  pid_t tid() const { return tid_; }
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable())
      thread_.join();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  pid_t tid_ = 0;
};

std::string thread_stat_path(pid_t tid) {
  return "/proc/self/task/" + std::to_string(tid) + "/stat";
}

std::string format_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", ms);
  return text;
}

/// A JSON number with fixed decimals (Boost.JSON would print 0.51 as 5.1E-1).
std::string fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string direction_json(const direction_figures& figures) {
  return "{\"sent\":" + std::to_string(figures.sent) +
         ",\"matched\":" + std::to_string(figures.matched) +
         ",\"lost\":" + std::to_string(figures.lost) + ",\"p50_ms\":" + fixed(figures.p50_ms, 3) +
         ",\"p95_ms\":" + fixed(figures.p95_ms, 3) + ",\"p99_ms\":" + fixed(figures.p99_ms, 3) +
         ",\"max_ms\":" + fixed(figures.max_ms, 3) + "}";
}

// ---- the run --------------------------------------------------------------------------------

/// The calls: started on a ramp, counted while they stream, collected when they end.
struct call_set {
  explicit call_set(std::size_t calls) : results(calls), handles(calls) {}

  std::mutex mutex;
  std::vector<sim::twilio_call_result> results;                  // guarded by mutex
  std::vector<std::shared_ptr<sim::twilio_caller>> handles;      // guarded by mutex
  std::vector<std::shared_ptr<asio::steady_timer>> ramp_timers;  // main thread only
  std::atomic<std::size_t> streaming{0};  // sent their first media frame, not yet ended
  std::atomic<std::size_t> ended{0};
  std::promise<void> all_ended;
};

int run(const bench_options& options) {
  const std::size_t frames_per_call = std::size_t{options.seconds} * frames_per_second;
  marker_table table(options.calls, frames_per_call);

  std::error_code ec;
  const auto directory =
      std::filesystem::temp_directory_path() / ("switchboard-bench-" + random_hex(6));
  std::filesystem::create_directories(directory / "recordings", ec);
  if (ec) {
    std::cerr << "bridge_bench: cannot create " << directory << ": " << ec.message() << "\n";
    return 1;
  }
  struct remove_on_exit {
    std::filesystem::path path;
    bool keep;
    ~remove_on_exit() {
      std::error_code ignored;
      if (!keep)
        std::filesystem::remove_all(path, ignored);
    }
  } cleanup{directory, options.keep_recordings};

  // The model stand-in: echo mode, one io thread, as the load generator will run it.
  io_thread model_thread;
  sim::model_options model_options;
  model_options.echo = true;
  model_options.expected_api_key = "sk-bench-" + random_hex(12);
  model_options.on_audio_appended = [&table](std::span<const std::uint8_t> audio) {
    table.stamp(audio, &frame_times::appended);
  };
  model_options.on_echo_sent = [&table](std::span<const std::uint8_t> audio) {
    table.stamp(audio, &frame_times::echoed);
  };
  auto model = sim::realtime_model_server::start(model_thread.io(), model_options);
  if (!model) {
    std::cerr << "bridge_bench: " << model.error() << "\n";
    return 1;
  }

  const std::string auth_token = random_hex(16);
  std::vector<std::string> serve_arguments{
      "serve",
      "--port=0",
      "--bind-address=127.0.0.1",
      "--twilio-auth-token=" + auth_token,
      "--openai-realtime-url=" + (*model)->url() + "?model=gpt-realtime",
      "--openai-api-key=" + model_options.expected_api_key,
      "--recordings-dir=" + (directory / "recordings").string()};
  serve_arguments.insert(serve_arguments.end(), options.server_arguments.begin(),
                         options.server_arguments.end());
  auto server =
      server_process::spawn(options.server, serve_arguments, directory, options.show_server_log);
  if (!server) {
    std::cerr << "bridge_bench: " << server.error() << "\n";
    return 1;
  }
  auto port = (*server)->wait_for_port(15s);
  if (!port) {
    std::cerr << "bridge_bench: " << port.error();
    return 1;
  }
  const pid_t server_pid = (*server)->pid();
  std::cout << "bridge_bench: " << options.calls << " calls x " << options.seconds
            << " s of marked audio, ramp " << options.ramp.count() << " ms; server pid "
            << server_pid << " on port " << *port << " (" << options.server << ")\n"
            << std::flush;

  // The callers: their own io thread, so that the model's thread is measured on its own.
  io_thread caller_thread;
  std::vector<std::vector<std::uint8_t>> audio(options.calls);  // outlives the calls
  call_set calls(options.calls);
  std::vector<sim::twilio_caller_options> caller_options(options.calls);
  for (std::size_t i = 0; i < options.calls; ++i) {
    audio[i] = marked_audio(i, frames_per_call);
    auto& caller = caller_options[i];
    caller.webhook_url = "http://127.0.0.1:" + std::to_string(*port) + "/incoming-call";
    caller.auth_token = auth_token;
    caller.stream_connect_address = "127.0.0.1:" + std::to_string(*port);
    caller.keep_heard_audio = false;
    // A second of silence after the marked audio lets the last echoes come back before `stop`.
    caller.script = {sim::speak(audio[i]), sim::silence(1s), sim::hangup()};
    caller.on_media_sent = [&table, &calls,
                            first = true](std::span<const std::uint8_t> frame) mutable {
      if (first) {
        first = false;
        calls.streaming.fetch_add(1);
      }
      table.stamp(frame, &frame_times::sent);
    };
    caller.on_media_received = [&table](std::span<const std::uint8_t> payload) {
      table.stamp(payload, &frame_times::received);
    };
  }

  // The server idle, for its baseline CPU (timers, the actor scheduler) and memory.
  const auto idle_start = sample_process(server_pid);
  std::this_thread::sleep_for(options.idle);
  const auto idle = sample_process(server_pid);

  const auto t0 = steady::now() + 50ms;
  for (std::size_t i = 0; i < options.calls; ++i) {
    auto timer = std::make_shared<asio::steady_timer>(
        caller_thread.io(), t0 + options.ramp * static_cast<std::int64_t>(i) /
                                     static_cast<std::int64_t>(options.calls));
    timer->async_wait([&, i](boost::system::error_code error) {
      if (error)
        return;
      auto handle =
          sim::twilio_caller::start(caller_thread.io(), std::move(caller_options[i]),
                                    [&calls, i](sim::twilio_call_result call_result) {
                                      std::lock_guard lock(calls.mutex);
                                      if (call_result.media_frames_sent > 0)
                                        calls.streaming.fetch_sub(1);
                                      calls.results[i] = std::move(call_result);
                                      if (calls.ended.fetch_add(1) + 1 == calls.results.size())
                                        calls.all_ended.set_value();
                                    });
      std::lock_guard lock(calls.mutex);
      calls.handles[i] = std::move(handle);
    });
    calls.ramp_timers.push_back(std::move(timer));
  }

  // The steady window: every call has started (ramp + 1 s for set-up) and none has finished its
  // marked audio (the first call's ends at t0 + seconds). The main thread waits for instants of
  // a measurement schedule, not for an event.
  const auto window_start = t0 + options.ramp + 1s;
  const auto window_end = t0 + std::chrono::seconds(options.seconds);
  std::this_thread::sleep_until(window_start);
  const auto steady_start = sample_process(server_pid);
  const auto bench_start_ticks = read_cpu_ticks("/proc/self/stat").value_or(0);
  const auto model_start_ticks = read_cpu_ticks(thread_stat_path(model_thread.tid())).value_or(0);
  const auto caller_start_ticks = read_cpu_ticks(thread_stat_path(caller_thread.tid())).value_or(0);
  const auto streaming_at_start = calls.streaming.load();
  std::this_thread::sleep_until(window_end);
  const auto steady_end = sample_process(server_pid);
  const auto bench_end_ticks = read_cpu_ticks("/proc/self/stat").value_or(0);
  const auto model_end_ticks = read_cpu_ticks(thread_stat_path(model_thread.tid())).value_or(0);
  const auto caller_end_ticks = read_cpu_ticks(thread_stat_path(caller_thread.tid())).value_or(0);
  const auto streaming_at_end = calls.streaming.load();

  // Every call ends by itself about 1 s after its marked audio; past a generous deadline the
  // rest are hung up so that the figures still come out.
  auto ended = calls.all_ended.get_future();
  bool timed_out = false;
  if (ended.wait_until(t0 + options.ramp + std::chrono::seconds(options.seconds) + 30s) !=
      std::future_status::ready) {
    timed_out = true;
    std::lock_guard lock(calls.mutex);
    for (const auto& handle : calls.handles) {
      if (handle)
        handle->hang_up();
    }
  }
  if (timed_out && ended.wait_for(15s) != std::future_status::ready)
    std::cerr << "bridge_bench: some calls did not end after hang_up\n";
  // The server finalises recordings after the stream closes: give it a second before the last
  // memory sample (a figure, not a synchronisation).
  std::this_thread::sleep_for(1s);
  const auto after = sample_process(server_pid);

  caller_thread.stop();
  model_thread.stop();
  std::uint64_t warning_count = 0;
  const auto warnings = (*server)->warnings(warning_count);
  const int exit_status = (*server)->terminate();

  // ---- figures
  const auto inbound = figures(table.times(), &frame_times::sent, &frame_times::appended);
  const auto outbound = figures(table.times(), &frame_times::echoed, &frame_times::received);
  const auto window = steady_end.at - steady_start.at;
  const double server_cpu = core_percent(steady_start.cpu_ticks, steady_end.cpu_ticks, window);
  const double server_idle_cpu =
      core_percent(idle_start.cpu_ticks, idle.cpu_ticks, idle.at - idle_start.at);
  const double bench_cpu = core_percent(bench_start_ticks, bench_end_ticks, window);
  const double model_cpu = core_percent(model_start_ticks, model_end_ticks, window);
  const double caller_cpu = core_percent(caller_start_ticks, caller_end_ticks, window);
  const auto calls_count = static_cast<double>(options.calls);
  const double cpu_per_call = (server_cpu - server_idle_cpu) / calls_count;
  const double rss_per_call_kib =
      (static_cast<double>(steady_end.rss_kib) - static_cast<double>(idle.rss_kib)) / calls_count;
  const double whole_run_seconds = std::chrono::duration<double>(after.at - idle.at).count();
  const double server_cpu_seconds = static_cast<double>(after.cpu_ticks - idle.cpu_ticks) /
                                    static_cast<double>(::sysconf(_SC_CLK_TCK));

  std::size_t calls_ok = 0;
  std::vector<std::string> failures;
  {
    std::lock_guard lock(calls.mutex);
    for (std::size_t i = 0; i < calls.results.size(); ++i) {
      const auto& call = calls.results[i];
      if (call.ok() && call.script_completed) {
        ++calls_ok;
      } else if (failures.size() < 5) {
        failures.push_back(
            "call " + std::to_string(i) + ": " +
            (call.error.empty() ? std::string("did not complete its script") : call.error));
      }
    }
  }

  char line[256];
  std::cout << "\n                   frames sent  matched     lost      p50      p95      p99"
               "      max  (ms)\n";
  for (const auto& [name, figure] :
       {std::pair{"caller -> model", inbound}, std::pair{"model -> caller", outbound}}) {
    std::snprintf(line, sizeof line, "%-18s %11llu %8llu %8llu %8s %8s %8s %8s\n", name,
                  static_cast<unsigned long long>(figure.sent),
                  static_cast<unsigned long long>(figure.matched),
                  static_cast<unsigned long long>(figure.lost), format_ms(figure.p50_ms).c_str(),
                  format_ms(figure.p95_ms).c_str(), format_ms(figure.p99_ms).c_str(),
                  format_ms(figure.max_ms).c_str());
    std::cout << line;
  }
  // Latency over time: a backlog that builds up shows as a p50 that grows slice by slice, a
  // stall as one slice's maximum.
  const auto t0_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
  constexpr std::int64_t slice_ns = 5'000'000'000;
  const auto run_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          options.ramp + std::chrono::seconds(options.seconds) + 1s)
                          .count();
  std::cout << "by 5 s of the run (p50/max ms):";
  for (std::int64_t begin = 0; begin < run_ns; begin += slice_ns) {
    std::snprintf(line, sizeof line, " %14s",
                  (std::to_string(begin / 1'000'000'000) + "-" +
                   std::to_string((begin + slice_ns) / 1'000'000'000) + " s")
                      .c_str());
    std::cout << line;
  }
  std::cout << "\n";
  for (const auto& [name, from, to] :
       {std::tuple{"  caller -> model", &frame_times::sent, &frame_times::appended},
        std::tuple{"  model -> caller", &frame_times::echoed, &frame_times::received}}) {
    std::snprintf(line, sizeof line, "%-30s", name);
    std::cout << line;
    for (std::int64_t begin = 0; begin < run_ns; begin += slice_ns) {
      const auto slice = figures(table.times(), from, to, t0_ns + begin, t0_ns + begin + slice_ns);
      std::snprintf(line, sizeof line, " %14s",
                    slice.matched == 0
                        ? "-"
                        : (format_ms(slice.p50_ms) + "/" + format_ms(slice.max_ms)).c_str());
      std::cout << line;
    }
    std::cout << "\n";
  }
  std::snprintf(line, sizeof line,
                "\nserver CPU, steady window %.1f s (%zu..%zu calls streaming): %.1f %% of one "
                "core; idle %.1f %% -> %.3f %% per call\n",
                std::chrono::duration<double>(window).count(), streaming_at_start, streaming_at_end,
                server_cpu, server_idle_cpu, cpu_per_call);
  std::cout << line;
  std::snprintf(line, sizeof line, "server CPU, whole run: %.2f s over %.1f s\n",
                server_cpu_seconds, whole_run_seconds);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "server RSS: idle %.1f MiB, steady %.1f MiB, after %.1f MiB -> %.0f KiB per "
                "call\n",
                static_cast<double>(idle.rss_kib) / 1024,
                static_cast<double>(steady_end.rss_kib) / 1024,
                static_cast<double>(after.rss_kib) / 1024, rss_per_call_kib);
  std::cout << line;
  std::snprintf(line, sizeof line,
                "bench CPU, steady window: %.1f %% of one core (model thread %.1f %%, caller "
                "thread %.1f %%)\n",
                bench_cpu, model_cpu, caller_cpu);
  std::cout << line;
  std::cout << "calls: " << calls_ok << " completed, " << options.calls - calls_ok
            << " failed or cut" << (timed_out ? " (timed out: the rest were hung up)" : "")
            << "; markers foreign " << table.foreign() << ", duplicated " << table.duplicates()
            << "\n";
  for (const auto& failure : failures)
    std::cout << "  " << failure << "\n";
  std::cout << "server: " << warning_count << " log lines at warn or above";
  if (WIFEXITED(exit_status))
    std::cout << "; exit status " << WEXITSTATUS(exit_status) << " after SIGTERM\n";
  else if (WIFSIGNALED(exit_status))
    std::cout << "; killed by signal " << WTERMSIG(exit_status) << "\n";
  for (const auto& warning : warnings)
    std::cout << "  " << warning << "\n";
  if (options.keep_recordings)
    std::cout << "recordings kept in " << (directory / "recordings").string() << "\n";

  std::cout << "{\"calls\":" << options.calls << ",\"seconds\":" << options.seconds
            << ",\"ramp_ms\":" << options.ramp.count() << ",\"calls_completed\":" << calls_ok
            << ",\"inbound\":" << direction_json(inbound)
            << ",\"outbound\":" << direction_json(outbound)
            << ",\"server\":{\"cpu_core_pct\":" << fixed(server_cpu, 2)
            << ",\"idle_cpu_core_pct\":" << fixed(server_idle_cpu, 2)
            << ",\"cpu_core_pct_per_call\":" << fixed(cpu_per_call, 4)
            << ",\"cpu_seconds_whole_run\":" << fixed(server_cpu_seconds, 2)
            << ",\"rss_idle_kib\":" << idle.rss_kib << ",\"rss_steady_kib\":" << steady_end.rss_kib
            << ",\"rss_after_kib\":" << after.rss_kib
            << ",\"rss_per_call_kib\":" << fixed(rss_per_call_kib, 0)
            << ",\"warnings\":" << warning_count
            << "},\"bench\":{\"cpu_core_pct\":" << fixed(bench_cpu, 2)
            << ",\"model_thread_pct\":" << fixed(model_cpu, 2)
            << ",\"caller_thread_pct\":" << fixed(caller_cpu, 2)
            << "},\"window_s\":" << fixed(std::chrono::duration<double>(window).count(), 2)
            << ",\"streaming_at_window\":[" << streaming_at_start << "," << streaming_at_end
            << "]}\n";
  return calls_ok == options.calls ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--")
      break;
    if (argument == "--help" || argument == "-h") {
      std::cout << usage;
      return 0;
    }
  }
  auto options = parse_options(argc, argv);
  if (!options) {
    std::cerr << options.error() << "\n" << usage;
    return 2;
  }
  return run(*options);
}
