#pragma once
// The standard process_* metrics (CPU, memory, open files, threads, start time) read from
// /proc/self at scrape time, in the names every Prometheus client library uses, so that stock
// dashboards and alerts work. prometheus-cpp does not ship a process collector.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::metrics {

/// The fields of /proc/<pid>/stat a process collector needs.
struct proc_stat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_time_ticks = 0;  // since boot
  std::uint64_t threads = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t resident_pages = 0;
};

/// Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses: the fields after it are counted from the last ')'.
std::optional<proc_stat> parse_proc_stat(std::string_view text);

/// The text of a /proc file (whose size reads as 0: it is read to its end), or nullopt.
std::optional<std::string> read_proc_file(const std::string& path);

/// The `btime` line of /proc/stat: boot time in seconds since the epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text);

class process_metrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace switchboard::metrics
