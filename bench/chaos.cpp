// bench/chaos: a seeded, bounded fault schedule against a running `switchboard serve` (issue 10).
//
// N simulated Twilio calls over T seconds while, all decided by the seed before the first call:
//   - model connections (in the order the bridge opens them) drop abruptly (TCP reset), stall
//     (the model stops sending for a while, then resumes), answer session.update with an error,
//     are refused with 503, or go mute (upgrade, then nothing);
//   - callers reset their TCP connection mid-call (no `stop`, no close frame);
//   - the recordings disk fills (a filler file written until ENOSPC) and empties (deleted).
// Then the invariants, each printed PASS or FAIL; the exit status is 0 only when all hold:
//   alive      the server process is alive and /healthz answers 200
//   call.json  every call that started (its stream sent `start`) has a call.json that parses as
//              JSON and names its end reason — a call that ended while the disk was full too,
//              once the disk has room again (the node writes it late)
//   wav        every .wav under the recordings directory parses (audio/wav_format, strict)
//              and opens with soxi when sox is installed
//   memory/fds the server's VmRSS and open descriptors are back within a stated tolerance of
//              the idle level measured after a warm-up call
//
// How faults are injected without touching the bridge: the bridge's OPENAI_REALTIME_URL points at
// a TCP proxy here that sends each model connection to one of several model stand-ins (healthy,
// error-after-update, refusing, mute) or cuts/stalls it itself; each caller's media stream goes
// through its own proxy, which resets it at its scheduled moment. The disk is a tmpfs mounted for
// the run (the process must be root); when mounting fails the server runs with the disk fault
// switch (SWITCHBOARD_FAULT_DISK=enospc-after:BYTES) instead, and the report says which ran.

#include "audio/wav_format.hpp"
#include "net/http_client.hpp"
#include "sim/process_stats.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/server_process.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_caller.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
namespace sim = switchboard::sim;
namespace fs = std::filesystem;

// ---- options ---------------------------------------------------------------------------------

struct chaos_options {
  std::uint64_t seed = 1;
  std::size_t calls = 30;
  std::uint32_t seconds = 60;
  fs::path server_executable;
  bool show_server_log = false;
  bool keep_directory = false;
};

constexpr const char* usage = R"(bench/chaos: a seeded fault schedule against `switchboard serve`.
  --seed S          the schedule's seed (default 1)
  --calls N         calls to place (default 30, at most 200)
  --seconds T       the calls start within T seconds (default 60, 20..600)
  --switchboard P   the executable (default: ../switchboard beside this program)
  --show-server-log copy the server's log to stderr
  --keep            keep the working directory (recordings are copied out of the tmpfs)
Must run as root for the tmpfs disk; otherwise the disk fault switch stands in.
)";

std::optional<chaos_options> parse_arguments(int argc, char** argv) {
  chaos_options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc)
        return std::nullopt;
      return std::string(argv[++i]);
    };
    auto number = [&](std::uint64_t low, std::uint64_t high) -> std::optional<std::uint64_t> {
      auto text = value();
      if (!text)
        return std::nullopt;
      char* end = nullptr;
      const auto parsed = std::strtoull(text->c_str(), &end, 10);
      if (end == text->c_str() || *end != '\0' || parsed < low || parsed > high)
        return std::nullopt;
      return parsed;
    };
    if (flag == "--seed") {
      auto v = number(0, UINT64_MAX);
      if (!v)
        return std::nullopt;
      options.seed = *v;
    } else if (flag == "--calls") {
      auto v = number(1, 200);
      if (!v)
        return std::nullopt;
      options.calls = *v;
    } else if (flag == "--seconds") {
      auto v = number(20, 600);
      if (!v)
        return std::nullopt;
      options.seconds = static_cast<std::uint32_t>(*v);
    } else if (flag == "--switchboard") {
      auto v = value();
      if (!v)
        return std::nullopt;
      options.server_executable = *v;
    } else if (flag == "--show-server-log") {
      options.show_server_log = true;
    } else if (flag == "--keep") {
      options.keep_directory = true;
    } else {
      return std::nullopt;
    }
  }
  return options;
}

// ---- the schedule: everything the seed decides --------------------------------------------------

enum class model_fault { none, drop, stall, error, refuse, mute };

const char* to_string(model_fault fault) {
  switch (fault) {
    case model_fault::none:
      return "healthy";
    case model_fault::drop:
      return "drop";
    case model_fault::stall:
      return "stall";
    case model_fault::error:
      return "error";
    case model_fault::refuse:
      return "refuse";
    case model_fault::mute:
      return "mute";
  }
  return "?";
}

struct model_connection_plan {
  model_fault fault = model_fault::none;
  ms at{0};    // drop: after this long; stall: starts this long after the connection opened
  ms for_{0};  // stall: how long the model sends nothing
};

struct call_plan {
  std::string call_sid;
  ms start{0};                    // after the run began
  ms length{0};                   // the caller's script: speaks, then silence, then hangs up
  std::optional<ms> reset_after;  // after its stream connected: a TCP reset, no `stop`
};

struct disk_window {
  ms fill{0};
  ms empty{0};
};

struct schedule {
  std::vector<call_plan> calls;
  std::vector<model_connection_plan> model_connections;  // beyond the list: healthy
  std::vector<disk_window> disk;
};

/// A fixed generator (the standard distributions are implementation-defined): the same seed gives
/// the same schedule with any standard library.
class seeded_random {
 public:
  explicit seeded_random(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t between(std::uint64_t low, std::uint64_t high) {  // inclusive
    return low + engine_() % (high - low + 1);
  }
  bool chance(unsigned percent) { return between(0, 99) < percent; }

 private:
  std::mt19937_64 engine_;
};

std::string hex32(seeded_random& random) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  for (int i = 0; i < 32; ++i)
    text.push_back(digits[random.between(0, 15)]);
  return text;
}

schedule make_schedule(const chaos_options& options) {
  seeded_random random(options.seed);
  schedule plan;
  const std::uint64_t span_ms = std::uint64_t{options.seconds} * 1000;
  for (std::size_t i = 0; i < options.calls; ++i) {
    call_plan call;
    call.call_sid = "CA" + hex32(random);
    call.length = ms(random.between(5'000, 12'000));
    call.start = ms(random.between(0, span_ms - static_cast<std::uint64_t>(call.length.count())));
    if (random.chance(25))
      call.reset_after = ms(random.between(300, static_cast<std::uint64_t>(call.length.count())));
    plan.calls.push_back(std::move(call));
  }
  std::sort(plan.calls.begin(), plan.calls.end(),
            [](const call_plan& a, const call_plan& b) { return a.start < b.start; });
  // Twice as many model connections as calls: reconnects take the next ones.
  for (std::size_t k = 0; k < 2 * options.calls; ++k) {
    model_connection_plan connection;
    const auto roll = random.between(0, 99);
    if (roll < 50) {
      connection.fault = model_fault::none;
    } else if (roll < 61) {
      connection.fault = model_fault::drop;
      connection.at = ms(random.between(200, 6'000));
    } else if (roll < 72) {
      connection.fault = model_fault::stall;
      connection.at = ms(random.between(200, 4'000));
      connection.for_ = ms(random.between(1'000, 8'000));
    } else if (roll < 83) {
      connection.fault = model_fault::error;
    } else if (roll < 89) {
      connection.fault = model_fault::refuse;
    } else {
      connection.fault = model_fault::mute;
    }
    plan.model_connections.push_back(connection);
  }
  // One fill in each half of the run, each lasting 2–6 s.
  for (int half = 0; half < 2; ++half) {
    const std::uint64_t from = half * span_ms / 2;
    const std::uint64_t fill = random.between(from + 1'000, from + span_ms / 2 - 7'000);
    plan.disk.push_back({ms(fill), ms(fill + random.between(2'000, 6'000))});
  }
  return plan;
}

void print_schedule(const schedule& plan, std::ostream& out) {
  out << "schedule:\n";
  for (std::size_t i = 0; i < plan.calls.size(); ++i) {
    const auto& call = plan.calls[i];
    out << "  call " << i << " " << call.call_sid << " at " << call.start.count() << " ms for "
        << call.length.count() << " ms";
    if (call.reset_after)
      out << ", caller resets " << call.reset_after->count() << " ms after connecting";
    out << "\n";
  }
  for (std::size_t k = 0; k < plan.model_connections.size(); ++k) {
    const auto& connection = plan.model_connections[k];
    if (connection.fault == model_fault::none)
      continue;
    out << "  model connection " << k << ": " << to_string(connection.fault);
    if (connection.fault == model_fault::drop)
      out << " after " << connection.at.count() << " ms";
    if (connection.fault == model_fault::stall)
      out << " at " << connection.at.count() << " ms for " << connection.for_.count() << " ms";
    out << "\n";
  }
  out << "  model connections not listed (0.." << plan.model_connections.size() - 1
      << " and beyond): healthy\n";
  for (const auto& window : plan.disk)
    out << "  disk fills at " << window.fill.count() << " ms, empties at " << window.empty.count()
        << " ms\n";
}

// ---- a TCP proxy that can stall, drop and reset -----------------------------------------------

/// One proxied connection: client (accepted) <-> upstream. Everything runs on one io thread.
class proxied_connection : public std::enable_shared_from_this<proxied_connection> {
 public:
  struct faults {
    std::optional<ms> reset_after;  // both sockets closed with a TCP reset
    std::optional<ms> stall_at;     // upstream -> client pauses for stall_for
    ms stall_for{0};
  };

  proxied_connection(tcp::socket client, asio::io_context& io, tcp::endpoint upstream, faults plan)
      : client_(std::move(client)),
        upstream_(io),
        upstream_endpoint_(upstream),
        plan_(plan),
        reset_timer_(io),
        stall_timer_(io),
        opened_(steady::now()) {}

  void start() {
    auto self = shared_from_this();
    upstream_.async_connect(upstream_endpoint_, [self](boost::system::error_code ec) {
      if (ec) {
        self->close(true);
        return;
      }
      self->pump_up();
      self->pump_down();
      if (self->plan_.reset_after) {
        self->reset_timer_.expires_after(*self->plan_.reset_after);
        self->reset_timer_.async_wait([self](boost::system::error_code wait) {
          if (!wait)
            self->close(true);
        });
      }
    });
  }

 private:
  void pump_up() {
    auto self = shared_from_this();
    client_.async_read_some(asio::buffer(up_), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        self->close(false);
        return;
      }
      asio::async_write(self->upstream_, asio::buffer(self->up_.data(), n),
                        [self](boost::system::error_code write, std::size_t) {
                          if (write)
                            self->close(false);
                          else
                            self->pump_up();
                        });
    });
  }

  void pump_down() {
    auto self = shared_from_this();
    upstream_.async_read_some(asio::buffer(down_),
                              [self](boost::system::error_code ec, std::size_t n) {
                                if (ec) {
                                  self->close(false);
                                  return;
                                }
                                self->forward_down(n);
                              });
  }

  /// Writes what the upstream sent, unless the stall has begun: then the bytes are held (and
  /// nothing more is read: TCP pushes back on the model) until it ends.
  void forward_down(std::size_t n) {
    auto self = shared_from_this();
    if (plan_.stall_at) {
      const auto stall_start = opened_ + *plan_.stall_at;
      const auto stall_end = stall_start + plan_.stall_for;
      const auto now = steady::now();
      if (now >= stall_start && now < stall_end) {
        stall_timer_.expires_at(stall_end);
        stall_timer_.async_wait([self, n](boost::system::error_code ec) {
          if (!ec && !self->closed_)
            self->forward_down(n);
        });
        return;
      }
    }
    asio::async_write(client_, asio::buffer(down_.data(), n),
                      [self](boost::system::error_code write, std::size_t) {
                        if (write)
                          self->close(false);
                        else
                          self->pump_down();
                      });
  }

  void close(bool reset) {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ignored;
    for (tcp::socket* socket : {&client_, &upstream_}) {
      if (reset && socket->is_open())
        socket->set_option(asio::socket_base::linger(true, 0), ignored);  // RST, not FIN
      socket->close(ignored);
    }
    reset_timer_.cancel();
    stall_timer_.cancel();
  }

  tcp::socket client_;
  tcp::socket upstream_;
  tcp::endpoint upstream_endpoint_;
  faults plan_;
  asio::steady_timer reset_timer_;
  asio::steady_timer stall_timer_;
  steady::time_point opened_;
  bool closed_ = false;
  std::array<char, 16 * 1024> up_{};
  std::array<char, 16 * 1024> down_{};
};

/// Accepts on 127.0.0.1 (any port); `route(n)` gives connection n's upstream and faults.
class fault_proxy {
 public:
  using route_fn = std::function<std::pair<tcp::endpoint, proxied_connection::faults>(std::size_t)>;

  fault_proxy(asio::io_context& io, route_fn route)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        route_(std::move(route)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepted() const { return accepted_.load(); }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec)
        return;
      const auto index = accepted_.fetch_add(1);
      auto [upstream, plan] = route_(index);
      std::make_shared<proxied_connection>(std::move(socket), io_, upstream, plan)->start();
      accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  route_fn route_;
  std::atomic<std::size_t> accepted_{0};
};

// ---- the disk -----------------------------------------------------------------------------------

// For the signal handler: what to undo when the run is interrupted.
volatile std::sig_atomic_t child_pid = 0;
char mounted_path[512] = {};

void on_interrupt(int) {
  if (child_pid != 0)
    ::kill(child_pid, SIGKILL);
  if (mounted_path[0] != '\0')
    ::umount2(mounted_path, MNT_DETACH);
  ::_exit(2);
}

/// Writes `path` until the file system says ENOSPC; returns the bytes written.
std::uint64_t fill_disk(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return 0;
  std::vector<char> block(1 << 20, 'x');
  std::uint64_t written = 0;
  for (;;) {
    const auto n = ::write(fd, block.data(), block.size());
    if (n <= 0)
      break;
    written += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  return written;
}

// ---- the server's state, from outside
// ------------------------------------------------------------

struct http_answer {
  unsigned status = 0;
  std::string body;
};

std::optional<http_answer> http_get(asio::io_context& io, const std::string& url) {
  switchboard::net::http_client_request request;
  request.url = url;
  request.timeout = 5s;
  std::promise<std::optional<http_answer>> promise;
  auto future = promise.get_future();
  switchboard::net::http_request_async(
      io, request, [&promise](switchboard::net::http_client_result result) {
        if (!result)
          promise.set_value(std::nullopt);
        else
          promise.set_value(http_answer{result->status, std::move(result->body)});
      });
  return future.get();
}

/// A metric's value from a /metrics scrape (summed over its label sets), or nullopt.
std::optional<double> metric_total(const std::string& metrics_text, const std::string& name) {
  std::istringstream lines(metrics_text);
  std::string line;
  std::optional<double> total;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0)
      continue;
    const auto rest = line.substr(name.size());
    if (!rest.empty() && rest[0] != ' ' && rest[0] != '{')
      continue;
    const auto space = line.rfind(' ');
    total = total.value_or(0) + std::strtod(line.c_str() + space + 1, nullptr);
  }
  return total;
}

/// fd number -> what it points at (a path, socket:[inode], pipe:[inode], anon_inode:...).
std::map<int, std::string> descriptor_targets(pid_t pid) {
  std::map<int, std::string> targets;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code link_error;
    const auto target = fs::read_symlink(it->path(), link_error);
    targets[std::atoi(it->path().filename().c_str())] = link_error ? "?" : target.string();
  }
  return targets;
}

struct idle_level {
  std::uint64_t rss_kib = 0;
  std::size_t descriptors = 0;
  std::map<int, std::string> targets;
};

/// Waits until /metrics says 0 active calls and no ended call's files wait for the disk (up to
/// `limit`), then 2 s more for the finishing threads, and samples. nullopt when the node never
/// got idle.
std::optional<idle_level> settle_and_sample(asio::io_context& io, const std::string& base,
                                            pid_t pid, ms limit) {
  const auto deadline = steady::now() + limit;
  for (;;) {
    auto answer = http_get(io, base + "/metrics");
    if (answer && answer->status == 200) {
      const auto active = metric_total(answer->body, "switchboard_active_calls");
      const auto pending = metric_total(answer->body, "switchboard_call_files_pending");
      if (active && *active == 0 && pending && *pending == 0)
        break;
    }
    if (steady::now() > deadline)
      return std::nullopt;
    std::this_thread::sleep_for(500ms);
  }
  std::this_thread::sleep_for(2s);
  const auto sample = sim::sample_process(pid);
  if (!sample)
    return std::nullopt;
  auto targets = descriptor_targets(pid);
  return idle_level{sample->rss_kib, targets.size(), std::move(targets)};
}

/// Runs an io_context on its own thread until stop() or destruction (so that an early return
/// never leaves a joinable thread behind).
class io_runner {
 public:
  explicit io_runner(asio::io_context& io)
      : io_(io), guard_(asio::make_work_guard(io)), thread_([&io] { io.run(); }) {}
  ~io_runner() { stop(); }
  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;
  void stop() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable())
      thread_.join();
  }

 private:
  asio::io_context& io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// ---- the run ----------------------------------------------------------------------------------

struct call_outcome {
  bool ended = false;
  sim::twilio_call_result result;
  ms ended_at{0};  // after the run began
};

std::string random_token() {
  std::random_device device;
  std::ostringstream text;
  text << std::hex << device() << device() << device() << device();
  return text.str();
}

std::vector<std::string> server_environment(const std::vector<std::string>& settings) {
  std::vector<std::string> environment;
  for (const char* name : {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"}) {
    if (const char* value = std::getenv(name))
      environment.push_back(std::string(name) + "=" + value);
  }
  environment.insert(environment.end(), settings.begin(), settings.end());
  return environment;
}

std::vector<sim::caller_step> caller_script(ms length) {
  const auto request = sim::fixture_audio(sim::speech_fixture::caller_request);
  const ms spoken(static_cast<std::int64_t>(request.size() / 8));
  std::vector<sim::caller_step> script{sim::silence(500ms), sim::speak(request)};
  if (length > spoken + 500ms)
    script.push_back(sim::silence(length - spoken - 500ms));
  script.push_back(sim::hangup());
  return script;
}

bool in_window(ms at, const std::vector<disk_window>& windows, ms grace) {
  return std::any_of(windows.begin(), windows.end(), [&](const disk_window& window) {
    return at + grace >= window.fill && at <= window.empty + grace;
  });
}

std::vector<fs::path> call_directories(const fs::path& root, const std::string& call_sid) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec))
      continue;
    const auto name = it->path().filename().string();
    if (name == call_sid || name.rfind(call_sid + "-", 0) == 0)
      found.push_back(it->path());
  }
  return found;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int run(const chaos_options& options) {
  const auto plan = make_schedule(options);
  std::cout << "chaos: seed " << options.seed << ", " << options.calls << " calls within "
            << options.seconds << " s\n";
  print_schedule(plan, std::cout);

  // The working directory and the disk.
  char pattern[] = "/tmp/switchboard-chaos-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    std::cerr << "chaos: mkdtemp: " << std::strerror(errno) << "\n";
    return 2;
  }
  const fs::path work(pattern);
  const fs::path disk = work / "disk";
  fs::create_directories(disk);
  const bool tmpfs = ::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=64m,mode=0755") == 0;
  if (tmpfs) {
    std::snprintf(mounted_path, sizeof mounted_path, "%s", disk.c_str());
    std::cout << "disk: tmpfs of 64 MiB at " << disk.string()
              << " (filled with a filler file, emptied by deleting it)\n";
  } else {
    std::cout << "disk: mount failed (" << std::strerror(errno)
              << "): the server runs with SWITCHBOARD_FAULT_DISK=enospc-after:4000000 instead "
                 "(fills once, never empties)\n";
  }
  // Whatever way run() returns, the tmpfs goes (the server, declared later, is stopped first).
  struct unmount_at_exit {
    fs::path directory;
    bool mounted;
    ~unmount_at_exit() {
      if (mounted && ::umount2(directory.c_str(), 0) != 0)
        ::umount2(directory.c_str(), MNT_DETACH);
      mounted_path[0] = '\0';
    }
  } unmount{disk, tmpfs};
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  const fs::path recordings = disk / "recordings";
  const fs::path filler = disk / "filler";

  // The model stand-ins and the proxies, on one io thread.
  asio::io_context model_io;
  io_runner model_runner(model_io);
  auto stand_in = [&](auto configure) {
    sim::model_options model;
    model.response_delay = 200ms;
    configure(model);
    auto server = sim::realtime_model_server::start(model_io, model);
    if (!server) {
      std::cerr << "chaos: model stand-in: " << server.error() << "\n";
      on_interrupt(0);  // unmounts and exits
    }
    return std::move(*server);
  };
  auto healthy = stand_in([](sim::model_options&) {});
  auto erroring = stand_in([](sim::model_options& m) { m.error_after_session_update = true; });
  auto refusing = stand_in([](sim::model_options& m) { m.refuse_status = 503; });
  auto mute = stand_in([](sim::model_options& m) { m.mute_first_connections = SIZE_MAX; });
  const auto loopback = asio::ip::make_address("127.0.0.1");
  std::atomic<bool> warming_up{true};
  std::size_t scheduled = 0;  // model connections opened since the warm-up (model io thread)
  fault_proxy model_proxy(model_io, [&](std::size_t index) {
    model_connection_plan connection;
    // The warm-up call's connections are not part of the schedule.
    if (!warming_up.load()) {
      if (scheduled < plan.model_connections.size())
        connection = plan.model_connections[scheduled];
      ++scheduled;
    }
    (void)index;
    proxied_connection::faults faults;
    std::uint16_t port = healthy->port();
    switch (connection.fault) {
      case model_fault::none:
        break;
      case model_fault::drop:
        faults.reset_after = connection.at;
        break;
      case model_fault::stall:
        faults.stall_at = connection.at;
        faults.stall_for = connection.for_;
        break;
      case model_fault::error:
        port = erroring->port();
        break;
      case model_fault::refuse:
        port = refusing->port();
        break;
      case model_fault::mute:
        port = mute->port();
        break;
    }
    return std::make_pair(tcp::endpoint(loopback, port), faults);
  });

  // The server.
  const auto auth_token = random_token();
  std::vector<std::string> settings{
      "PORT=0",
      "BIND_ADDRESS=127.0.0.1",
      "TWILIO_AUTH_TOKEN=" + auth_token,
      "OPENAI_API_KEY=sk-chaos",
      "OPENAI_REALTIME_URL=ws://127.0.0.1:" + std::to_string(model_proxy.port()) +
          "/v1/realtime?model=gpt-realtime",
      "RECORDINGS_DIR=" + recordings.string(),
      "LOG_FORMAT=text",
      // Short enough that a mute or stalled model is noticed within a call of 5–12 s.
      "MODEL_READY_TIMEOUT=2",
      "MODEL_SILENCE_TIMEOUT=4",
  };
  if (!tmpfs)
    settings.push_back("SWITCHBOARD_FAULT_DISK=enospc-after:4000000");
  sim::server_process_options spawn;
  spawn.executable = options.server_executable;
  spawn.arguments = {"serve"};
  spawn.environment = server_environment(settings);
  spawn.working_directory = work;
  spawn.echo_log = options.show_server_log;
  auto spawned = sim::server_process::spawn(spawn);
  if (!spawned) {
    std::cerr << "chaos: " << spawned.error() << "\n";
    return 2;
  }
  auto server = std::move(*spawned);
  child_pid = server->pid();
  auto port = server->wait_for_port(30s);
  if (!port) {
    std::cerr << "chaos: " << port.error() << "\n";
    return 2;
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(*port);
  const tcp::endpoint server_endpoint(loopback, *port);

  // The callers, on their own io thread.
  asio::io_context caller_io;
  io_runner caller_runner(caller_io);
  auto place_call = [&](const std::string& call_sid, ms length, std::optional<ms> reset,
                        std::shared_ptr<fault_proxy>& proxy, sim::twilio_caller::completion done) {
    proxy = std::make_shared<fault_proxy>(model_io, [=](std::size_t) {
      proxied_connection::faults faults;
      faults.reset_after = reset;
      return std::make_pair(server_endpoint, faults);
    });
    sim::twilio_caller_options caller;
    caller.webhook_url = base + "/incoming-call";
    caller.auth_token = auth_token;
    caller.call_sid = call_sid;
    caller.stream_connect_address = "127.0.0.1:" + std::to_string(proxy->port());
    caller.script = caller_script(length);
    caller.keep_heard_audio = false;
    return sim::twilio_caller::start(caller_io, caller, std::move(done));
  };

  // Warm-up: one healthy call, then the idle level.
  {
    std::shared_ptr<fault_proxy> proxy;
    std::promise<sim::twilio_call_result> warmed;
    place_call("CAwarmup" + std::string(24, '0'), 6s, std::nullopt, proxy,
               [&warmed](sim::twilio_call_result result) { warmed.set_value(std::move(result)); });
    const auto result = warmed.get_future().get();
    std::cout << "warm-up call: " << (result.ok() ? "ok" : result.error) << "\n";
    proxy->stop();
  }
  const auto idle = settle_and_sample(model_io, base, server->pid(), 30s);
  if (!idle) {
    std::cerr << "chaos: the server did not get idle after the warm-up call\n";
    return 2;
  }
  std::cout << "idle level after warm-up: VmRSS " << idle->rss_kib << " KiB, " << idle->descriptors
            << " descriptors\n";
  warming_up = false;

  // The schedule.
  const auto t0 = steady::now();
  auto since = [t0] {
    return std::chrono::duration_cast<ms>(steady::now() - t0);
  };
  std::mutex mutex;
  std::vector<call_outcome> outcomes(plan.calls.size());
  std::vector<std::shared_ptr<fault_proxy>> proxies(plan.calls.size());
  std::atomic<std::size_t> ended{0};
  std::vector<disk_window> actual_disk;  // when the filler really held the disk
  std::thread disk_thread([&] {
    for (const auto& window : plan.disk) {
      std::this_thread::sleep_until(t0 + window.fill);
      disk_window actual;
      actual.fill = since();
      if (tmpfs) {
        const auto bytes = fill_disk(filler);
        std::lock_guard lock(mutex);
        std::cout << "[" << since().count() << " ms] disk full (filler " << bytes / 1024
                  << " KiB)\n";
      }
      std::this_thread::sleep_until(t0 + window.empty);
      if (tmpfs) {
        std::error_code ec;
        fs::remove(filler, ec);
      }
      actual.empty = since();
      std::lock_guard lock(mutex);
      std::cout << "[" << actual.empty.count() << " ms] disk emptied\n";
      actual_disk.push_back(actual);
    }
  });
  for (std::size_t i = 0; i < plan.calls.size(); ++i) {
    std::this_thread::sleep_until(t0 + plan.calls[i].start);
    place_call(plan.calls[i].call_sid, plan.calls[i].length, plan.calls[i].reset_after, proxies[i],
               [&, i](sim::twilio_call_result result) {
                 std::lock_guard lock(mutex);
                 outcomes[i].ended = true;
                 outcomes[i].ended_at = since();
                 outcomes[i].result = std::move(result);
                 ended.fetch_add(1);
               });
  }
  const auto calls_deadline = t0 + ms(std::int64_t{options.seconds} * 1000) + 60s;
  while (ended.load() < plan.calls.size() && steady::now() < calls_deadline)
    std::this_thread::sleep_for(200ms);
  disk_thread.join();
  for (auto& proxy : proxies) {
    if (proxy)
      proxy->stop();
  }
  std::cout << "calls: " << ended.load() << " of " << plan.calls.size() << " ended by "
            << since().count() << " ms\n";
  {
    const auto stats = [](auto& s) {
      return s->stats();
    };
    std::lock_guard lock(mutex);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      const auto& r = outcomes[i].result;
      std::cout << "  call " << i << ": ";
      if (!outcomes[i].ended) {
        std::cout << "never ended\n";
        continue;
      }
      std::cout << "ended at " << outcomes[i].ended_at.count() << " ms, upgrade "
                << r.upgrade_status << ", " << r.media_frames_sent << " frames sent, "
                << r.agent_bytes_received / 8 << " ms of agent audio"
                << (r.server_closed_first ? ", the bridge closed first" : "")
                << (r.close_code != 0 ? " (" + std::to_string(r.close_code) + ")" : "")
                << (r.ok() ? "" : ", " + r.error) << "\n";
    }
    const auto h = stats(healthy), e = stats(erroring), r = stats(refusing), m = stats(mute);
    std::cout << "model connections: " << model_proxy.accepted() << " (healthy stand-in "
              << h.sessions_opened << " sessions, erroring " << e.sessions_opened << ", refusing "
              << r.upgrades_refused << " refused, mute " << m.sessions_muted << ")\n";
  }

  // ---- the invariants
  bool all_hold = true;
  auto verdict = [&](bool holds, const std::string& name, const std::string& detail) {
    all_hold = all_hold && holds;
    std::cout << (holds ? "PASS " : "FAIL ") << name << ": " << detail << "\n";
  };
  std::cout << "invariants:\n";

  // Memory and descriptors first: the checks below read the disk, not the server.
  auto after = settle_and_sample(model_io, base, server->pid(), 60s);
  // A socket can outlive its call by a bounded close handshake (a stalled or mute model does not
  // answer the close frame; the bridge gives it a timeout). Descriptors count as back when they
  // return to idle within 15 s of the node reporting no active call; what was still open at the
  // first look is printed either way.
  std::map<int, std::string> lingering;
  ms descriptors_took{0};
  if (after && idle) {
    for (const auto& [fd, target] : after->targets) {
      const auto before = idle->targets.find(fd);
      if (before == idle->targets.end() || before->second != target)
        lingering[fd] = target;
    }
    const auto first_look = steady::now();
    while (after->descriptors > idle->descriptors && steady::now() < first_look + 15s) {
      std::this_thread::sleep_for(500ms);
      if (auto sample = sim::sample_process(server->pid())) {
        after->rss_kib = sample->rss_kib;
        after->targets = descriptor_targets(server->pid());
        after->descriptors = after->targets.size();
      }
    }
    descriptors_took = std::chrono::duration_cast<ms>(steady::now() - first_look);
  }

  // 1. alive
  int status = 0;
  const bool running = ::waitpid(server->pid(), &status, WNOHANG) == 0;
  const auto health = http_get(model_io, base + "/healthz");
  verdict(running && health && health->status == 200, "alive",
          std::string("process ") + (running ? "running" : "gone") + ", /healthz " +
              (health ? std::to_string(health->status) : std::string("no answer")));

  // 2. call.json. A call that ended (or began) while the disk was full gets its files once the
  // disk has room again (the node's call_file_retrier; settle_and_sample above waited for
  // switchboard_call_files_pending to reach 0), so none is excused.
  std::size_t started = 0, whole = 0, late = 0;
  std::vector<std::string> missing;
  for (std::size_t i = 0; i < plan.calls.size(); ++i) {
    const auto& outcome = outcomes[i];
    if (!outcome.ended || outcome.result.upgrade_status != 101 || outcome.result.frames_sent < 2)
      continue;  // never sent `start` (or never ended: counted below)
    ++started;
    const auto directories = call_directories(recordings, plan.calls[i].call_sid);
    bool ok = false;
    std::string why = "no call directory";
    for (const auto& directory : directories) {
      std::error_code ec;
      if (!fs::exists(directory / "call.json", ec)) {
        why = "no call.json in " + directory.string();
        continue;
      }
      boost::system::error_code parse_error;
      const auto json = boost::json::parse(read_file(directory / "call.json"), parse_error);
      const auto* object = parse_error ? nullptr : json.if_object();
      const auto* reason = object ? object->if_contains("end_reason") : nullptr;
      if (reason && reason->is_string() && !reason->as_string().empty()) {
        ok = true;
        if (const auto* problems = object->if_contains("problems");
            problems && problems->is_array()) {
          for (const auto& problem : problems->as_array()) {
            if (problem.is_string() &&
                problem.as_string().find("written late") != std::string::npos) {
              ++late;
              break;
            }
          }
        }
      } else {
        why = parse_error ? "call.json does not parse: " + parse_error.message()
                          : std::string("call.json has no end_reason");
      }
      break;
    }
    if (ok) {
      ++whole;
    } else {
      const bool disk_was_full = in_window(outcome.ended_at, actual_disk, 3s) ||
                                 in_window(plan.calls[i].start, actual_disk, 1s);
      missing.push_back(plan.calls[i].call_sid + " (call " + std::to_string(i) + ", ended at " +
                        std::to_string(outcome.ended_at.count()) + " ms" +
                        (disk_was_full ? ", the disk full then" : "") + "): " + why);
    }
  }
  const auto unended = plan.calls.size() - ended.load();
  verdict(missing.empty() && unended == 0, "call.json",
          std::to_string(started) + " calls started, " + std::to_string(whole) +
              " with a whole call.json naming its end reason (" + std::to_string(late) +
              " of them written late, once the full disk had room), " +
              std::to_string(missing.size()) + " missing or torn, " + std::to_string(unended) +
              " calls never ended");
  for (const auto& line : missing)
    std::cout << "  " << line << "\n";

  // 3. WAVs
  std::size_t wavs = 0;
  std::vector<std::string> unreadable;
  const bool have_soxi = std::system("command -v soxi >/dev/null 2>&1") == 0;
  {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(recordings, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() != ".wav")
        continue;
      ++wavs;
      const auto parsed = switchboard::audio::parse_wav_file(it->path().string());
      if (!parsed) {
        unreadable.push_back(it->path().string() + ": " + parsed.error().message);
        continue;
      }
      if (have_soxi) {
        const auto command = "soxi '" + it->path().string() + "' >/dev/null 2>&1";
        if (std::system(command.c_str()) != 0)
          unreadable.push_back(it->path().string() + ": soxi cannot open it");
      }
    }
  }
  verdict(unreadable.empty() && wavs > 0, "wav",
          std::to_string(wavs) + " WAV files, " + std::to_string(unreadable.size()) +
              " unreadable (strict parse" + (have_soxi ? " and soxi" : "") + ")");
  for (const auto& line : unreadable)
    std::cout << "  " << line << "\n";

  // 4. memory and descriptors. Tolerance: descriptors back to the idle count exactly (every
  // socket and file of a call is closed when it ends); VmRSS within 16 MiB or 25 % of idle,
  // whichever is larger (the allocator keeps freed arenas; a leak of the size of a call's
  // recordings buffers across 30 calls would exceed that).
  if (!after) {
    verdict(false, "memory", "the node never reported 0 active calls within 60 s");
    verdict(false, "descriptors", "not measured");
  } else {
    const std::uint64_t allowance = std::max<std::uint64_t>(16 * 1024, idle->rss_kib / 4);
    verdict(after->rss_kib <= idle->rss_kib + allowance, "memory",
            "VmRSS " + std::to_string(after->rss_kib) + " KiB after, " +
                std::to_string(idle->rss_kib) + " KiB idle (allowed +" + std::to_string(allowance) +
                " KiB)");
    verdict(after->descriptors <= idle->descriptors, "descriptors",
            std::to_string(after->descriptors) + " open after, " +
                std::to_string(idle->descriptors) +
                " idle (allowed +0, within 15 s of the node reporting no active call)");
    for (const auto& [fd, target] : lingering)
      std::cout << "  at the first look (2 s after 0 active calls) fd " << fd << " -> " << target
                << " was open, not at idle\n";
    if (!lingering.empty())
      std::cout << "  " << (after->descriptors <= idle->descriptors ? "back to idle " : "not back ")
                << descriptors_took.count() << " ms after the first look\n";
  }

  // Tear down.
  const auto log = server->log();
  std::cout << "server log: " << log.warnings << " warnings or errors\n";
  server->terminate();
  child_pid = 0;
  model_proxy.stop();
  healthy.reset();
  erroring.reset();
  refusing.reset();
  mute.reset();
  caller_runner.stop();
  model_runner.stop();
  if (options.keep_directory) {
    std::error_code ec;
    fs::copy(recordings, work / "recordings-copy", fs::copy_options::recursive, ec);
    std::cout << "kept: " << (work / "recordings-copy").string() << "\n";
  }
  if (tmpfs && ::umount2(disk.c_str(), 0) != 0)
    ::umount2(disk.c_str(), MNT_DETACH);
  unmount.mounted = false;
  mounted_path[0] = '\0';
  if (!options.keep_directory) {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  std::cout << (all_hold ? "chaos: every invariant holds\n" : "chaos: some invariant FAILED\n");
  return all_hold ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parse_arguments(argc, argv);
  if (!options) {
    std::cerr << usage;
    return 2;
  }
  if (options->server_executable.empty()) {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    for (const auto& candidate : {self.parent_path().parent_path() / "switchboard",
                                  self.parent_path().parent_path() / "app" / "switchboard"}) {
      if (fs::exists(candidate, ec)) {
        options->server_executable = candidate;
        break;
      }
    }
    if (options->server_executable.empty()) {
      std::cerr << "chaos: cannot find the switchboard executable; pass --switchboard\n";
      return 2;
    }
  }
  return run(*options);
}
