#include "config/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

namespace switchboard::config {

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& problem) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (status.type() == std::filesystem::file_type::not_found) {
    problem = "not found";
    return std::nullopt;
  }
  if (status_error) {
    problem = status_error.message();
    return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(status)) {
    problem = "not a regular file";
    return std::nullopt;
  }
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    // libstdc++ opens with fopen(), which sets errno (e.g. EACCES).
    problem = errno != 0 ? std::strerror(errno) : "cannot open";
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) {
    problem = "read failed";
    return std::nullopt;
  }
  return text;
}

}  // namespace switchboard::config
