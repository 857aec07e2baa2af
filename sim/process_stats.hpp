#pragma once
// What a process (or one of its threads) has cost so far, from Linux's /proc: CPU time split
// into user and system, resident memory, thread count. The load generator samples the server
// and itself at the edges of its measurement window and reports the differences.
//
// The parsers are pure (they take the file's text); the samplers read /proc.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <sys/types.h>

namespace switchboard::sim {

// /proc/<pid>/stat is parsed by metrics::parse_proc_stat, the server's own process collector.

/// From /proc/<pid>/status.
struct proc_status_fields {
  std::uint64_t rss_kib = 0;  // VmRSS
  std::uint64_t threads = 0;  // Threads
};

/// Parses a status file; nullopt when VmRSS is missing (a zombie has none).
std::optional<proc_status_fields> parse_proc_status(std::string_view text);

/// One look at a process.
struct process_sample {
  std::chrono::steady_clock::time_point at;
  std::uint64_t user_ticks = 0;
  std::uint64_t system_ticks = 0;
  std::uint64_t rss_kib = 0;  // 0 for a thread sample
  std::uint64_t threads = 0;
};

/// Samples process `pid`; nullopt when it is gone or /proc cannot be read.
std::optional<process_sample> sample_process(pid_t pid);
/// Samples one thread of this process (its kernel thread id, gettid()): CPU only.
std::optional<process_sample> sample_own_thread(pid_t tid);

/// CPU used between two samples of the same process or thread.
struct cpu_usage {
  double user_seconds = 0;
  double system_seconds = 0;
  double elapsed_seconds = 0;

  double cpu_seconds() const { return user_seconds + system_seconds; }
  /// Percentage of one core over the elapsed time.
  double core_percent() const {
    return elapsed_seconds > 0 ? 100.0 * cpu_seconds() / elapsed_seconds : 0;
  }
};

/// The difference `after` − `before`, with `ticks_per_second` clock ticks a second.
cpu_usage cpu_between(const process_sample& before, const process_sample& after,
                      double ticks_per_second);
/// sysconf(_SC_CLK_TCK).
double clock_ticks_per_second();

}  // namespace switchboard::sim
