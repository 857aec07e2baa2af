#pragma once

#include <boost/assert/source_location.hpp>

#include <string>
#include <vector>

namespace switchboard::config {

enum class errc {
  invalid_value = 1,     // a setting's text does not parse or is out of range
  unknown_flag,          // --something that names no setting
  missing_flag_value,    // --port at the end of the arguments or followed by another flag
  unexpected_argument,   // a positional argument; the server takes none
  malformed_line,        // a .env line that is not KEY=VALUE
  unreadable_file,       // .env or OPENAI_INSTRUCTIONS_FILE exists but cannot be read
  conflicting_settings,  // settings that are each valid but not together
  missing_setting        // a setting the others make mandatory is unset
};

// One problem, ready to print. `message` names the setting (or flag, or file and line) and its
// source, and never contains a secret's value.
struct config_error {
  config_error() = default;
  config_error(errc error_code, std::string setting_name, std::string text);

  errc code = errc::invalid_value;
  std::string setting;  // e.g. "PORT"; empty when no single setting is at fault
  std::string message;  // e.g. "PORT=abc (from environment): not a number in 1..65535"
};

// Every problem found in one pass, so an operator fixes them all before the next start.
struct config_errors {
  config_errors() = default;
  config_errors(std::vector<config_error> all);

  std::vector<config_error> errors;
};

// The text the executable prints before exiting with status 2: one problem per line.
std::string format_errors(const config_errors& errors);

// Lets boost::system::result<T, config_errors>::value() throw std::runtime_error.
[[noreturn]] void throw_exception_from_error(const config_errors& errors,
                                             const boost::source_location& location);

}  // namespace switchboard::config
