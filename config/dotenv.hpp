#pragma once

#include "config/error.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::config {

struct dotenv_entry {
  std::string key;
  std::string value;
  std::size_t line = 0;  // 1-based, for "(from .env line 3)"
};

// Parses the text of a .env file, entries in file order (a later duplicate key wins when the
// caller applies them in order). Accepted lines:
//   KEY=value            whitespace around KEY and before the value is trimmed
//   export KEY=value     the shell prefix is ignored
//   KEY='value'          single quotes: literal text
//   KEY="a\nb \"c\" \\"  double quotes: \n \" \\ are escapes
//   KEY=value # note     a # after whitespace starts a comment in an unquoted value
//   # comment, blank lines, CRLF line endings
// Every malformed line is reported, each as "<file_name> line N: why" (without the line's text,
// which may hold a secret).
boost::system::result<std::vector<dotenv_entry>, config_errors> parse_dotenv(
    std::string_view text, std::string_view file_name);

// Reads and parses `path`. A file that does not exist gives no entries: .env is optional.
boost::system::result<std::vector<dotenv_entry>, config_errors> read_dotenv(
    const std::filesystem::path& path);

}  // namespace switchboard::config
