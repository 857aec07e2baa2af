#include "config/tools_file.hpp"

#include <boost/json/array.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <set>

namespace switchboard::config {
namespace {

namespace json = boost::json;

using problem = std::optional<std::string>;

constexpr std::array<std::string_view, 5> tool_fields{"name", "description", "parameters", "url",
                                                      "timeout_ms"};

// The Realtime API's function names: letters, digits, '_' and '-', at most 64.
bool valid_tool_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string quoted(std::string_view field) {
  return "\"" + std::string(field) + "\"";
}

// "tool 2 (lookup_order)", or "tool 2" while the name is missing or invalid: an invalid name
// could hold anything, a line break included.
std::string tool_label(std::size_t index, std::string_view name) {
  std::string label = "tool " + std::to_string(index + 1);
  if (valid_tool_name(name))
    label += " (" + std::string(name) + ")";
  return label;
}

problem name_problem(std::string_view name) {
  if (!valid_tool_name(name))
    return quoted("name") + " must be 1 to 64 letters, digits, '_' or '-'";
  if (name == end_call_tool_name || name == transfer_call_tool_name) {
    return quoted("name") + " " + std::string(name) +
           " is a built-in tool of the bridge; choose another name";
  }
  return std::nullopt;
}

problem url_problem(const std::string& url) {
  // Parsed from a NUL-terminated string: Boost.URL 1.81 may read past the end of a view.
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme_id() != boost::urls::scheme::http &&
                  parsed->scheme_id() != boost::urls::scheme::https)) {
    return quoted("url") + " must be http:// or https://";
  }
  if (!parsed->has_authority() || parsed->encoded_host().empty())
    return quoted("url") + " has no host";
  if (parsed->has_userinfo()) {
    return quoted("url") + " must not contain user info (it would end up in logs)";
  }
  if (parsed->has_fragment())
    return quoted("url") + " must not have a fragment (#...)";
  return std::nullopt;
}

problem timeout_problem(std::chrono::milliseconds timeout) {
  if (timeout < min_tool_timeout || timeout > max_tool_timeout) {
    return quoted("timeout_ms") + " must be a whole number of milliseconds in " +
           std::to_string(min_tool_timeout.count()) + ".." +
           std::to_string(max_tool_timeout.count());
  }
  return std::nullopt;
}

// The Realtime API takes an object schema for a function's arguments.
problem parameters_problem(const json::object& parameters) {
  const auto* type = parameters.if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "object") {
    return quoted("parameters") + " must be a JSON schema with \"type\": \"object\"";
  }
  return std::nullopt;
}

// The line of the byte at `offset`, for a JSON syntax error.
std::size_t line_of(std::string_view text, std::size_t offset) {
  const auto end = text.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text.size()));
  return static_cast<std::size_t>(std::count(text.begin(), end, '\n')) + 1;
}

std::optional<std::chrono::milliseconds> whole_milliseconds(const json::value& value) {
  if (value.is_int64())
    return std::chrono::milliseconds(value.get_int64());
  if (value.is_uint64() && value.get_uint64() <= 1'000'000'000)
    return std::chrono::milliseconds(static_cast<std::int64_t>(value.get_uint64()));
  return std::nullopt;
}

// One tool of the file; adds its problems to `problems`, each prefixed with `prefix` and the
// tool's label. Returns the tool when it has none.
std::optional<http_tool_definition> read_tool(const json::value& value, std::size_t index,
                                              std::string_view prefix,
                                              std::vector<std::string>& problems) {
  const auto size_before = problems.size();
  if (!value.is_object()) {
    problems.push_back(std::string(prefix) + tool_label(index, {}) +
                       ": not an object (expected {\"name\": ..., \"description\": ..., "
                       "\"parameters\": ..., \"url\": ...})");
    return std::nullopt;
  }
  const auto& object = value.get_object();
  http_tool_definition tool;
  const auto* name = object.if_contains("name");
  if (name != nullptr && name->is_string())
    tool.function.name = std::string(name->get_string());
  const auto label = std::string(prefix) + tool_label(index, tool.function.name) + ": ";
  auto report = [&](std::string why) {
    problems.push_back(label + why);
  };

  for (const auto& member : object) {
    if (std::find(tool_fields.begin(), tool_fields.end(), member.key()) == tool_fields.end()) {
      report("unknown field " + quoted(member.key()) +
             " (expected name, description, parameters, url, timeout_ms)");
    }
  }
  if (name == nullptr) {
    report(quoted("name") + " is missing");
  } else if (!name->is_string()) {
    report(quoted("name") + " must be a string");
  } else if (auto why = name_problem(tool.function.name)) {
    report(*why);
  }

  const auto* description = object.if_contains("description");
  if (description == nullptr) {
    report(quoted("description") + " is missing");
  } else if (!description->is_string() || description->get_string().empty()) {
    report(quoted("description") + " must be a non-empty string");
  } else {
    tool.function.description = std::string(description->get_string());
  }

  const auto* parameters = object.if_contains("parameters");
  if (parameters == nullptr) {
    report(quoted("parameters") + " is missing");
  } else if (!parameters->is_object()) {
    report(quoted("parameters") + " must be a JSON schema object");
  } else if (auto why = parameters_problem(parameters->get_object())) {
    report(*why);
  } else {
    tool.function.parameters = parameters->get_object();
  }

  const auto* url = object.if_contains("url");
  if (url == nullptr) {
    report(quoted("url") + " is missing");
  } else if (!url->is_string()) {
    report(quoted("url") + " must be http:// or https://");
  } else {
    tool.url = std::string(url->get_string());
    if (auto why = url_problem(tool.url))
      report(*why);
  }

  if (const auto* timeout = object.if_contains("timeout_ms")) {
    const auto milliseconds = whole_milliseconds(*timeout);
    if (!milliseconds) {
      report(*timeout_problem(std::chrono::milliseconds(0)));
    } else if (auto why = timeout_problem(*milliseconds)) {
      report(*why);
    } else {
      tool.timeout = *milliseconds;
    }
  }

  if (problems.size() != size_before)
    return std::nullopt;
  return tool;
}

// Names that several tools share, reported once per name at each repeat.
void check_unique_names(std::span<const std::string> names, std::string_view prefix,
                        std::vector<std::string>& problems) {
  std::set<std::string_view> seen;
  for (std::size_t index = 0; index < names.size(); ++index) {
    const auto& name = names[index];
    if (!valid_tool_name(name))
      continue;  // already reported
    if (!seen.insert(name).second) {
      problems.push_back(std::string(prefix) + tool_label(index, name) + ": " + quoted("name") +
                         " " + name + " is already used by an earlier tool");
    }
  }
}

std::string prefix_of(std::string_view source) {
  return source.empty() ? std::string{} : std::string(source) + ": ";
}

}  // namespace

boost::system::result<std::vector<http_tool_definition>, std::vector<std::string>> parse_tools_file(
    std::string_view text, std::string_view source) {
  const auto prefix = prefix_of(source);
  std::vector<std::string> problems;
  json::stream_parser parser;
  boost::system::error_code ec;
  const auto consumed = parser.write(text.data(), text.size(), ec);
  if (!ec)
    parser.finish(ec);
  if (ec) {
    problems.push_back(prefix + "not valid JSON (line " + std::to_string(line_of(text, consumed)) +
                       "): " + ec.message());
    return problems;
  }
  const auto document = parser.release();
  const auto* tools = document.is_object() ? document.get_object().if_contains("tools") : nullptr;
  if (tools == nullptr || !tools->is_array()) {
    problems.push_back(prefix + "expected an object {\"tools\": [...]}");
    return problems;
  }
  for (const auto& member : document.get_object()) {
    if (member.key() != "tools") {
      problems.push_back(prefix + "unknown field " + quoted(member.key()) +
                         " (the file holds only \"tools\")");
    }
  }

  std::vector<http_tool_definition> parsed;
  std::vector<std::string> names;
  const auto& array = tools->get_array();
  for (std::size_t index = 0; index < array.size(); ++index) {
    const auto& value = array[index];
    const auto* name = value.is_object() ? value.get_object().if_contains("name") : nullptr;
    names.push_back(name != nullptr && name->is_string() ? std::string(name->get_string())
                                                         : std::string{});
    if (auto tool = read_tool(value, index, prefix, problems))
      parsed.push_back(std::move(*tool));
  }
  check_unique_names(names, prefix, problems);
  if (!problems.empty())
    return problems;
  return parsed;
}

std::vector<std::string> check_tools(std::span<const http_tool_definition> tools,
                                     std::string_view source) {
  const auto prefix = prefix_of(source);
  std::vector<std::string> problems;
  std::vector<std::string> names;
  for (std::size_t index = 0; index < tools.size(); ++index) {
    const auto& tool = tools[index];
    names.push_back(tool.function.name);
    const auto label = prefix + tool_label(index, tool.function.name) + ": ";
    if (auto why = name_problem(tool.function.name))
      problems.push_back(label + *why);
    if (tool.function.description.empty())
      problems.push_back(label + quoted("description") + " must be a non-empty string");
    if (auto why = parameters_problem(tool.function.parameters))
      problems.push_back(label + *why);
    if (auto why = url_problem(tool.url))
      problems.push_back(label + *why);
    if (auto why = timeout_problem(tool.timeout))
      problems.push_back(label + *why);
  }
  check_unique_names(names, prefix, problems);
  return problems;
}

std::vector<function_tool> builtin_tools(bool default_transfer_target) {
  function_tool end_call{std::string(end_call_tool_name),
                         "Hang up after you have said goodbye.",
                         {{"type", "object"}, {"properties", json::object{}}}};

  json::object to{{"type", "string"},
                  {"pattern", "^\\+[1-9][0-9]{7,14}$"},
                  {"description",
                   "The phone number to transfer to, in E.164 form, e.g. "
                   "+14155550100."}};
  std::string description =
      "Transfer the caller to another phone number. Tell the caller first that you are "
      "transferring them.";
  json::object transfer_parameters{{"type", "object"}, {"properties", {{"to", std::move(to)}}}};
  if (default_transfer_target) {
    description += " Leave out \"to\" to transfer to the default number.";
  } else {
    transfer_parameters["required"] = json::array{"to"};
  }
  function_tool transfer_call{std::string(transfer_call_tool_name), std::move(description),
                              std::move(transfer_parameters)};
  return {std::move(end_call), std::move(transfer_call)};
}

}  // namespace switchboard::config
