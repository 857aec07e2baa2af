// /proc parsing for the load generator's CPU and memory figures.
#include "sim/process_stats.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

using namespace switchboard::sim;

TEST_CASE("stat fields are counted after the last parenthesis of the command name",
          "[process_stats]") {
  // A command name with spaces and parentheses, as a process may give itself.
  const std::string line =
      "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1024 0 0 0 1234 567 0 0 20 0 9 0 "
      "1059804 3133440 394 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  const auto fields = parse_proc_stat(line);
  REQUIRE(fields);
  CHECK(fields->user_ticks == 1234);
  CHECK(fields->system_ticks == 567);
  CHECK(fields->threads == 9);

  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("4242 (cut) S 1 2 3"));
  CHECK_FALSE(parse_proc_stat("4242 (bad) S 1 4242 4242 0 -1 4194560 1024 0 0 0 x 567 0 0 20 0 9"));
}

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
  const auto stat_fields = parse_proc_stat(stat);
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
