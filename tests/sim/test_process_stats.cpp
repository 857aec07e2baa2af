// /proc parsing for the load generator's CPU and memory figures.
#include "metrics/process_metrics.hpp"
#include "sim/process_stats.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

using namespace switchboard::sim;

TEST_CASE("status gives the resident memory and the thread count", "[process_stats]") {
  const std::string status =
      "Name:\tswitchboard\nState:\tS (sleeping)\nVmPeak:\t  900000 kB\nVmRSS:\t   20480 kB\n"
      "RssAnon:\t    8000 kB\nThreads:\t7\nSigQ:\t0/95000\n";
  const auto fields = parse_proc_status(status);
  REQUIRE(fields);
  CHECK(fields->rss_kib == 20480);
  CHECK(fields->threads == 7);
  // A zombie has no VmRSS.
  CHECK_FALSE(parse_proc_status("Name:\tgone\nState:\tZ (zombie)\nThreads:\t1\n"));
}

TEST_CASE("this process's own /proc files parse", "[process_stats]") {
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                         std::istreambuf_iterator<char>());
  const auto stat_fields = switchboard::metrics::parse_proc_stat(stat);
  REQUIRE(stat_fields);
  CHECK(stat_fields->threads >= 1);

  std::ifstream status_file("/proc/self/status");
  const std::string status((std::istreambuf_iterator<char>(status_file)),
                           std::istreambuf_iterator<char>());
  const auto status_fields = parse_proc_status(status);
  REQUIRE(status_fields);
  CHECK(status_fields->rss_kib > 0);

  const auto sample = sample_process(::getpid());
  REQUIRE(sample);
  CHECK(sample->rss_kib > 0);
  CHECK(sample_own_thread(::gettid()));
}

TEST_CASE("CPU between two samples splits user and system time", "[process_stats]") {
  process_sample before;
  before.user_ticks = 100;
  before.system_ticks = 50;
  process_sample after = before;
  after.at = before.at + std::chrono::seconds(2);
  after.user_ticks = 200;    // +1 s at 100 ticks a second
  after.system_ticks = 100;  // +0.5 s
  const auto usage = cpu_between(before, after, 100);
  CHECK(usage.user_seconds == Approx(1.0));
  CHECK(usage.system_seconds == Approx(0.5));
  CHECK(usage.elapsed_seconds == Approx(2.0));
  CHECK(usage.core_percent() == Approx(75.0));
  // Counters never run backwards; a wrapped or swapped pair gives zero, not a huge number.
  CHECK(cpu_between(after, before, 100).cpu_seconds() == 0.0);
}
