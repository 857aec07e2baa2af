#include "metrics/process_metrics.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace switchboard::metrics {

namespace {

std::optional<std::uint64_t> to_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily result;
  result.name = name;
  result.help = help;
  result.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  result.metric.push_back(std::move(metric));
  return result;
}

std::size_t open_file_count() {
  std::error_code ec;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++count;
  }
  return count;  // includes the descriptor of the directory being listed, as other clients do
}

}  // namespace

std::optional<std::string> read_proc_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::optional<proc_stat> parse_proc_stat(std::string_view text) {
  const auto close = text.rfind(')');
  if (close == std::string_view::npos)
    return std::nullopt;
  // After ") ": field 3 (state) is index 0.
  std::string_view rest = text.substr(close + 1);
  std::vector<std::string_view> fields;
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos)
      break;
    rest.remove_prefix(start);
    const auto end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    if (end == std::string_view::npos)
      break;
    rest.remove_prefix(end);
  }
  // proc(5) numbering: utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24.
  constexpr std::size_t first = 3;
  if (fields.size() < 24 - first + 1)
    return std::nullopt;
  const auto field = [&](std::size_t number) {
    return to_number(fields[number - first]);
  };
  const auto utime = field(14), stime = field(15), threads = field(20), start = field(22),
             vsize = field(23), rss = field(24);
  if (!utime || !stime || !threads || !start || !vsize || !rss)
    return std::nullopt;
  return proc_stat{*utime, *stime, *start, *threads, *vsize, *rss};
}

std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text) {
  std::istringstream lines{std::string(proc_stat_text)};
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("btime "))
      return to_number(std::string_view(line).substr(6));
  }
  return std::nullopt;
}

std::vector<prometheus::MetricFamily> process_metrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const auto text = read_proc_file("/proc/self/stat");
  const auto stat = text ? parse_proc_stat(*text) : std::nullopt;
  if (stat) {
    const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    families.push_back(family(
        "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
        MetricType::Counter, static_cast<double>(stat->utime_ticks + stat->stime_ticks) / ticks));
    families.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              MetricType::Gauge, static_cast<double>(stat->resident_pages) * page));
    families.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, static_cast<double>(stat->virtual_bytes)));
    families.push_back(family("process_threads", "Number of OS threads in the process.",
                              MetricType::Gauge, static_cast<double>(stat->threads)));
    const auto boot = read_proc_file("/proc/stat");
    if (const auto btime = boot ? parse_boot_time(*boot) : std::nullopt) {
      families.push_back(family(
          "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          MetricType::Gauge,
          static_cast<double>(*btime) + static_cast<double>(stat->start_time_ticks) / ticks));
    }
  }
  families.push_back(family("process_open_fds", "Number of open file descriptors.",
                            MetricType::Gauge, static_cast<double>(open_file_count())));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(family("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace switchboard::metrics
