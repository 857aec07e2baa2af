// switchboard: wires the libraries into commands. Nothing else lives here.
#include "app/commands.hpp"
#include "config/settings.hpp"

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view version = "0.1.0";

constexpr std::string_view usage =
    R"(switchboard — bridges phone calls (Twilio Media Streams) to the OpenAI Realtime API

Usage:
  switchboard [serve] [--flags]                   run the server (the default command)
  switchboard demo [--console] [--flags]          simulated calls through the bridge (no
                                                  accounts: built-in model and Twilio stand-ins);
                                                  --console: serve the web console until Ctrl-C
  switchboard loadgen [--flags]                   simulated calls against a bridge, the model
                                                  stand-in echoing: latency, lost frames and
                                                  cost per call (`loadgen --help`)
  switchboard mix CALLER.wav AGENT.wav --out DIR  write DIR/stereo.wav (caller left, agent
                                                  right) and DIR/mono.wav from two μ-law tracks
  switchboard join PART_DIR... --out DIR          join a handed-over call's parts (one directory
                                                  per node) on the call's timeline into DIR
  switchboard repair FILE|DIR                     fix the header of recordings cut off by a crash
  switchboard settings                            print the configuration table (Markdown)
  switchboard --help | --version

`switchboard serve --help` lists the settings; each is a flag, an environment variable or a
line of .env in the working directory.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  const auto all = config::arguments_from_argv(argc, argv);
  const std::string_view command = all.empty() ? "serve" : std::string_view(all.front());
  // `switchboard --port 8080` means serve with flags, like `switchboard` alone.
  const bool implicit_serve =
      command.starts_with("--") && command != "--help" && command != "--version";
  const std::span<const std::string> rest = (all.empty() || implicit_serve)
                                                ? std::span<const std::string>(all)
                                                : std::span<const std::string>(all).subspan(1);

  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << usage;
    return 0;
  }
  if (command == "--version") {
    std::cout << "switchboard " << version << "\n";
    return 0;
  }
  if (command == "serve" || implicit_serve)
    return app::run_serve(rest);
  if (command == "mix")
    return app::run_mix(rest);
  if (command == "repair")
    return app::run_repair(rest);
  if (command == "join")
    return app::run_join(rest);
  if (command == "settings")
    return app::run_settings(rest);
  if (command == "demo")
    return app::run_demo(rest);
  if (command == "loadgen")
    return app::run_loadgen(rest);
  std::cerr << "switchboard: unknown command '" << command << "'\n\n" << usage;
  return 2;
}
