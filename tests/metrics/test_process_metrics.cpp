#include "metrics/process_metrics.hpp"

#include <catch2/catch.hpp>

#include <ctime>
#include <map>
#include <string>
#include <unistd.h>

using namespace switchboard::metrics;

TEST_CASE("/proc/<pid>/stat: the fields after a command name with spaces and parentheses") {
  // Fields 1-24 of proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
  // vsize rss ...
  const auto stat = parse_proc_stat(
      "4242 (switch (board) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
      "150 75 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615 1 1 0 0\n");
  REQUIRE(stat.has_value());
  CHECK(stat->utime_ticks == 150);
  CHECK(stat->stime_ticks == 75);
  CHECK(stat->threads == 7);
  CHECK(stat->start_time_ticks == 123456);
  CHECK(stat->virtual_bytes == 104857600);
  CHECK(stat->resident_pages == 2560);
}

TEST_CASE("/proc/<pid>/stat: truncated or garbled text is no reading") {
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("4242 (x) S 1 2 3"));
  CHECK_FALSE(
      parse_proc_stat("4242 x S 1 4242 4242 0 -1 4194560 900 0 0 0 150 75 0 0 20 0 7 0 "
                      "123456 104857600 2560"));  // no ')'
  CHECK_FALSE(
      parse_proc_stat("4242 (x) S 1 4242 4242 0 -1 4194560 900 0 0 0 15o 75 0 0 20 0 7 "
                      "0 123456 104857600 2560"));  // a letter in utime
}

TEST_CASE("/proc/stat: the boot time") {
  CHECK(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1763900000\nprocesses 9\n") == 1763900000u);
  CHECK_FALSE(parse_boot_time("cpu  1 2 3\n"));
}

TEST_CASE("process metrics read this process: CPU, memory, open files, threads") {
  const auto families = process_metrics().Collect();
  std::map<std::string, double> values;
  for (const auto& family : families) {
    REQUIRE(family.metric.size() == 1);
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? family.metric[0].counter.value
                              : family.metric[0].gauge.value;
  }
  CHECK(values.at("process_resident_memory_bytes") > 1024 * 1024);
  CHECK(values.at("process_virtual_memory_bytes") >= values.at("process_resident_memory_bytes"));
  CHECK(values.at("process_open_fds") >= 3);  // stdin, stdout, stderr
  CHECK(values.at("process_max_fds") >= values.at("process_open_fds"));
  CHECK(values.at("process_threads") >= 1);
  CHECK(values.at("process_cpu_seconds_total") >= 0);
  // Started after boot and not in the future.
  CHECK(values.at("process_start_time_seconds") > 1.6e9);
  CHECK(values.at("process_start_time_seconds") <= static_cast<double>(::time(nullptr)) + 1);
}
