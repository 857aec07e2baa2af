#pragma once
// Process-wide log set-up: readable text lines, or one JSON object per line (LOG_FORMAT=json)
// for log shippers. Call-scoped lines carry their call and stream ids as fields.

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace switchboard::metrics {

/// format: "text" | "json"; level: trace|debug|info|warn|error|critical|off.
/// Returns an error naming the bad value; the logger is left unchanged then.
boost::system::result<void, std::string> configure_logging(std::string_view format,
                                                           std::string_view level);

}  // namespace switchboard::metrics
