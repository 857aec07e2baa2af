#include "sim/process_stats.hpp"

#include "metrics/process_metrics.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <unistd.h>

namespace switchboard::sim {

namespace {

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  const auto last = text.find_last_not_of(" \t\n");
  return text.substr(first, last - first + 1);
}

std::uint64_t ticks_difference(std::uint64_t before, std::uint64_t after) {
  return after > before ? after - before : 0;
}

}  // namespace

std::optional<proc_status_fields> parse_proc_status(std::string_view text) {
  proc_status_fields fields;
  bool has_rss = false;
  while (!text.empty()) {
    const auto end = std::min(text.find('\n'), text.size());
    const auto line = text.substr(0, end);
    text = text.substr(std::min(end + 1, text.size()));
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    const auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (name == "VmRSS") {
      if (value.ends_with(" kB"))
        value = trim(value.substr(0, value.size() - 3));
      const auto kib = parse_count(value);
      if (!kib)
        return std::nullopt;
      fields.rss_kib = *kib;
      has_rss = true;
    } else if (name == "Threads") {
      fields.threads = parse_count(value).value_or(0);
    }
  }
  if (!has_rss)
    return std::nullopt;
  return fields;
}

std::optional<process_sample> sample_process(pid_t pid) {
  process_sample sample;
  sample.at = std::chrono::steady_clock::now();
  const auto directory = "/proc/" + std::to_string(pid);
  const auto stat_text = metrics::read_proc_file(directory + "/stat");
  const auto status_text = metrics::read_proc_file(directory + "/status");
  if (!stat_text || !status_text)
    return std::nullopt;
  const auto stat = metrics::parse_proc_stat(*stat_text);
  const auto status = parse_proc_status(*status_text);
  if (!stat || !status)
    return std::nullopt;
  sample.user_ticks = stat->utime_ticks;
  sample.system_ticks = stat->stime_ticks;
  sample.threads = status->threads;
  sample.rss_kib = status->rss_kib;
  return sample;
}

std::optional<process_sample> sample_own_thread(pid_t tid) {
  process_sample sample;
  sample.at = std::chrono::steady_clock::now();
  const auto stat_text =
      metrics::read_proc_file("/proc/self/task/" + std::to_string(tid) + "/stat");
  if (!stat_text)
    return std::nullopt;
  const auto stat = metrics::parse_proc_stat(*stat_text);
  if (!stat)
    return std::nullopt;
  sample.user_ticks = stat->utime_ticks;
  sample.system_ticks = stat->stime_ticks;
  sample.threads = 1;
  return sample;
}

cpu_usage cpu_between(const process_sample& before, const process_sample& after,
                      double ticks_per_second) {
  cpu_usage usage;
  usage.elapsed_seconds = std::chrono::duration<double>(after.at - before.at).count();
  if (ticks_per_second <= 0)
    return usage;
  usage.user_seconds =
      static_cast<double>(ticks_difference(before.user_ticks, after.user_ticks)) / ticks_per_second;
  usage.system_seconds =
      static_cast<double>(ticks_difference(before.system_ticks, after.system_ticks)) /
      ticks_per_second;
  return usage;
}

double clock_ticks_per_second() {
  return static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace switchboard::sim
