// `switchboard serve`: configuration, logging, then the node (app/bridge_server) until a signal.
#include "app/bridge_server.hpp"
#include "app/commands.hpp"
#include "config/settings.hpp"
#include "metrics/logging.hpp"

#include <spdlog/spdlog.h>

#include <iostream>

namespace switchboard::app {

int run_serve(std::span<const std::string> arguments) {
  hold_stop_signals();  // before any thread starts: wait(true) takes them from here
  if (config::help_requested(arguments)) {
    std::cout << "switchboard serve [--flags]\n\n" << config::flags_help();
    return 0;
  }
  auto loaded = config::load(arguments, config::process_environment(), ".env");
  if (!loaded) {
    std::cerr << "switchboard: the configuration is invalid:\n"
              << config::format_errors(loaded.error());
    return 2;
  }
  const config::settings& settings = *loaded;
  if (auto logging = metrics::configure_logging(config::to_string(settings.log_format),
                                                config::to_string(settings.log_level));
      !logging) {
    std::cerr << "switchboard: " << logging.error() << "\n";
    return 2;
  }
  for (const auto& line : config::describe(settings))
    spdlog::info("setting {}", line);
  if (!settings.has_openai_credentials()) {
    spdlog::warn(
        "OPENAI_API_KEY is not set: calls will fail to reach the model "
        "(`switchboard demo` runs a call against the built-in model stand-in)");
  }

  auto server = bridge_server::start(settings);
  if (!server) {
    spdlog::critical("cannot start: {}", server.error());
    return 1;
  }
  (*server)->wait(/*handle_signals=*/true);
  (*server)->stop();
  spdlog::info("stopped");
  return 0;
}

int run_settings(std::span<const std::string> arguments) {
  if (!arguments.empty()) {
    std::cerr << "switchboard settings: takes no arguments\n";
    return 2;
  }
  std::cout << config::settings_markdown_table();
  return 0;
}

}  // namespace switchboard::app
