#pragma once
// TOOLS_FILE: the functions the agent may call besides the built-in end_call and transfer_call.
// Each is an HTTP endpoint: the bridge POSTs the model's arguments there with the call's
// context, and the answer goes back to the model as the call's output (net/http_tool.hpp).
//
//   {"tools": [{"name": "lookup_order",
//               "description": "Finds an order by its number and says where it is.",
//               "parameters": {"type": "object",
//                              "properties": {"order": {"type": "string"}},
//                              "required": ["order"]},
//               "url": "https://crm.example.com/tools/lookup_order",
//               "timeout_ms": 3000}]}
//
// Every field but timeout_ms is required; unknown fields are errors (a misspelt "timeout" would
// otherwise be ignored in silence). Pure: parses text and reads no file (settings.cpp does).

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::config {

inline constexpr std::chrono::milliseconds default_tool_timeout{5000};
inline constexpr std::chrono::milliseconds min_tool_timeout{100};
inline constexpr std::chrono::milliseconds max_tool_timeout{60000};

/// The bridge carries these out itself; a TOOLS_FILE tool may not take their names.
inline constexpr std::string_view end_call_tool_name = "end_call";
inline constexpr std::string_view transfer_call_tool_name = "transfer_call";

/// One function as the model sees it in session.update's tools (the three fields of
/// net::realtime_function_tool: the config library knows nothing of net).
struct function_tool {
  std::string name;                // ^[a-zA-Z0-9_-]{1,64}$
  std::string description;         // what the model reads to decide when to call it
  boost::json::object parameters;  // JSON schema of the arguments, "type": "object"
  friend bool operator==(const function_tool&, const function_tool&) = default;
};

/// One tool of TOOLS_FILE: the function and the endpoint that answers it.
struct http_tool_definition {
  function_tool function;
  std::string url;                                           // http:// or https://
  std::chrono::milliseconds timeout = default_tool_timeout;  // the whole HTTP exchange
  friend bool operator==(const http_tool_definition&, const http_tool_definition&) = default;
};

/// Parses the contents of a TOOLS_FILE. On failure returns every problem found, each starting
/// with `source` (e.g. "TOOLS_FILE /etc/agent/tools.json") and naming the tool by its 1-based
/// position and, when valid, its name, and the field:
///   TOOLS_FILE /x/tools.json: tool 2 (lookup_order): "url" must be http:// or https://
boost::system::result<std::vector<http_tool_definition>, std::vector<std::string>> parse_tools_file(
    std::string_view text, std::string_view source);

/// The same rules for tools built in code (names, uniqueness, URLs, timeouts, schema object);
/// every problem, in parse_tools_file's words; empty = valid.
std::vector<std::string> check_tools(std::span<const http_tool_definition> tools,
                                     std::string_view source);

/// The built-in tools' definitions, for the session's tools list next to TOOLS_FILE's:
///   end_call       no arguments: "Hang up after you have said goodbye."
///   transfer_call  {"to": E.164 number}; "to" is required, unless `default_transfer_target`
///                  (TRANSFER_TO is set): then it is optional and leaving it out transfers there.
std::vector<function_tool> builtin_tools(bool default_transfer_target);

}  // namespace switchboard::config
