#include "metrics/logging.hpp"

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
    append(dest, R"(,"msg":)");
    // Boost.JSON escapes quotes, backslashes and control characters.
    append(dest, boost::json::serialize(
                     boost::json::string_view(msg.payload.data(), msg.payload.size())));
    append(dest, "}\n");
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_line_formatter>();
  }
};

}  // namespace

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
    logger->set_formatter(std::make_unique<json_line_formatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  }
  logger->set_level(parsed_level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace switchboard::metrics
