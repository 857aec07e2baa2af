// `switchboard loadgen`: simulated Twilio calls against a bridge, the model stand-in echoing
// every frame; prints a table of round-trip latency, lost frames and cost per call (sim/loadgen).
#include "app/commands.hpp"
#include "audio/disk_fault.hpp"
#include "config/settings.hpp"
#include "sim/loadgen.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

namespace switchboard::app {

namespace {

/// The server setting that turns recordings off (--recordings off passes RECORDINGS=off).
constexpr std::string_view recordings_setting = "RECORDINGS";

}  // namespace

int run_loadgen(std::span<const std::string> arguments) {
  if (sim::loadgen_help_requested(arguments)) {
    std::cout << sim::loadgen_usage();
    return 0;
  }
  auto options = sim::parse_loadgen_arguments(arguments);
  if (!options) {
    std::cerr << "switchboard loadgen: " << options.error()
              << "\n(`switchboard loadgen --help` lists the flags)\n";
    return 2;
  }
  if (options->spawns_server()) {
    // The server under test is this very executable.
    std::error_code ec;
    options->server_executable = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
      std::cerr << "switchboard loadgen: cannot find this executable: " << ec.message() << "\n";
      return 1;
    }
    if (!options->recordings)
      options->server_settings.push_back(std::string(recordings_setting) + "=off");
    // The disk fault hook goes to the server under test, whose environment is otherwise not
    // inherited: `SWITCHBOARD_FAULT_DISK=delay-ms:20 switchboard loadgen` loads a slow disk.
    if (const char* fault = std::getenv(std::string(audio::disk_fault_variable).c_str()))
      options->server_settings.push_back(std::string(audio::disk_fault_variable) + "=" + fault);
  }

  auto report = sim::run_loadgen(*options, std::cerr);
  if (!report) {
    std::cerr << "switchboard loadgen: " << report.error() << "\n";
    return 1;
  }
  sim::print_loadgen_report(std::cout, *report);
  if (!options->json_path.empty()) {
    std::ofstream json(options->json_path, std::ios::binary | std::ios::trunc);
    json << sim::loadgen_report_json(*report);
    if (!json.flush()) {
      std::cerr << "switchboard loadgen: cannot write " << options->json_path.string() << "\n";
      return 1;
    }
  }
  return report->all_calls_completed() ? 0 : 1;
}

}  // namespace switchboard::app
