#include "metrics/logging.hpp"

#include "metrics/call_log.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <ctime>
#include <memory>

namespace switchboard::metrics {

namespace {

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

/// {"ts":"2026-11-23T21:11:27.123Z","level":"info","logger":"switchboard","msg":"..."}
class json_line_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds_part = duration_cast<seconds>(since_epoch);
    const auto millis = duration_cast<milliseconds>(since_epoch - seconds_part).count();
    const std::time_t as_time_t = seconds_part.count();
    std::tm utc{};
    gmtime_r(&as_time_t, &utc);
    std::array<char, 32> timestamp{};
    const auto length =
        std::strftime(timestamp.data(), timestamp.size(), "%Y-%m-%dT%H:%M:%S", &utc);

    append(dest, R"({"ts":")");
    append(dest, std::string_view(timestamp.data(), length));
    append(dest, fmt::format(".{:03d}Z\",\"level\":\"", millis));
    const auto level = spdlog::level::to_string_view(msg.level);
    append(dest, std::string_view(level.data(), level.size()));
    append(dest, R"(","logger":)");
    append(dest, boost::json::serialize(
                     boost::json::string_view(msg.logger_name.data(), msg.logger_name.size())));
    const auto fields = split_call_prefix(std::string_view(msg.payload.data(), msg.payload.size()));
    if (!fields.call_sid.empty()) {
      append(dest, R"(,"call_sid":)");
      append(dest, boost::json::serialize(boost::json::string_view(fields.call_sid)));
    }
    if (!fields.stream_sid.empty()) {
      append(dest, R"(,"stream_sid":)");
      append(dest, boost::json::serialize(boost::json::string_view(fields.stream_sid)));
    }
    append(dest, R"(,"msg":)");
    // Boost.JSON escapes quotes, backslashes and control characters.
    append(dest, boost::json::serialize(boost::json::string_view(fields.message)));
    append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_line_formatter>();
  }
};

}  // namespace

std::string call_log_prefix(const call_ids& ids) {
  if (ids.call_sid.empty() && ids.stream_sid.empty())
    return {};
  std::string prefix = "[call " + (ids.call_sid.empty() ? std::string("?") : ids.call_sid);
  if (!ids.stream_sid.empty())
    prefix += " stream " + ids.stream_sid;
  prefix += "] ";
  return prefix;
}

call_log_fields split_call_prefix(std::string_view line) {
  constexpr std::string_view opening = "[call ";
  const auto close = line.find("] ");
  if (!line.starts_with(opening) || close == std::string_view::npos)
    return {{}, {}, line};
  const auto inside = line.substr(opening.size(), close - opening.size());
  call_log_fields fields{inside, {}, line.substr(close + 2)};
  constexpr std::string_view stream = " stream ";
  if (const auto at = inside.find(stream); at != std::string_view::npos) {
    fields.call_sid = inside.substr(0, at);
    fields.stream_sid = inside.substr(at + stream.size());
  }
  if (fields.call_sid == "?")
    fields.call_sid = {};
  // Ids never contain spaces; anything else is not our prefix.
  if (fields.call_sid.find(' ') != std::string_view::npos ||
      fields.stream_sid.find(' ') != std::string_view::npos)
    return {{}, {}, line};
  return fields;
}

/// The text format, with control characters in a line shown as \xNN: ids, numbers and reasons
/// in log lines come from the wire, and a newline among them would forge a log line of its own.
class text_line_formatter final : public spdlog::formatter {
 public:
  text_line_formatter() : pattern_("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v") {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    spdlog::memory_buf_t line;
    pattern_.format(msg, line);
    const std::string_view text(line.data(), line.size());
    const auto body = text.ends_with('\n') ? text.substr(0, text.size() - 1) : text;
    for (const char c : body) {
      const auto byte = static_cast<unsigned char>(c);
      // ESC passes: the colour codes of a terminal sink are ours.
      if ((byte < 0x20 && byte != 0x1b && byte != '\t') || byte == 0x7f) {
        constexpr std::string_view hex = "0123456789abcdef";
        const char escaped[] = {'\\', 'x', hex[byte >> 4], hex[byte & 0xf]};
        dest.append(escaped, escaped + sizeof escaped);
      } else {
        dest.push_back(c);
      }
    }
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<text_line_formatter>();
  }

 private:
  spdlog::pattern_formatter pattern_;
};

std::unique_ptr<spdlog::formatter> make_text_line_formatter() {
  return std::make_unique<text_line_formatter>();
}

std::unique_ptr<spdlog::formatter> make_json_line_formatter() {
  return std::make_unique<json_line_formatter>();
}

boost::system::result<void, std::string> configure_logging(std::string_view format,
                                                           std::string_view level) {
  const auto parsed_level = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to "off"; only accept "off" when it was asked for.
  if (parsed_level == spdlog::level::off && level != "off") {
    return "LOG_LEVEL: unknown level '" + std::string(level) + "'";
  }
  if (format != "text" && format != "json") {
    return "LOG_FORMAT: expected text or json, got '" + std::string(format) + "'";
  }
  // Logs go to stderr so that commands can print results on stdout.
  auto logger = std::make_shared<spdlog::logger>("switchboard",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == "json") {
    logger->set_formatter(make_json_line_formatter());
  } else {
    logger->set_formatter(make_text_line_formatter());
  }
  logger->set_level(parsed_level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace switchboard::metrics
