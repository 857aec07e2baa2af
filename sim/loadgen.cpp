#include "sim/loadgen.hpp"

#include "net/http_client.hpp"
#include "net/tls.hpp"
#include "sim/process_stats.hpp"
#include "sim/realtime_model_server.hpp"
#include "sim/self_signed_ca.hpp"
#include "sim/server_process.hpp"
#include "sim/twilio_caller.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace switchboard::sim {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

template <class T>
using result = boost::system::result<T, std::string>;

// The figures are flagged, not believed, when the load generator itself ran short: more than
// this share of a core busy (its io threads then queue work) or its callers sending late.
constexpr double bottleneck_core_percent = 80;
constexpr double bottleneck_lateness_p99_ms = 5;

/// The callers' media clock (twilio_caller): one frame every 20 ms.
constexpr std::int64_t frame_interval_ns = 20'000'000;
/// After the marked audio, a second of silence lets the last echoes come back before `stop`.
constexpr auto trailing_silence = 1s;
/// The last call needs a moment after it starts (webhook, upgrade, model session) before it
/// streams: the steady window begins this long after the ramp.
constexpr auto window_start_margin = 1s;
constexpr auto min_window = 2s;
/// The close code of a stream the bridge refused at `start` (RFC 6455 1013, try again later).
constexpr std::uint16_t try_again_later_close_code = 1013;

// ---- options --------------------------------------------------------------------------------

constexpr std::string_view usage_text =
    R"(usage: switchboard loadgen [--flags] [-- SERVE_FLAGS...]

Simulated Twilio calls against a bridge, the Realtime model stand-in echoing every frame.
Every frame carries a marker, so each echo is matched to the frame that caused it. Reports
the round trip, frames lost, duplicated, reordered or delivered to the wrong call, the
server's CPU and memory per call, and the load generator's own cost.

  --calls N               concurrent calls (default 100)
  --seconds S             marked audio each call streams (default 25); the steady window,
                          when every call streams, runs from the end of the ramp + 1 s to S
  --ramp-per-second R     new calls a second (default 100)
  --pattern echo|speech   frames of a test pattern, or the speech fixtures looped
                          (default echo); every frame is marked either way
  --model-tls             the model stand-in over wss:// with a self-signed CA
  --recordings on|off     whether the spawned server records the calls (default on)
  --json FILE             also write the result as one JSON object
  --idle-ms MS            the server's idle baseline before the calls (default 2000)
  --show-server-log       copy the spawned server's log to stderr
  --keep-temp             keep the temporary directory (recordings, CA)
  -- SERVE_FLAGS          flags for the spawned `switchboard serve`, after loadgen's own

By default loadgen runs `switchboard serve` (this executable) in a temporary directory, with
a random TWILIO_AUTH_TOKEN and OPENAI_REALTIME_URL pointing at the stand-in. To load a server
someone else started instead:
  --target http://HOST:PORT   its listener (it must run without PUBLIC_URL: the callers
                              sign http://HOST:PORT/incoming-call)
  --auth-token T              its TWILIO_AUTH_TOKEN
  --server-pid PID            its process, for CPU and memory (optional; same machine)
  --streams-to HOST:PORT      connect the media streams there instead (another node of the
                              target's cluster: an ingress without per-node routes)
  --model-listen HOST:PORT    where the stand-in listens; point the server's
                              OPENAI_REALTIME_URL at ws://HOST:PORT/v1/realtime (wss://
                              with --model-tls)
  --model-ca-dir DIR          with --model-tls: the stand-in's CA and certificate, created
                              when missing; the server must trust DIR/ca.pem through
                              SSL_CERT_FILE

Results whose load generator was the bottleneck (over 80 % of a core, or frames sent more
than 5 ms late at p99) are flagged: "loadgen_bottleneck": true.
Exit status: 0 every call completed, 1 some did not (or the run could not start), 2 bad flags.
)";

template <class Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

/// "HOST:PORT" or "[V6]:PORT".
std::optional<std::pair<std::string, std::uint16_t>> parse_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']'))
    host = host.substr(1, host.size() - 2);
  const auto port = parse_number<std::uint16_t>(text.substr(colon + 1));
  if (host.empty() || !port)
    return std::nullopt;
  return std::pair{std::string(host), *port};
}

std::chrono::nanoseconds ramp_duration(std::size_t calls, double ramp_per_second) {
  return std::chrono::nanoseconds(
      static_cast<std::int64_t>(std::ceil(static_cast<double>(calls) / ramp_per_second * 1e9)));
}

// ---- small helpers --------------------------------------------------------------------------

std::int64_t to_ns(steady::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
  std::random_device seed;
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto value = seed();
    text += digits[value & 0xF];
    text += digits[(value >> 4) & 0xF];
  }
  return text;
}

std::string calls_text(std::size_t calls) {
  return std::to_string(calls) + (calls == 1 ? " call" : " calls");
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

/// A temporary directory for the spawned server (its working directory and recordings) and the
/// CA; removed at the end unless kept.
class run_directory {
 public:
  static result<run_directory> create(bool keep) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "switchboard-loadgen-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return "cannot create a temporary directory " + pattern;
    return run_directory(pattern, keep);
  }
  run_directory(run_directory&& other) noexcept
      : path_(std::move(other.path_)), keep_(other.keep_) {
    other.path_.clear();
  }
  run_directory& operator=(run_directory&&) = delete;
  ~run_directory() {
    std::error_code ignored;
    if (!keep_ && !path_.empty())
      std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  run_directory(std::filesystem::path path, bool keep) : path_(std::move(path)), keep_(keep) {}
  std::filesystem::path path_;
  bool keep_;
};

/// The stand-in's certificate: reused from `directory` when all three files are there,
/// generated otherwise. `created` tells which.
result<self_signed_ca_files> model_certificate(const std::filesystem::path& directory,
                                               bool& created) {
  self_signed_ca_files files{directory / "ca.pem", directory / "server-chain.pem",
                             directory / "server-key.pem"};
  std::error_code ec;
  created = false;
  if (std::filesystem::exists(files.ca_certificate, ec) &&
      std::filesystem::exists(files.server_certificate_chain, ec) &&
      std::filesystem::exists(files.server_key, ec))
    return files;
  std::filesystem::create_directories(directory, ec);
  auto written = write_self_signed_ca(directory);
  if (!written)
    // In place: a path aggregate could be built from the string too.
    return {boost::system::in_place_error,
            "the model stand-in's certificate: " + written.error().message};
  created = true;
  return *written;
}

/// The spawned server's whole environment: a few variables of ours that a process needs, then
/// its settings. Nothing else is inherited, so a PUBLIC_URL or OPENAI_API_KEY in the user's
/// environment cannot change the server under test.
std::vector<std::string> server_environment(const std::vector<std::string>& settings) {
  std::vector<std::string> environment;
  for (const char* name : {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"}) {
    if (const char* value = std::getenv(name))
      environment.push_back(std::string(name) + "=" + value);
  }
  environment.insert(environment.end(), settings.begin(), settings.end());
  return environment;
}

/// Each call holds two sockets here (the caller's stream, the model's session) and a third
/// briefly (the webhook); a spawned server inherits the limit and needs as many. Raises the soft
/// limit towards the hard one; says so when even that is too low.
void raise_open_file_limit(std::size_t calls, std::ostream& progress) {
  const auto needed = static_cast<rlim_t>(3 * calls + 256);
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed)
    return;
  limit.rlim_cur = std::min(needed, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < needed) {
    progress << "loadgen: warning: at most " << limit.rlim_cur << " open files (ulimit -Hn); "
             << calls << " calls need about " << needed << "\n";
  }
}

// ---- the calls ------------------------------------------------------------------------------

/// The calls: started on the callers' thread, counted while they stream, collected as they end.
struct call_book {
  explicit call_book(std::size_t calls) : results(calls), handles(calls) {}

  std::mutex mutex;
  std::vector<twilio_call_result> results;              // guarded by mutex
  std::vector<std::shared_ptr<twilio_caller>> handles;  // guarded by mutex
  std::atomic<std::size_t> streaming{0};                // sent their first frame, not yet ended
  std::atomic<std::size_t> ended{0};
  std::promise<void> all_ended;
};

// ---- the stand-in and the server under test -------------------------------------------------

struct model_stand_in {
  std::unique_ptr<realtime_model_server> server;
  std::string api_key;                   // what it expects; empty: any
  std::filesystem::path ca_certificate;  // with TLS: what the server must trust
};

/// The model stand-in in echo mode, stamping every append and echo into `table`.
result<model_stand_in> start_model_stand_in(const loadgen_options& options,
                                            const std::filesystem::path& directory,
                                            marker_table& table, asio::io_context& io) {
  model_stand_in stand_in;
  model_options model;
  model.echo = true;
  model.single_threaded_io = true;  // the model's io_thread
  if (!options.model_listen.empty()) {
    const auto listen = parse_host_port(options.model_listen);
    model.bind_address = listen->first;
    model.port = listen->second;
  }
  if (options.model_tls) {
    bool created = false;
    auto files =
        model_certificate(options.model_ca_dir.empty() ? directory : options.model_ca_dir, created);
    if (!files)
      return files.error();
    if (created && !options.spawns_server()) {
      return "wrote a CA for the model stand-in to " + files->ca_certificate.string() +
             ": start the server with SSL_CERT_FILE=" + files->ca_certificate.string() +
             " and run loadgen again";
    }
    auto tls = net::tls_context::server(files->server_certificate_chain, files->server_key);
    if (!tls)
      return "the model stand-in's TLS context: " + tls.error();
    model.tls = *tls;
    stand_in.ca_certificate = files->ca_certificate;
  }
  if (options.spawns_server()) {
    stand_in.api_key = "sk-loadgen-" + random_hex(12);
    model.expected_api_key = stand_in.api_key;
  } else {
    model.path.clear();  // accept the server's URL whatever its path
  }
  model.on_audio_appended = [&table](std::span<const std::uint8_t> audio) {
    table.stamp_appended(audio, to_ns(steady::now()));
  };
  model.on_echo_sent = [&table](std::span<const std::uint8_t> audio) {
    table.stamp_echoed(audio, to_ns(steady::now()));
  };
  auto server = realtime_model_server::start(io, model);
  if (!server)
    return "the model stand-in: " + server.error();
  stand_in.server = std::move(*server);
  return stand_in;
}

struct server_under_test {
  std::unique_ptr<server_process> spawned;  // null for a --target
  std::string listener;                     // HOST:PORT of its HTTP and WebSocket listener
  std::string webhook_url;
  std::optional<pid_t> pid;
};

/// Spawns `switchboard serve` against the stand-in, or describes the --target.
result<server_under_test> start_server(const loadgen_options& options,
                                       const std::filesystem::path& directory,
                                       const model_stand_in& stand_in,
                                       const std::string& auth_token) {
  server_under_test server;
  if (!options.spawns_server()) {
    const auto url = net::parse_http_url(options.target);
    const bool v6 = url->host.find(':') != std::string::npos;
    server.listener = (v6 ? "[" + url->host + "]" : url->host) + ":" + url->port;
    server.webhook_url = options.target + "/incoming-call";
    server.pid = options.server_pid;
    return server;
  }
  std::vector<std::string> settings{
      "PORT=0",
      "BIND_ADDRESS=127.0.0.1",
      "TWILIO_AUTH_TOKEN=" + auth_token,
      "OPENAI_API_KEY=" + stand_in.api_key,
      "OPENAI_REALTIME_URL=" + stand_in.server->url() + "?model=gpt-realtime",
      "RECORDINGS_DIR=" + (directory / "recordings").string(),
      "LOG_FORMAT=text",
  };
  if (!stand_in.ca_certificate.empty())
    settings.push_back("SSL_CERT_FILE=" + stand_in.ca_certificate.string());
  settings.insert(settings.end(), options.server_settings.begin(), options.server_settings.end());
  server_process_options spawn;
  spawn.executable = options.server_executable;
  spawn.arguments = {"serve"};
  spawn.arguments.insert(spawn.arguments.end(), options.serve_arguments.begin(),
                         options.serve_arguments.end());
  spawn.environment = server_environment(settings);
  spawn.working_directory = directory;
  spawn.echo_log = options.show_server_log;
  auto started = server_process::spawn(spawn);
  if (!started)
    return started.error();
  server.spawned = std::move(*started);
  auto port = server.spawned->wait_for_port(30s);
  if (!port)
    return port.error();
  server.listener = "127.0.0.1:" + std::to_string(*port);
  server.webhook_url = "http://" + server.listener + "/incoming-call";
  server.pid = server.spawned->pid();
  return server;
}

// ---- figures from the samples ---------------------------------------------------------------

/// The server's samples: idle (start, end), the steady window (start, end), after the calls.
struct server_samples {
  std::optional<process_sample> idle_start, idle_end, window_start, window_end, after;
};

std::optional<loadgen_server_figures> server_figures(pid_t pid, const server_samples& samples,
                                                     std::size_t calls) {
  if (!samples.idle_start || !samples.idle_end || !samples.window_start || !samples.window_end)
    return std::nullopt;
  const double ticks = clock_ticks_per_second();
  const auto calls_count = static_cast<double>(calls);
  loadgen_server_figures server;
  server.pid = pid;
  const auto window_cpu = cpu_between(*samples.window_start, *samples.window_end, ticks);
  server.cpu_core_pct = window_cpu.core_percent();
  server.idle_cpu_core_pct =
      cpu_between(*samples.idle_start, *samples.idle_end, ticks).core_percent();
  server.cpu_core_pct_per_call = (server.cpu_core_pct - server.idle_cpu_core_pct) / calls_count;
  const double call_minutes = calls_count * window_cpu.elapsed_seconds / 60;
  if (call_minutes > 0) {
    server.user_seconds_per_call_minute = window_cpu.user_seconds / call_minutes;
    server.system_seconds_per_call_minute = window_cpu.system_seconds / call_minutes;
  }
  server.rss_idle_kib = samples.idle_end->rss_kib;
  server.rss_steady_kib = samples.window_end->rss_kib;
  server.rss_after_kib = samples.after ? samples.after->rss_kib : 0;
  server.rss_per_call_kib = (static_cast<double>(samples.window_end->rss_kib) -
                             static_cast<double>(samples.idle_end->rss_kib)) /
                            calls_count;
  server.threads = samples.window_end->threads;
  return server;
}

/// This process and its two io threads at the edges of the steady window.
struct self_samples {
  std::optional<process_sample> process_start, process_end, callers_start, callers_end, model_start,
      model_end;
};

loadgen_self_figures self_figures(const self_samples& samples, std::size_t calls,
                                  latency_summary lateness) {
  const double ticks = clock_ticks_per_second();
  loadgen_self_figures self;
  if (samples.process_start && samples.process_end) {
    self.cpu_core_pct =
        cpu_between(*samples.process_start, *samples.process_end, ticks).core_percent();
    self.cpu_core_pct_per_call = self.cpu_core_pct / static_cast<double>(calls);
    self.rss_kib = samples.process_end->rss_kib;
  }
  if (samples.callers_start && samples.callers_end) {
    self.caller_thread_pct =
        cpu_between(*samples.callers_start, *samples.callers_end, ticks).core_percent();
  }
  if (samples.model_start && samples.model_end) {
    self.model_thread_pct =
        cpu_between(*samples.model_start, *samples.model_end, ticks).core_percent();
  }
  self.send_lateness = lateness;
  char reason[160];
  if (self.cpu_core_pct > bottleneck_core_percent) {
    std::snprintf(reason, sizeof reason, "loadgen used %.0f %% of a core (limit %.0f %%)",
                  self.cpu_core_pct, bottleneck_core_percent);
    self.bottleneck_reasons.emplace_back(reason);
  }
  if (self.send_lateness.p99_ms > bottleneck_lateness_p99_ms) {
    std::snprintf(reason, sizeof reason, "callers sent frames %.1f ms late at p99 (limit %.0f ms)",
                  self.send_lateness.p99_ms, bottleneck_lateness_p99_ms);
    self.bottleneck_reasons.emplace_back(reason);
  }
  self.bottleneck = !self.bottleneck_reasons.empty();
  return self;
}

}  // namespace

std::string_view to_string(loadgen_pattern pattern) {
  return pattern == loadgen_pattern::speech ? "speech" : "echo";
}

std::string_view loadgen_usage() {
  return usage_text;
}

bool loadgen_help_requested(std::span<const std::string> arguments) {
  for (const auto& argument : arguments) {
    if (argument == "--")
      return false;
    if (argument == "--help" || argument == "-h")
      return true;
  }
  return false;
}

result<loadgen_options> parse_loadgen_arguments(std::span<const std::string> arguments) {
  loadgen_options options;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    std::string_view name = arguments[i];
    if (name == "--") {
      options.serve_arguments.assign(arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                     arguments.end());
      break;
    }
    if (name == "--model-tls") {
      options.model_tls = true;
      continue;
    }
    if (name == "--show-server-log") {
      options.show_server_log = true;
      continue;
    }
    if (name == "--keep-temp") {
      options.keep_directory = true;
      continue;
    }
    std::string_view value;
    if (const auto equals = name.find('='); equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    } else if (i + 1 < arguments.size() && name.starts_with("--")) {
      value = arguments[++i];
    } else if (name.starts_with("--")) {
      return std::string(name) + " needs a value";
    }
    auto bad = [&](std::string_view why) {
      return std::string(name) + ": '" + std::string(value) + "' " + std::string(why);
    };
    if (name == "--calls") {
      const auto calls = parse_number<std::size_t>(value);
      if (!calls || *calls == 0 || *calls >= max_marked_calls)
        return bad("is not a number of calls from 1 to " + std::to_string(max_marked_calls - 1));
      options.calls = *calls;
    } else if (name == "--seconds") {
      const auto seconds = parse_number<std::uint32_t>(value);
      if (!seconds || *seconds == 0 || *seconds > 3600)
        return bad("is not a number of seconds from 1 to 3600");
      options.seconds = *seconds;
    } else if (name == "--ramp-per-second") {
      const auto rate = parse_number<double>(value);
      if (!rate || !std::isfinite(*rate) || *rate < 0.01 || *rate > 100'000)
        return bad("is not a rate from 0.01 to 100000 calls a second");
      options.ramp_per_second = *rate;
    } else if (name == "--pattern") {
      if (value == "echo") {
        options.pattern = loadgen_pattern::echo;
      } else if (value == "speech") {
        options.pattern = loadgen_pattern::speech;
      } else {
        return bad("is not echo or speech");
      }
    } else if (name == "--recordings") {
      if (value != "on" && value != "off")
        return bad("is not on or off");
      options.recordings = value == "on";
    } else if (name == "--json") {
      if (value.empty())
        return bad("is not a file name");
      options.json_path = std::string(value);
    } else if (name == "--idle-ms") {
      const auto idle = parse_number<std::uint32_t>(value);
      if (!idle || *idle > 600'000)
        return bad("is not a number of ms from 0 to 600000");
      options.idle = std::chrono::milliseconds(*idle);
    } else if (name == "--target") {
      auto url = net::parse_http_url(value);
      if (!url || url->secure || url->target != "/")
        return bad("is not an http://HOST:PORT address");
      options.target = std::string(value);
      while (options.target.ends_with('/'))
        options.target.pop_back();
    } else if (name == "--auth-token") {
      if (value.empty())
        return std::string(name) + " must not be empty";
      options.auth_token = std::string(value);
    } else if (name == "--server-pid") {
      const auto pid = parse_number<pid_t>(value);
      if (!pid || *pid <= 0)
        return bad("is not a process id");
      options.server_pid = *pid;
    } else if (name == "--streams-to") {
      if (!parse_host_port(value))
        return bad("is not HOST:PORT");
      options.streams_to = std::string(value);
    } else if (name == "--model-listen") {
      if (!parse_host_port(value))
        return bad("is not HOST:PORT");
      options.model_listen = std::string(value);
    } else if (name == "--model-ca-dir") {
      if (value.empty())
        return bad("is not a directory");
      options.model_ca_dir = std::string(value);
    } else {
      return "unknown option " + std::string(name);
    }
  }

  if (options.spawns_server()) {
    for (const auto* flag : {options.auth_token.empty() ? nullptr : "--auth-token",
                             options.server_pid ? "--server-pid" : nullptr,
                             !options.streams_to.empty() ? "--streams-to" : nullptr,
                             options.model_ca_dir.empty() ? nullptr : "--model-ca-dir"}) {
      if (flag != nullptr)
        return std::string(flag) + " goes with --target (a spawned server gets its own)";
    }
  } else {
    if (options.auth_token.empty())
      return std::string("--target needs --auth-token (the server's TWILIO_AUTH_TOKEN)");
    const auto model = parse_host_port(options.model_listen);
    if (!model || model->second == 0) {
      return std::string(
          "--target needs --model-listen HOST:PORT with a fixed port: the server's "
          "OPENAI_REALTIME_URL must point at the stand-in");
    }
    if (options.model_tls && options.model_ca_dir.empty())
      return std::string(
          "--target with --model-tls needs --model-ca-dir DIR (the server trusts DIR/ca.pem "
          "through SSL_CERT_FILE)");
    if (!options.serve_arguments.empty())
      return std::string("flags after -- are for a spawned server, not a --target");
    if (options.show_server_log)
      return std::string("--show-server-log is for a spawned server, not a --target");
  }

  const auto ramp = ramp_duration(options.calls, options.ramp_per_second);
  const auto window = std::chrono::seconds(options.seconds) - ramp - window_start_margin;
  if (window < min_window) {
    const auto needed = std::chrono::duration_cast<std::chrono::seconds>(
        ramp + window_start_margin + min_window + 999ms);
    char why[300];
    std::snprintf(why, sizeof why,
                  "--seconds %u leaves no steady window: %s at %g a second take %.1f s to "
                  "start, and the window needs 1 s more to settle and 2 s to measure; use "
                  "--seconds %lld or more, or a faster --ramp-per-second",
                  options.seconds, calls_text(options.calls).c_str(), options.ramp_per_second,
                  std::chrono::duration<double>(ramp).count(),
                  static_cast<long long>(needed.count()));
    return std::string(why);
  }
  return options;
}

// ---- the run --------------------------------------------------------------------------------

result<loadgen_report> run_loadgen(const loadgen_options& options, std::ostream& progress) {
  const std::size_t frames_per_call = std::size_t{options.seconds} * marked_frames_per_second;
  marker_table table(options.calls, frames_per_call);
  loadgen_report report;
  report.calls = options.calls;
  report.seconds = options.seconds;
  report.ramp_per_second = options.ramp_per_second;
  report.pattern = options.pattern;
  report.model_tls = options.model_tls;
  report.recordings = options.recordings;
  report.server = options.spawns_server() ? "spawned" : options.target;

  auto directory = run_directory::create(options.keep_directory);
  if (!directory)
    return directory.error();
  raise_open_file_limit(options.calls, progress);

  // The model stand-in: echo mode, one io thread.
  io_thread model_thread;
  auto stand_in = start_model_stand_in(options, directory->path(), table, model_thread.io());
  if (!stand_in)
    return stand_in.error();
  report.model_url = stand_in->server->url();

  const std::string auth_token = options.spawns_server() ? random_hex(16) : options.auth_token;
  auto server = start_server(options, directory->path(), *stand_in, auth_token);
  if (!server)
    return server.error();

  const auto ramp = ramp_duration(options.calls, options.ramp_per_second);
  progress << "loadgen: " << calls_text(options.calls) << " x " << options.seconds
           << " s of marked " << to_string(options.pattern) << " audio, " << options.ramp_per_second
           << " new calls a second; model stand-in at " << report.model_url << "; server "
           << report.server;
  if (server->pid)
    progress << " (pid " << *server->pid << ")";
  progress << " on " << server->listener;
  if (options.keep_directory)
    progress << "; keeping " << directory->path().string();
  progress << "\n";
  if (!options.spawns_server()) {
    progress << "loadgen: the server's OPENAI_REALTIME_URL must point at the stand-in, e.g. "
             << report.model_url << "v1/realtime?model=gpt-realtime (any path is accepted)\n";
  }
  progress << std::flush;

  // The callers: their own io thread, so that the model's thread is measured on its own. One
  // media clock paces them all: a timer per call would wake the thread 50 × N times a second.
  io_thread caller_thread;
  const auto media_clock = make_caller_media_clock(caller_thread.io());
  call_book calls(options.calls);
  const auto content = options.pattern == loadgen_pattern::speech ? marked_audio_content::speech
                                                                  : marked_audio_content::tone;
  std::vector<std::vector<std::uint8_t>> audio(options.calls);  // outlives the calls
  std::vector<twilio_caller_options> callers(options.calls);
  for (std::size_t i = 0; i < options.calls; ++i) {
    audio[i] = marked_audio(i, frames_per_call, content);
    auto& caller = callers[i];
    caller.webhook_url = server->webhook_url;
    caller.auth_token = auth_token;
    caller.stream_connect_address =
        options.streams_to.empty() ? server->listener : options.streams_to;
    caller.keep_heard_audio = false;
    caller.media_clock = media_clock;
    caller.script = {speak(audio[i]), silence(trailing_silence), hangup()};
    caller.on_media_sent = [&table, &calls,
                            first = true](std::span<const std::uint8_t> frame) mutable {
      if (first) {
        first = false;
        calls.streaming.fetch_add(1, std::memory_order_relaxed);
      }
      table.stamp_sent(frame, to_ns(steady::now()));
    };
    caller.on_media_received = [&table, i](std::span<const std::uint8_t> payload) {
      table.stamp_received(i, payload, to_ns(steady::now()));
    };
  }

  // The server idle: its baseline CPU (timers, the actor scheduler) and memory.
  auto sample_server = [&]() -> std::optional<process_sample> {
    return server->pid ? sample_process(*server->pid) : std::nullopt;
  };
  server_samples served;
  served.idle_start = sample_server();
  std::this_thread::sleep_for(options.idle);
  served.idle_end = sample_server();

  // The ramp: one timer on the callers' thread starts every call that is due.
  const auto t0 = steady::now() + 50ms;
  auto start_time = [&](std::size_t call) {
    return t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(
                    static_cast<double>(call) / options.ramp_per_second));
  };
  asio::steady_timer ramp_timer(caller_thread.io());
  std::size_t next_call = 0;  // the callers' thread only
  std::function<void()> start_due_calls = [&] {
    const auto now = steady::now();
    for (; next_call < options.calls && start_time(next_call) <= now; ++next_call) {
      const std::size_t i = next_call;
      auto handle = twilio_caller::start(
          caller_thread.io(), std::move(callers[i]), [&calls, i](twilio_call_result ended) {
            std::lock_guard lock(calls.mutex);
            if (ended.media_frames_sent > 0)
              calls.streaming.fetch_sub(1, std::memory_order_relaxed);
            calls.results[i] = std::move(ended);
            if (calls.ended.fetch_add(1) + 1 == calls.results.size())
              calls.all_ended.set_value();
          });
      std::lock_guard lock(calls.mutex);
      calls.handles[i] = std::move(handle);
    }
    if (next_call < options.calls) {
      ramp_timer.expires_at(start_time(next_call));
      ramp_timer.async_wait([&](boost::system::error_code error) {
        if (!error)
          start_due_calls();
      });
    }
  };
  asio::post(caller_thread.io(), [&] { start_due_calls(); });

  // The steady window: every call has started and set up, none has finished its marked audio
  // (the first call's ends at t0 + seconds at the earliest). The main thread waits for the
  // instants of a measurement schedule, not for an event.
  const auto window_start = t0 + ramp + window_start_margin;
  const auto window_end = t0 + std::chrono::seconds(options.seconds);
  self_samples own;
  std::this_thread::sleep_until(window_start);
  served.window_start = sample_server();
  own.process_start = sample_process(::getpid());
  own.callers_start = sample_own_thread(caller_thread.tid());
  own.model_start = sample_own_thread(model_thread.tid());
  report.streaming_at_window_start = calls.streaming.load();
  std::this_thread::sleep_until(window_end);
  served.window_end = sample_server();
  own.process_end = sample_process(::getpid());
  own.callers_end = sample_own_thread(caller_thread.tid());
  own.model_end = sample_own_thread(model_thread.tid());
  report.streaming_at_window_end = calls.streaming.load();
  progress << "loadgen: steady window over (" << report.streaming_at_window_end
           << " calls streaming); waiting for the calls to end\n"
           << std::flush;

  // Every call ends by itself a second after its marked audio; past a generous deadline the
  // rest are hung up so that the figures still come out.
  auto ended = calls.all_ended.get_future();
  const auto deadline = t0 + ramp + std::chrono::seconds(options.seconds) + trailing_silence + 30s;
  if (ended.wait_until(deadline) != std::future_status::ready) {
    report.timed_out = true;
    std::lock_guard lock(calls.mutex);
    for (const auto& handle : calls.handles) {
      if (handle)
        handle->hang_up();
    }
  }
  if (report.timed_out && ended.wait_for(15s) != std::future_status::ready)
    progress << "loadgen: some calls did not end after hang_up\n";
  // The server finalises recordings after the streams close: give it a second before the last
  // memory sample (a figure, not a synchronisation).
  std::this_thread::sleep_for(1s);
  served.after = sample_server();

  stand_in->server->stop();
  caller_thread.stop();
  model_thread.stop();

  // ---- figures
  const time_window window{to_ns(window_start), to_ns(window_end)};
  report.window_seconds = std::chrono::duration<double>(window_end - window_start).count();
  report.round_trip = measure_leg(table, &frame_times::sent, &frame_times::received, window);
  report.inbound = measure_leg(table, &frame_times::sent, &frame_times::appended, window);
  report.outbound = measure_leg(table, &frame_times::echoed, &frame_times::received, window);
  report.delivery = count_delivery(table);
  report.anomalies = table.anomalies();

  // Who was let in: the per-call figures divide by the calls the bridge carried.
  {
    std::lock_guard lock(calls.mutex);
    for (const auto& call : calls.results) {
      const bool refused_at_stream =
          call.close_code == try_again_later_close_code && call.media_frames_sent <= 1;
      if (call.declined || refused_at_stream) {
        ++report.calls_refused;
        if (report.refusal_message.empty())
          report.refusal_message = call.declined ? call.declined_message : call.close_reason;
      } else {
        ++report.calls_admitted;
      }
    }
  }
  const std::size_t carried = std::max<std::size_t>(report.calls_admitted, 1);
  if (server->pid)
    report.server_figures = server_figures(*server->pid, served, carried);
  if (server->spawned) {
    const auto log = server->spawned->log();
    const int status = server->spawned->terminate();
    if (report.server_figures) {
      report.server_figures->log_warnings = log.warnings;
      report.server_figures->first_warnings = log.first_warnings;
      report.server_figures->exit_status = status;
    }
  }
  report.self = self_figures(own, carried, send_lateness(table, frame_interval_ns, window));

  std::lock_guard lock(calls.mutex);
  for (std::size_t i = 0; i < calls.results.size(); ++i) {
    const auto& call = calls.results[i];
    if (call.declined ||
        (call.close_code == try_again_later_close_code && call.media_frames_sent <= 1))
      continue;  // refused, counted above
    if (call.ok() && call.script_completed) {
      ++report.calls_completed;
    } else if (report.failures.size() < 5) {
      report.failures.push_back(
          "call " + std::to_string(i) + ": " +
          (call.error.empty() ? std::string("did not complete its script") : call.error));
    }
  }
  return report;
}

}  // namespace switchboard::sim
