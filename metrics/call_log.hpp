#pragma once
// Call-scoped log lines. Every line about a call starts with the same prefix,
// "[call <CallSid> stream <StreamSid>] ", so that a text log greps by call, and the JSON log
// format (logging.hpp) lifts the two ids into their own fields.

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <utility>

namespace switchboard::metrics {

struct call_ids {
  std::string call_sid;
  std::string stream_sid;
};

/// "[call CA.. stream MZ..] ", "[call CA..] " without a stream, "" before either is known.
std::string call_log_prefix(const call_ids& ids);

template <class... Args>
void log_call(spdlog::level::level_enum level, const call_ids& ids,
              fmt::format_string<Args...> format, Args&&... args) {
  if (!spdlog::should_log(level))
    return;
  spdlog::log(level, "{}{}", call_log_prefix(ids),
              fmt::format(format, std::forward<Args>(args)...));
}

/// The parts of a line that starts with a call prefix; `message` is the rest of the line.
struct call_log_fields {
  std::string_view call_sid;
  std::string_view stream_sid;
  std::string_view message;
};

/// Splits a call prefix off `line`; a line without one comes back whole in `message`.
call_log_fields split_call_prefix(std::string_view line);

}  // namespace switchboard::metrics
