// TOOLS_FILE: the parser on its own, then the setting that reads the file (and TRANSFER_TO,
// which shapes the built-in transfer_call).
#include "config/settings.hpp"
#include "config/tools_file.hpp"
#include "tests/config/temporary_directory.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace switchboard::config {
namespace {

namespace json = boost::json;

constexpr std::string_view source = "TOOLS_FILE /x/tools.json";

constexpr std::string_view valid_file = R"({"tools": [
  {"name": "lookup_order",
   "description": "Finds an order by its number.",
   "parameters": {"type": "object", "properties": {"order": {"type": "string"}},
                  "required": ["order"]},
   "url": "https://crm.example.com/tools/lookup_order?v=2",
   "timeout_ms": 3000},
  {"name": "opening-hours_2",
   "description": "Today's opening hours.",
   "parameters": {"type": "object", "properties": {}},
   "url": "http://127.0.0.1:8080/hours"}
]})";

std::vector<std::string> problems_of(std::string_view text) {
  auto parsed = parse_tools_file(text, source);
  REQUIRE_FALSE(parsed.has_value());
  return parsed.error();
}

// The one problem of a file with a single tool built from `tool_json`.
std::string only_problem(std::string_view tool_json) {
  const auto problems = problems_of(R"({"tools":[)" + std::string(tool_json) + "]}");
  INFO(tool_json);
  REQUIRE(problems.size() == 1);
  return problems[0];
}

std::string tool_with(std::string_view field, std::string_view value_json) {
  json::object tool{{"name", "lookup_order"},
                    {"description", "Finds an order."},
                    {"parameters", {{"type", "object"}, {"properties", json::object{}}}},
                    {"url", "https://crm.example.com/lookup"}};
  if (value_json.empty()) {
    tool.erase(field);
  } else {
    tool[field] = json::parse(value_json);
  }
  return json::serialize(tool);
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// A token so the "run without signature checks" rule does not fire.
const std::map<std::string, std::string, std::less<>> base_environment{
    {"TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef"}};

boost::system::result<settings, config_errors> load_with(
    std::map<std::string, std::string, std::less<>> environment) {
  const testing::temporary_directory directory;
  environment.insert(base_environment.begin(), base_environment.end());
  return load({}, environment_from_map(std::move(environment)), directory.path() / ".env");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The file's format
// ---------------------------------------------------------------------------------------------

TEST_CASE("tools file: every field is read, timeout_ms defaults to 5000") {
  const auto parsed = parse_tools_file(valid_file, source);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->size() == 2);
  const auto& lookup = (*parsed)[0];
  CHECK(lookup.function.name == "lookup_order");
  CHECK(lookup.function.description == "Finds an order by its number.");
  CHECK(json::value(lookup.function.parameters) ==
        json::parse(R"({"type": "object", "properties": {"order": {"type": "string"}},
                        "required": ["order"]})"));
  CHECK(lookup.url == "https://crm.example.com/tools/lookup_order?v=2");
  CHECK(lookup.timeout == std::chrono::milliseconds(3000));
  CHECK((*parsed)[1].function.name == "opening-hours_2");
  CHECK((*parsed)[1].timeout == default_tool_timeout);
  CHECK((*parsed)[1].url == "http://127.0.0.1:8080/hours");

  // The parsed tools pass the rules for tools built in code.
  CHECK(check_tools(*parsed, source).empty());
}

TEST_CASE("tools file: an empty list is valid") {
  const auto parsed = parse_tools_file(R"({"tools": []})", source);
  REQUIRE(parsed.has_value());
  CHECK(parsed->empty());
}

TEST_CASE("tools file: a field's problem names the file, the tool and the field") {
  CHECK(only_problem(tool_with("url", R"("ftp://crm.example.com/x")")) ==
        R"(TOOLS_FILE /x/tools.json: tool 1 (lookup_order): "url" must be http:// or https://)");

  // The position counts from 1, and the name is given once it is valid.
  const auto problems = problems_of(R"({"tools":[)" + tool_with("name", R"("first")") + "," +
                                    tool_with("url", R"("crm.example.com/lookup")") + "]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] ==
        R"(TOOLS_FILE /x/tools.json: tool 2 (lookup_order): "url" must be http:// or https://)");
}

TEST_CASE("tools file: each field's invalid forms") {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"name", "", R"("name" is missing)"},
      {"name", "42", R"("name" must be a string)"},
      {"name", R"("")", R"("name" must be 1 to 64 letters, digits, '_' or '-')"},
      {"name", R"("look up")", R"("name" must be 1 to 64)"},
      {"name", R"("lookup.order")", R"("name" must be 1 to 64)"},
      {"name", "\"" + std::string(65, 'a') + "\"", R"("name" must be 1 to 64)"},
      {"name", R"("end_call")", R"("name" end_call is a built-in tool of the bridge)"},
      {"name", R"("transfer_call")", R"("name" transfer_call is a built-in tool)"},
      {"description", "", R"("description" is missing)"},
      {"description", R"("")", R"("description" must be a non-empty string)"},
      {"description", "[]", R"("description" must be a non-empty string)"},
      {"parameters", "", R"("parameters" is missing)"},
      {"parameters", R"("object")", R"("parameters" must be a JSON schema object)"},
      {"parameters", R"({"type":"string"})", R"("parameters" must be a JSON schema with)"},
      {"parameters", R"({"properties":{}})", R"("parameters" must be a JSON schema with)"},
      {"url", "", R"("url" is missing)"},
      {"url", "7", R"("url" must be http:// or https://)"},
      {"url", R"("wss://crm.example.com/x")", R"("url" must be http:// or https://)"},
      {"url", R"("https://")", R"("url" has no host)"},
      {"url", R"("https://user:secret@crm.example.com/x")", R"("url" must not contain user info)"},
      {"url", R"("https://crm.example.com/x#top")", R"("url" must not have a fragment)"},
      {"timeout_ms", "99", R"("timeout_ms" must be a whole number of milliseconds in 100..60000)"},
      {"timeout_ms", "60001", R"("timeout_ms" must be a whole number)"},
      {"timeout_ms", "-5", R"("timeout_ms" must be a whole number)"},
      {"timeout_ms", "1500.5", R"("timeout_ms" must be a whole number)"},
      {"timeout_ms", R"("5000")", R"("timeout_ms" must be a whole number)"},
      {"timeout_ms", "18446744073709551615", R"("timeout_ms" must be a whole number)"},
  };
  for (const auto& [field, value, expected] : cases) {
    const auto problem = only_problem(tool_with(field, value));
    INFO(field << " = " << value << "\n" << problem);
    CHECK(problem.starts_with("TOOLS_FILE /x/tools.json: tool 1"));
    CHECK(contains(problem, expected));
  }
  CHECK(only_problem(tool_with("name", R"("look up")")) ==
        R"(TOOLS_FILE /x/tools.json: tool 1: "name" must be 1 to 64 letters, digits, '_' or '-')");
  // Valid edges.
  for (const auto& timeout : {"100", "60000"}) {
    const auto parsed =
        parse_tools_file(R"({"tools":[)" + tool_with("timeout_ms", timeout) + "]}", source);
    CHECK(parsed.has_value());
  }
}

TEST_CASE("tools file: an unknown field is an error (a misspelt timeout is not ignored)") {
  const auto problem = only_problem(tool_with("timeout", "3000"));
  CHECK(problem ==
        "TOOLS_FILE /x/tools.json: tool 1 (lookup_order): unknown field \"timeout\" "
        "(expected name, description, parameters, url, timeout_ms)");
  const auto top = problems_of(R"({"tools": [], "tool": []})");
  REQUIRE(top.size() == 1);
  CHECK(contains(top[0], "unknown field \"tool\""));
}

TEST_CASE("tools file: names are unique") {
  const auto problems = problems_of(R"({"tools":[)" + tool_with("url", "") + "," +
                                    tool_with("name", R"("lookup_order")") + "," +
                                    tool_with("name", R"("lookup_order")") + "]}");
  // The first lacks a url; the second and third repeat its name.
  REQUIRE(problems.size() == 3);
  CHECK(contains(problems[0], R"(tool 1 (lookup_order): "url" is missing)"));
  CHECK(problems[1] ==
        "TOOLS_FILE /x/tools.json: tool 2 (lookup_order): \"name\" lookup_order "
        "is already used by an earlier tool");
  CHECK(contains(problems[2], "tool 3 (lookup_order): \"name\" lookup_order is already used"));
}

TEST_CASE("tools file: every problem of every tool is reported at once") {
  const auto problems = problems_of(R"({"tools":[{"name":"a b","url":"x"}, 7,
                                                  {"name":"ok","description":"d",
                                                   "parameters":{"type":"object"},
                                                   "url":"https://e.com","timeout_ms":1}]})");
  // Tool 1: its name, description, parameters and url; tool 2: not an object; tool 3: its
  // timeout.
  REQUIRE(problems.size() == 6);
  for (std::size_t index = 0; index < 4; ++index)
    CHECK(problems[index].starts_with("TOOLS_FILE /x/tools.json: tool 1: "));
  CHECK(contains(problems[4], "tool 2: not an object"));
  CHECK(contains(problems[5], R"(tool 3 (ok): "timeout_ms")"));
}

TEST_CASE("tools file: not JSON, or not {\"tools\": [...]}") {
  auto problems = problems_of("{\"tools\": [\n  {\"name\": \"a\",\n  }\n]}");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].starts_with("TOOLS_FILE /x/tools.json: not valid JSON (line 3): "));
  for (const auto* text : {"[]", "{}", R"({"tools": {}})", "\"tools\"", ""}) {
    INFO(text);
    problems = problems_of(text);
    REQUIRE(problems.size() == 1);
    CHECK((contains(problems[0], R"(expected an object {"tools": [...]})") ||
           contains(problems[0], "not valid JSON")));
  }
}

TEST_CASE("tools file: check_tools applies the same rules to tools built in code") {
  http_tool_definition tool{{"end_call", "", json::object{{"type", "array"}}},
                            "mailto:someone@example.com",
                            std::chrono::milliseconds(50)};
  const auto problems = check_tools(std::vector{tool}, "tools");
  REQUIRE(problems.size() == 5);
  CHECK(problems[0] ==
        "tools: tool 1 (end_call): \"name\" end_call is a built-in tool of the "
        "bridge; choose another name");
  CHECK(contains(problems[1], "\"description\""));
  CHECK(contains(problems[2], "\"parameters\""));
  CHECK(contains(problems[3], "\"url\""));
  CHECK(contains(problems[4], "\"timeout_ms\""));
}

TEST_CASE("built-in tools: end_call takes nothing, transfer_call needs \"to\" unless a default") {
  const auto tools = builtin_tools(false);
  REQUIRE(tools.size() == 2);
  CHECK(tools[0].name == "end_call");
  CHECK(tools[0].description == "Hang up after you have said goodbye.");
  CHECK(json::value(tools[0].parameters) == json::parse(R"({"type":"object","properties":{}})"));
  CHECK(tools[1].name == "transfer_call");
  CHECK(tools[1].parameters.at("properties").at("to").at("type") == "string");
  CHECK(tools[1].parameters.at("required") == json::parse(R"(["to"])"));

  const auto with_default = builtin_tools(true);
  CHECK_FALSE(with_default[1].parameters.contains("required"));
  CHECK(contains(with_default[1].description, "default number"));
  CHECK(with_default[0] == tools[0]);
}

// ---------------------------------------------------------------------------------------------
// The TOOLS_FILE and TRANSFER_TO settings
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: TOOLS_FILE's tools are loaded, unset means none") {
  const testing::temporary_directory directory;
  const auto file = directory.write("tools.json", std::string(valid_file));
  auto loaded = load_with({{"TOOLS_FILE", file.string()}});
  REQUIRE(loaded.has_value());
  CHECK(loaded->tools_file == std::optional<std::filesystem::path>(file));
  REQUIRE(loaded->tools.size() == 2);
  CHECK(loaded->tools[0].function.name == "lookup_order");
  CHECK(loaded->tools == *parse_tools_file(valid_file, source));
  // Loaded settings validate again.
  CHECK(validate(*loaded).has_value());

  const auto plain = load_with({});
  REQUIRE(plain.has_value());
  CHECK_FALSE(plain->tools_file);
  CHECK(plain->tools.empty());
  CHECK(plain->transfer_to.empty());
}

TEST_CASE("settings: an invalid TOOLS_FILE stops start-up with each problem under TOOLS_FILE") {
  const testing::temporary_directory directory;
  const auto file =
      directory.write("tools.json", R"({"tools":[)" + tool_with("name", R"("first")") + "," +
                                        tool_with("url", R"("ftp://x")") + "," +
                                        tool_with("timeout_ms", "1") + "]}");
  const auto loaded = load_with({{"TOOLS_FILE", file.string()}});
  REQUIRE_FALSE(loaded.has_value());
  // error() returns a copy in Boost 1.81: keep it.
  const auto errors = loaded.error().errors;
  REQUIRE(errors.size() == 3);
  for (const auto& error : errors) {
    CHECK(error.setting == "TOOLS_FILE");
    CHECK(error.code == errc::invalid_value);
  }
  CHECK(errors[0].message == "TOOLS_FILE " + file.string() +
                                 ": tool 2 (lookup_order): \"url\" must be http:// or https://");
  CHECK(contains(errors[1].message, "tool 3 (lookup_order): \"timeout_ms\""));
  CHECK(contains(errors[2].message, "tool 3 (lookup_order): \"name\" lookup_order is already"));
  CHECK(contains(format_errors(loaded.error()), "TOOLS_FILE " + file.string()));
}

TEST_CASE("settings: an unreadable TOOLS_FILE is an error naming it and its source") {
  const testing::temporary_directory directory;
  const auto missing = directory.path() / "missing.json";
  const auto loaded = load_with({{"TOOLS_FILE", missing.string()}});
  REQUIRE_FALSE(loaded.has_value());
  REQUIRE(loaded.error().errors.size() == 1);
  const auto error = loaded.error().errors[0];
  CHECK(error.code == errc::unreadable_file);
  CHECK(error.setting == "TOOLS_FILE");
  CHECK(error.message ==
        "TOOLS_FILE=" + missing.string() + " (from environment): cannot read: not found");
}

TEST_CASE("validate: tools built in code obey the file's rules") {
  settings built;
  built.twilio_auth_token = "0123456789abcdef0123456789abcdef";
  CHECK(validate(built).has_value());
  built.tools = *parse_tools_file(valid_file, source);
  CHECK(validate(built).has_value());
  built.tools.push_back(built.tools[0]);
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  REQUIRE(validated.error().errors.size() == 1);
  CHECK(validated.error().errors[0].setting == "TOOLS_FILE");
  CHECK(contains(validated.error().errors[0].message, "is already used by an earlier tool"));
}

TEST_CASE("settings: TRANSFER_TO is an E.164 number") {
  auto loaded = load_with({{"TRANSFER_TO", "+14155550123"}});
  REQUIRE(loaded.has_value());
  CHECK(loaded->transfer_to == "+14155550123");
  for (const auto* invalid : {"14155550123", "+1 415 555 0123", "+0415555012", "+1"}) {
    INFO(invalid);
    const auto failed = load_with({{"TRANSFER_TO", invalid}});
    REQUIRE_FALSE(failed.has_value());
    REQUIRE(failed.error().errors.size() == 1);
    CHECK(failed.error().errors[0].setting == "TRANSFER_TO");
  }
}

}  // namespace switchboard::config
