#pragma once
// Calling a user-defined tool (TOOLS_FILE, config/tools_file.hpp): the model's arguments and the
// call's context go to the tool's URL as one JSON POST,
//
//   {"tool": "lookup_order",
//    "arguments": {"order": "A-1234"},
//    "call": {"call_sid": "CA…", "stream_sid": "MZ…", "from": "+1…", "to": "+1…",
//             "direction": "inbound", "metadata": {…}}}
//
// and what comes back becomes the function_call_output the model reads. A tool that fails, is
// slow or cannot be reached gives the model an error result, {"error": "…"}, and the call goes
// on: the model can say that it could not look something up.
// Non-template interface; the exchange is net/http_client's.

#include "net/tls.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace switchboard::net {

/// The endpoint of one tool (config::http_tool_definition without what only the model reads).
struct http_tool {
  std::string name;  // as the model calls it; named in error results
  std::string url;   // http:// or https://
  /// The whole exchange (resolve, connect, TLS, request, answer) must finish within this.
  std::chrono::milliseconds timeout{5000};
};

/// Who is on the call, sent to the tool as "call".
struct tool_call_context {
  std::string call_sid;
  std::string stream_sid;
  std::string from;
  std::string to;
  std::string direction;  // inbound | outbound-api
  /// A JSON object, e.g. the stream's customParameters or POST /calls metadata; empty = {}.
  /// Text that is not JSON is sent as a JSON string.
  std::string metadata_json;
};

/// How a tool call ended: a bounded set, fit for a metric label.
enum class tool_outcome {
  answered,           // 2xx: the answer is the output
  http_error,         // any other status
  timed_out,          // no complete answer within the tool's timeout
  unreachable,        // resolve, connect, TLS or a malformed answer
  invalid_arguments,  // the model's arguments are not a JSON object; nothing was sent
};

std::string_view to_string(tool_outcome outcome);

struct tool_result {
  tool_outcome outcome = tool_outcome::answered;
  unsigned http_status = 0;  // 0 when no answer came
  /// The function_call_output for the model: a 2xx body that is JSON, as it is; any other
  /// 2xx body as a JSON string; otherwise {"error": "…"} in words the model may repeat to the
  /// caller (no host names or addresses).
  std::string output;
  /// For the log, not the model: the transport error naming the host, or the JSON parse error
  /// of invalid arguments; empty when the tool answered.
  std::string detail;

  bool ok() const { return outcome == tool_outcome::answered; }
};

/// POSTs `arguments_json` (the model's function_call arguments; empty = {}) and `call` to the
/// tool and returns at once. `done` is called exactly once, on a thread running `io` (never
/// before this returns). Never throws. `tls` is needed for https:// URLs.
void invoke_http_tool(boost::asio::io_context& io, std::shared_ptr<tls_context> tls,
                      const http_tool& tool, std::string_view arguments_json,
                      const tool_call_context& call, std::function<void(tool_result)> done);

/// The request body invoke_http_tool sends, or why the arguments are not a JSON object.
boost::system::result<std::string, std::string> tool_request_body(const http_tool& tool,
                                                                  std::string_view arguments_json,
                                                                  const tool_call_context& call);

}  // namespace switchboard::net
