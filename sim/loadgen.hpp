#pragma once
// The load generator behind `switchboard loadgen`: N simulated Twilio calls against a bridge,
// with the Realtime model stand-in echoing every append, all in this process:
//
//   callers (one io thread) ──webhook, signed upgrade, media──▶ the bridge ──append──▶
//   model stand-in, echo mode (one io thread) ──delta (the same bytes)──▶ the bridge ──media──▶
//   the callers
//
// Every caller frame carries a marker (sim/frame_marker.hpp) so that each echo is matched to
// the frame that caused it (sim/marker_table.hpp). The bridge is either `switchboard serve`,
// spawned by the load generator in a temporary directory, or a server someone else started
// (--target). Its CPU and memory come from /proc/<pid> (sim/process_stats.hpp), sampled while
// idle, at the edges of the steady window (when every call streams) and after the calls.
//
// The load generator measures itself too: its CPU and how late the callers sent their frames.
// A run whose load generator was the bottleneck is flagged, not believed.

#include "sim/marker_table.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace switchboard::sim {

enum class loadgen_pattern {
  echo,    // marked frames of a loud test pattern
  speech,  // the speech fixtures, looped, each frame marked
};
std::string_view to_string(loadgen_pattern pattern);

struct loadgen_options {
  std::size_t calls = 100;
  std::uint32_t seconds = 25;    // marked audio per call
  double ramp_per_second = 100;  // new calls a second
  loadgen_pattern pattern = loadgen_pattern::echo;
  bool model_tls = false;  // the model stand-in over wss:// with a self-signed CA
  bool recordings = true;  // the spawned server records (with --target: what the user says)
  std::filesystem::path json_path;       // empty: no JSON file
  std::chrono::milliseconds idle{2000};  // the server's idle baseline, before the calls
  bool show_server_log = false;
  bool keep_directory = false;  // keep the temporary directory (recordings, CA, nothing else)

  // ---- a server someone else started (--target); empty target: spawn one
  std::string target;  // http://HOST:PORT
  std::string auth_token;
  std::optional<pid_t> server_pid;  // unset: no server figures
  /// HOST:PORT the media streams connect to instead of the target's listener (an ingress that
  /// routes streams to any node, e.g. one at MAX_CALLS whose calls a peer then hosts); empty:
  /// the target.
  std::string streams_to;
  /// HOST:PORT the model stand-in listens on; empty: 127.0.0.1, any port.
  std::string model_listen;
  /// Where the stand-in's CA and certificate live (created when missing); empty: the
  /// temporary directory. A --target server must trust its ca.pem through SSL_CERT_FILE.
  std::filesystem::path model_ca_dir;

  // ---- the spawned server
  std::filesystem::path server_executable;
  /// Settings for it, NAME=value, after the load generator's own (e.g. RECORDINGS=off).
  std::vector<std::string> server_settings;
  /// Flags after `--`, appended to `serve`.
  std::vector<std::string> serve_arguments;

  bool spawns_server() const { return target.empty(); }
};

/// The --help text.
std::string_view loadgen_usage();
/// True when the arguments ask for --help (before any `--`).
bool loadgen_help_requested(std::span<const std::string> arguments);
/// The flags after `switchboard loadgen`; an error names the flag and why.
boost::system::result<loadgen_options, std::string> parse_loadgen_arguments(
    std::span<const std::string> arguments);

// ---- the report -----------------------------------------------------------------------------

struct loadgen_server_figures {
  pid_t pid = 0;
  double cpu_core_pct = 0;           // over the steady window
  double idle_cpu_core_pct = 0;      // before the calls
  double cpu_core_pct_per_call = 0;  // (window − idle) / calls
  double user_seconds_per_call_minute = 0;
  double system_seconds_per_call_minute = 0;
  std::uint64_t rss_idle_kib = 0;
  std::uint64_t rss_steady_kib = 0;  // at the end of the steady window
  std::uint64_t rss_after_kib = 0;   // a second after the calls ended
  double rss_per_call_kib = 0;       // (steady − idle) / calls
  std::uint64_t threads = 0;         // at the end of the steady window
  // Spawned servers only.
  std::optional<std::uint64_t> log_warnings;
  std::vector<std::string> first_warnings;
  std::optional<int> exit_status;  // as waitpid reports it, after SIGTERM
};

struct loadgen_self_figures {
  double cpu_core_pct = 0;  // the whole process over the steady window
  double cpu_core_pct_per_call = 0;
  double caller_thread_pct = 0;
  double model_thread_pct = 0;
  std::uint64_t rss_kib = 0;
  latency_summary send_lateness;  // against the callers' 20 ms schedule, in the window
  bool bottleneck = false;
  std::vector<std::string> bottleneck_reasons;
};

struct loadgen_report {
  // What ran.
  std::size_t calls = 0;
  std::uint32_t seconds = 0;
  double ramp_per_second = 0;
  loadgen_pattern pattern = loadgen_pattern::echo;
  bool model_tls = false;
  bool recordings = true;
  std::string server;     // "spawned" or the target URL
  std::string model_url;  // where the stand-in listened

  // The calls. `calls` were offered; a bridge with admission control (MAX_CALLS,
  // MAX_LOOP_LAG_MS) refuses some politely: its webhook answers <Say>…</Say><Hangup/>, or it
  // closes a stream at `start` with 1013. The rest were admitted and must complete: an admitted
  // call that fails was accepted and then starved.
  std::size_t calls_admitted = 0;
  std::size_t calls_refused = 0;
  std::string refusal_message;        // what the first refused caller heard (or the close reason)
  std::size_t calls_completed = 0;    // of the admitted
  std::vector<std::string> failures;  // the first few
  bool timed_out = false;             // some calls were hung up at the deadline

  // The steady window: every call streams.
  double window_seconds = 0;
  std::size_t streaming_at_window_start = 0;
  std::size_t streaming_at_window_end = 0;
  leg_figures round_trip;  // caller sent → caller got the echo back
  leg_figures inbound;     // caller sent → model got the append
  leg_figures outbound;    // model sent the echo → caller got it

  // Every marked frame of the run.
  delivery_figures delivery;
  marker_anomalies anomalies;

  std::optional<loadgen_server_figures> server_figures;
  loadgen_self_figures self;

  /// Every admitted call completed (refused calls are the bridge's choice, not a failure).
  bool all_calls_completed() const { return calls_completed + calls_refused == calls; }
};

/// Runs the load. Progress lines go to `progress`; an error (the server or the stand-in could
/// not start) is a value. Calls that fail do not make it an error: the report counts them.
boost::system::result<loadgen_report, std::string> run_loadgen(const loadgen_options& options,
                                                               std::ostream& progress);

// ---- sim/loadgen_report.cpp

/// The readable table.
void print_loadgen_report(std::ostream& out, const loadgen_report& report);
/// One JSON object, pretty-printed.
std::string loadgen_report_json(const loadgen_report& report);

}  // namespace switchboard::sim
