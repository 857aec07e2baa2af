#pragma once
// Process-wide log set-up: readable text lines, or one JSON object per line (LOG_FORMAT=json)
// for log shippers. Call-scoped lines carry their call and stream ids as fields.

#include <boost/system/result.hpp>
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace switchboard::metrics {

/// format: "text" | "json"; level: trace|debug|info|warn|error|critical|off.
/// Returns an error naming the bad value; the logger is left unchanged then.
boost::system::result<void, std::string> configure_logging(std::string_view format,
                                                           std::string_view level);

/// The text formatter LOG_FORMAT=text installs: one line per message, control characters
/// (newlines among them) escaped as \xNN so that wire data cannot forge a line.
std::unique_ptr<spdlog::formatter> make_text_line_formatter();

/// The JSON-lines formatter LOG_FORMAT=json installs: {"ts","level","logger","call_sid",
/// "stream_sid","msg"}, the ids lifted from the call prefix (call_log.hpp).
std::unique_ptr<spdlog::formatter> make_json_line_formatter();

}  // namespace switchboard::metrics
