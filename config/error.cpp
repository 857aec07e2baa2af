#include "config/error.hpp"

#include <stdexcept>
#include <utility>

namespace switchboard::config {

config_error::config_error(errc error_code, std::string setting_name, std::string text)
    : code(error_code), setting(std::move(setting_name)), message(std::move(text)) {}

config_errors::config_errors(std::vector<config_error> all) : errors(std::move(all)) {}

std::string format_errors(const config_errors& errors) {
  std::string text = "invalid configuration (" + std::to_string(errors.errors.size()) +
                     (errors.errors.size() == 1 ? " problem):\n" : " problems):\n");
  for (const auto& error : errors.errors) {
    text += "  " + error.message + "\n";
  }
  return text;
}

void throw_exception_from_error(const config_errors& errors, const boost::source_location&) {
  throw std::runtime_error(format_errors(errors));
}

}  // namespace switchboard::config
