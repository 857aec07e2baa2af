#include "config/dotenv.hpp"

#include "config/read_file.hpp"

#include <optional>
#include <system_error>

namespace switchboard::config {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_blank(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_valid_key(std::string_view key) {
  if (key.empty() || (key.front() >= '0' && key.front() <= '9')) {
    return false;
  }
  for (const char c : key) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// After a closing quote only whitespace or a comment may follow.
bool only_comment_left(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest.front() == '#';
}

struct value_or_problem {
  std::optional<std::string> value;
  std::string problem;
};

value_or_problem parse_value(std::string_view raw) {
  raw = trim(raw);
  if (raw.empty()) {
    return {std::string{}, {}};
  }
  if (raw.front() == '\'') {
    const auto close = raw.find('\'', 1);
    if (close == std::string_view::npos) {
      return {std::nullopt, "unterminated single-quoted value"};
    }
    if (!only_comment_left(raw.substr(close + 1))) {
      return {std::nullopt, "unexpected text after the closing quote"};
    }
    return {std::string(raw.substr(1, close - 1)), {}};
  }
  if (raw.front() == '"') {
    std::string value;
    for (std::size_t i = 1; i < raw.size(); ++i) {
      const char c = raw[i];
      if (c == '"') {
        if (!only_comment_left(raw.substr(i + 1))) {
          return {std::nullopt, "unexpected text after the closing quote"};
        }
        return {std::move(value), {}};
      }
      if (c == '\\' && i + 1 < raw.size()) {
        const char next = raw[i + 1];
        if (next == 'n' || next == '"' || next == '\\') {
          value += next == 'n' ? '\n' : next;
          ++i;
          continue;
        }
      }
      // Any other backslash is kept as written, so Windows paths survive.
      value += c;
    }
    return {std::nullopt, "unterminated double-quoted value"};
  }
  // Unquoted: "#" begins a comment only after whitespace, so "pa#ss" stays intact.
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && is_blank(raw[i - 1])) {
      raw = raw.substr(0, i);
      break;
    }
  }
  return {std::string(trim(raw)), {}};
}

}  // namespace

boost::system::result<std::vector<dotenv_entry>, config_errors> parse_dotenv(
    std::string_view text, std::string_view file_name) {
  // A UTF-8 byte order mark from Windows editors would otherwise become part of the first key.
  constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF";
  if (text.starts_with(byte_order_mark)) {
    text.remove_prefix(byte_order_mark.size());
  }

  std::vector<dotenv_entry> entries;
  std::vector<config_error> problems;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) {
      line.remove_suffix(1);
    }

    line = trim(line);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const auto where = std::string(file_name) + " line " + std::to_string(line_number) + ": ";
    if (line.starts_with("export") && line.size() > 6 && is_blank(line[6])) {
      line = trim(line.substr(6));
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      problems.emplace_back(errc::malformed_line, "", where + "expected KEY=VALUE");
      continue;
    }
    const auto key = trim(line.substr(0, equals));
    if (!is_valid_key(key)) {
      problems.emplace_back(
          errc::malformed_line, "",
          where + "invalid key (letters, digits and _, not starting with a digit)");
      continue;
    }
    auto parsed = parse_value(line.substr(equals + 1));
    if (!parsed.value) {
      problems.emplace_back(errc::malformed_line, std::string(key), where + parsed.problem);
      continue;
    }
    entries.push_back({std::string(key), std::move(*parsed.value), line_number});
  }
  if (!problems.empty()) {
    return config_errors(std::move(problems));
  }
  return entries;
}

boost::system::result<std::vector<dotenv_entry>, config_errors> read_dotenv(
    const std::filesystem::path& path) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error) && !exists_error) {
    return std::vector<dotenv_entry>{};
  }
  std::string problem;
  const auto text = read_text_file(path, problem);
  if (!text) {
    return config_errors(
        {config_error(errc::unreadable_file, "", path.string() + ": cannot read: " + problem)});
  }
  return parse_dotenv(*text, path.string());
}

}  // namespace switchboard::config
