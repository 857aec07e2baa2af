// The observability assets in k8s/observability/ against the server they watch: every metric the
// Grafana dashboard and the Prometheus alert rules name must be in a real scrape of a bridge that
// has carried a call, the rules must pass `promtool check rules` and the scrape
// `promtool check metrics`. A renamed metric then breaks this test instead of a dashboard panel
// or an alert that silently never fires.
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace switchboard;
using namespace std::chrono_literals;

namespace {

const std::string observability_dir = std::string(SWITCHBOARD_SOURCE_DIR) + "/k8s/observability/";

// ---- PromQL: which series an expression selects ------------------------------------------

bool is_identifier_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}
bool is_identifier_char(char c) {
  return is_identifier_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

/// Index just past the string literal that opens at `at` ("…", '…' or `…`, with \ escapes).
std::size_t skip_string(std::string_view text, std::size_t at) {
  const char quote = text[at];
  std::size_t i = at + 1;
  while (i < text.size() && text[i] != quote) {
    i += (text[i] == '\\' && quote != '`') ? 2 : 1;
  }
  return std::min(i + 1, text.size());
}

/// Index just past the bracket group that opens at `at` (strings inside may hold brackets).
std::size_t skip_group(std::string_view text, std::size_t at) {
  const char open = text[at];
  const char close = open == '(' ? ')' : open == '[' ? ']' : '}';
  int depth = 0;
  std::size_t i = at;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(text, i);
      continue;
    }
    depth += c == open ? 1 : c == close ? -1 : 0;
    ++i;
    if (depth == 0) {
      break;
    }
  }
  return i;
}

/// Words PromQL reserves: an identifier spelled so is never a metric name.
bool is_promql_keyword(std::string_view word) {
  static const std::set<std::string, std::less<>> keywords = {
      // aggregation operators (they may be followed by `by (…)` before their parentheses)
      "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
      "topk", "quantile",
      // binary and set operators, modifiers
      "and", "or", "unless", "atan2", "bool", "offset", "inf", "nan", "Inf", "NaN"};
  return keywords.contains(word);
}

/// Keywords followed by a parenthesised list of label names, not of expressions.
bool takes_label_list(std::string_view word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" ||
         word == "group_left" || word == "group_right";
}

/// The series names a PromQL expression selects, as written (histogram series keep their
/// `_bucket`/`_sum`/`_count` suffix; family_of() maps them to the family). Label matchers,
/// ranges, strings, numbers and durations, function names, keywords, label lists after
/// by/without/on/ignoring/group_left/group_right, and Grafana variables ($node, ${node},
/// $__rate_interval) are skipped.
std::set<std::string> promql_series_names(std::string_view expr) {
  std::set<std::string> names;
  std::size_t i = 0;
  const auto next_non_space = [&expr](std::size_t from) {
    while (from < expr.size() && std::isspace(static_cast<unsigned char>(expr[from])) != 0) {
      ++from;
    }
    return from;
  };
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(expr, i);
    } else if (c == '{' || c == '[') {
      i = skip_group(expr, i);
    } else if (c == '#') {  // a comment, to the end of the line
      const auto end = expr.find('\n', i);
      i = end == std::string_view::npos ? expr.size() : end;
    } else if (c == '$') {  // a Grafana variable: $name or ${name}
      ++i;
      if (i < expr.size() && expr[i] == '{') {
        i = skip_group(expr, i);
      }
      while (i < expr.size() && is_identifier_char(expr[i])) {
        ++i;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.') {
      // A number or a duration (0.99, 1e3, 5m, 1h30m): never a name.
      while (i < expr.size() && (is_identifier_char(expr[i]) || expr[i] == '.')) {
        ++i;
      }
    } else if (is_identifier_start(c)) {
      const auto start = i;
      while (i < expr.size() && is_identifier_char(expr[i])) {
        ++i;
      }
      const auto word = expr.substr(start, i - start);
      const auto after = next_non_space(i);
      const bool call = after < expr.size() && expr[after] == '(';
      if (takes_label_list(word)) {
        if (call) {
          i = skip_group(expr, after);
        }
      } else if (!call && !is_promql_keyword(word)) {
        names.emplace(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

// ---- the text exposition format ------------------------------------------------------------

/// Metric families of a scrape, by name, with their type: its `# TYPE <name> <type>` lines.
std::map<std::string, std::string, std::less<>> family_types(std::string_view exposition) {
  std::map<std::string, std::string, std::less<>> families;
  std::istringstream lines{std::string(exposition)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (words >> hash >> keyword >> name >> type && hash == "#" && keyword == "TYPE") {
      families[name] = type;
    }
  }
  return families;
}

/// The family a series belongs to: the series' own name when it is a family, or, for the
/// `_bucket`/`_sum`/`_count` series of a histogram (`_sum`/`_count` of a summary), the name
/// without that suffix. nullopt when the scrape has no such family.
std::optional<std::string> family_of(
    std::string_view series, const std::map<std::string, std::string, std::less<>>& families) {
  if (families.contains(series)) {
    return std::string(series);
  }
  for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (!series.ends_with(suffix)) {
      continue;
    }
    const auto stem = series.substr(0, series.size() - suffix.size());
    const auto family = families.find(stem);
    if (family == families.end()) {
      return std::nullopt;
    }
    const bool histogram = family->second == "histogram";
    const bool summary = family->second == "summary" && suffix != "_bucket";
    return histogram || summary ? std::optional<std::string>(stem) : std::nullopt;
  }
  return std::nullopt;
}

/// Metrics the assets may name that other exporters provide: Prometheus' own `up` and
/// kube-state-metrics' kube_* (pod restarts).
bool from_another_exporter(std::string_view name) {
  return name == "up" || name.starts_with("kube_");
}

// ---- the PrometheusRule, line by line (no YAML library) ------------------------------------

std::size_t indentation(std::string_view line) {
  return std::min(line.find_first_not_of(' '), line.size());
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

/// Every `expr:` value: a plain or quoted scalar on its line, or a block scalar (`|`, `>`,
/// with chomping indicators) whose lines are indented deeper than the key.
std::vector<std::string> rule_expressions(std::string_view yaml) {
  std::vector<std::string> expressions;
  const auto lines = lines_of(yaml);
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string_view line = lines[n];
    const auto key_at = indentation(line);
    if (line.substr(key_at).rfind("expr:", 0) != 0) {
      continue;
    }
    std::string value(line.substr(key_at + 5));
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of(" \r") + 1);
    if (!value.empty() && (value[0] == '|' || value[0] == '>')) {
      value.clear();
      while (n + 1 < lines.size() &&
             (is_blank(lines[n + 1]) || indentation(lines[n + 1]) > key_at)) {
        value += lines[++n] + "\n";
      }
    } else if (value.size() >= 2 && (value[0] == '"' || value[0] == '\'') &&
               value.back() == value[0]) {
      value = value.substr(1, value.size() - 2);
    }
    expressions.push_back(value);
  }
  return expressions;
}

/// The body of the top-level `spec:` key, moved left so that it is a document of its own: for
/// a PrometheusRule, the `groups:` file that `promtool check rules` reads.
std::string spec_block(std::string_view yaml) {
  const auto lines = lines_of(yaml);
  std::string block;
  std::optional<std::size_t> body_indent;
  bool inside = false;
  for (const auto& line : lines) {
    if (!inside) {
      inside = line.rfind("spec:", 0) == 0;
      continue;
    }
    if (is_blank(line)) {
      block += "\n";
      continue;
    }
    const auto indent = indentation(line);
    if (indent == 0) {
      break;  // the next top-level key
    }
    if (!body_indent) {
      body_indent = indent;
    }
    block += line.substr(std::min(indent, *body_indent)) + "\n";
  }
  return block;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- the dashboard --------------------------------------------------------------------------

std::string string_at(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

struct dashboard_queries {
  std::vector<std::string> expressions;  // every target's expr
  std::size_t panels = 0;                // panels that draw something (not rows)
};

/// Walks the panels (and those of collapsed rows), checking what Grafana needs to draw each:
/// a unique id, the dashboard's datasource variable, targets with an expr and a unique refId.
void collect_panels(const boost::json::array& panels, std::set<std::int64_t>& ids,
                    dashboard_queries& found) {
  for (const auto& entry : panels) {
    REQUIRE(entry.is_object());
    const auto& panel = entry.as_object();
    const auto title = string_at(panel, "title");
    INFO("panel " << title);
    REQUIRE(panel.if_contains("id") != nullptr);
    CHECK(ids.insert(panel.at("id").to_number<std::int64_t>()).second);
    REQUIRE(panel.if_contains("gridPos") != nullptr);
    if (string_at(panel, "type") == "row") {
      if (const auto* nested = panel.if_contains("panels"); nested && nested->is_array()) {
        collect_panels(nested->as_array(), ids, found);
      }
      continue;
    }
    ++found.panels;
    CHECK(!title.empty());
    const auto* datasource = panel.if_contains("datasource");
    REQUIRE(datasource != nullptr);
    CHECK(string_at(datasource->as_object(), "uid") == "${datasource}");
    const auto* targets = panel.if_contains("targets");
    REQUIRE(targets != nullptr);
    REQUIRE(targets->is_array());
    REQUIRE(!targets->as_array().empty());
    std::set<std::string> ref_ids;
    for (const auto& target : targets->as_array()) {
      const auto expr = string_at(target.as_object(), "expr");
      CHECK(!expr.empty());
      CHECK(ref_ids.insert(string_at(target.as_object(), "refId")).second);
      found.expressions.push_back(expr);
    }
  }
}

/// `expr` as Grafana sends it to Prometheus, with sample values for the variables it uses.
std::string with_grafana_variables_filled_in(std::string expr) {
  const std::pair<std::string_view, std::string_view> variables[] = {
      {"$__rate_interval", "1m"}, {"$__range", "3h"}, {"${node}", ".*"}, {"$node", ".*"}};
  for (const auto& [variable, value] : variables) {
    for (auto at = expr.find(variable); at != std::string::npos;
         at = expr.find(variable, at + value.size())) {
      expr.replace(at, variable.size(), value);
    }
  }
  return expr;
}

dashboard_queries read_dashboard() {
  boost::system::error_code error;
  const auto document =
      boost::json::parse(read_text(observability_dir + "grafana-dashboard.json"), error);
  REQUIRE_FALSE(error);
  REQUIRE(document.is_object());
  const auto& dashboard = document.as_object();
  CHECK(!string_at(dashboard, "title").empty());
  CHECK(!string_at(dashboard, "uid").empty());
  REQUIRE(dashboard.if_contains("schemaVersion") != nullptr);
  CHECK(dashboard.at("schemaVersion").to_number<int>() >= 36);

  // Template variables: the Prometheus datasource to use, and the nodes to show.
  std::map<std::string, boost::json::object> variables;
  for (const auto& variable : dashboard.at("templating").at("list").as_array()) {
    variables[string_at(variable.as_object(), "name")] = variable.as_object();
  }
  REQUIRE(variables.contains("datasource"));
  CHECK(string_at(variables["datasource"], "type") == "datasource");
  CHECK(string_at(variables["datasource"], "query") == "prometheus");
  REQUIRE(variables.contains("node"));
  CHECK(string_at(variables["node"], "definition") ==
        "label_values(switchboard_active_calls, node)");
  CHECK(string_at(variables["node"].at("query").as_object(), "query") ==
        "label_values(switchboard_active_calls, node)");

  dashboard_queries found;
  std::set<std::int64_t> ids;
  REQUIRE(dashboard.at("panels").is_array());
  collect_panels(dashboard.at("panels").as_array(), ids, found);
  CHECK(found.panels > 0);
  return found;
}

/// Every series name the dashboard's queries and the rules' expressions select, with the asset
/// that names it (for the failure message).
std::map<std::string, std::string> names_in_assets() {
  std::map<std::string, std::string> names;
  for (const auto& expr : read_dashboard().expressions) {
    for (const auto& name : promql_series_names(expr)) {
      names.emplace(name, "grafana-dashboard.json: " + expr);
    }
  }
  // The node variable's query: label_values(<metric>, <label>).
  names.emplace("switchboard_active_calls", "grafana-dashboard.json: the node variable");
  for (const auto& expr :
       rule_expressions(read_text(observability_dir + "prometheus-rules.yaml"))) {
    for (const auto& name : promql_series_names(expr)) {
      names.emplace(name, "prometheus-rules.yaml: " + expr);
    }
  }
  return names;
}

/// The bridge's /metrics after a whole call with a barge-in: what Prometheus sees of a node in
/// service, children created on first use included.
std::string scrape_after_a_call() {
  testing::bridge_harness harness;
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(testing::first(sim::speech_fixture::caller_request, 1200ms)),
      sim::wait_for_agent_audio(600ms),
      sim::speak(testing::first(sim::speech_fixture::caller_interruption, 800ms)),
      sim::silence(200ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  REQUIRE(harness.server().calls().wait_for_finished(1, 30s).size() == 1);

  const auto response = harness.get(harness.server().port(), "/metrics");
  REQUIRE(response.status == 200);
  return response.body;
}

}  // namespace

// ---- the pure parts -------------------------------------------------------------------------

TEST_CASE("PromQL: the series an expression selects, and nothing else", "[observability]") {
  using names = std::set<std::string>;
  CHECK(promql_series_names("switchboard_active_calls > 250") == names{"switchboard_active_calls"});
  CHECK(promql_series_names("histogram_quantile(0.99, sum by (le, direction) "
                            "(rate(switchboard_bridge_latency_seconds_bucket{node=~\"$node\", "
                            "direction=\"to_model\"}[$__rate_interval])))") ==
        names{"switchboard_bridge_latency_seconds_bucket"});
  // Label lists after on/group_left are not metrics; both sides of the join are.
  CHECK(promql_series_names("rate(process_cpu_seconds_total[5m]) * on (job, instance) "
                            "group_left (node) switchboard_build_info{node=~\"${node}\"}") ==
        names{"process_cpu_seconds_total", "switchboard_build_info"});
  CHECK(promql_series_names("absent(up{job=\"switchboard\"} == 1)") == names{"up"});
  // Strings that look like selectors, trailing `by`, ignoring(), offset, set operators.
  CHECK(promql_series_names("sum(rate(a_total{x=\"rate(b_total[5m])\", y='}'}[5m])) by (code)\n"
                            "  / ignoring(code) c offset 1h > bool 0.5 unless d # e_total\n"
                            "  or count without (instance) (f) and topk(3, g)") ==
        names{"a_total", "c", "d", "f", "g"});
  CHECK(promql_series_names("time() - process_start_time_seconds") ==
        names{"process_start_time_seconds"});
  CHECK(promql_series_names("vector(1) + 1e3 - 5").empty());
  CHECK(promql_series_names("").empty());
}

TEST_CASE("PromQL: histogram and summary series belong to their family", "[observability]") {
  const std::map<std::string, std::string, std::less<>> families = {
      {"switchboard_bridge_latency_seconds", "histogram"},
      {"switchboard_calls_total", "counter"},
      {"rpc_seconds", "summary"},
      {"objects_count", "gauge"},
  };
  CHECK(family_of("switchboard_bridge_latency_seconds_bucket", families) ==
        "switchboard_bridge_latency_seconds");
  CHECK(family_of("switchboard_bridge_latency_seconds_sum", families) ==
        "switchboard_bridge_latency_seconds");
  CHECK(family_of("switchboard_bridge_latency_seconds_count", families) ==
        "switchboard_bridge_latency_seconds");
  CHECK(family_of("switchboard_calls_total", families) == "switchboard_calls_total");
  CHECK(family_of("rpc_seconds_count", families) == "rpc_seconds");
  // A family whose own name ends like a histogram series is itself.
  CHECK(family_of("objects_count", families) == "objects_count");
  // Suffixes only resolve to histograms (summaries have no buckets), and only to families
  // that exist.
  CHECK_FALSE(family_of("rpc_seconds_bucket", families).has_value());
  CHECK_FALSE(family_of("switchboard_calls_total_bucket", families).has_value());
  CHECK_FALSE(family_of("switchboard_bridge_latency_bucket", families).has_value());
  CHECK_FALSE(family_of("switchboard_missing", families).has_value());
}

TEST_CASE("exposition: the families are the # TYPE lines", "[observability]") {
  const auto families = family_types(
      "# HELP switchboard_active_calls Calls with an open media stream\n"
      "# TYPE switchboard_active_calls gauge\n"
      "switchboard_active_calls{node=\"a\"} 2\n"
      "# TYPE switchboard_bridge_latency_seconds histogram\n"
      "switchboard_bridge_latency_seconds_bucket{node=\"a\",le=\"0.001\"} 1\n"
      "# a comment\n");
  CHECK(families == std::map<std::string, std::string, std::less<>>{
                        {"switchboard_active_calls", "gauge"},
                        {"switchboard_bridge_latency_seconds", "histogram"}});
}

TEST_CASE("rules YAML: each expr, plain, quoted or block, and the spec as a groups file",
          "[observability]") {
  const std::string yaml =
      "apiVersion: monitoring.coreos.com/v1\n"
      "kind: PrometheusRule\n"
      "spec:\n"
      "  groups:\n"
      "    - name: g\n"
      "      rules:\n"
      "        - alert: A\n"
      "          expr: a > 1\n"
      "          for: 5m\n"
      "        - alert: B\n"
      "          expr: \"b == 0\"\n"
      "        - alert: C\n"
      "          expr: |\n"
      "            sum(c)\n"
      "\n"
      "              / sum(d)\n"
      "          labels:\n"
      "            severity: warning\n"
      "other: {}\n";
  CHECK(rule_expressions(yaml) ==
        std::vector<std::string>{"a > 1", "b == 0",
                                 "            sum(c)\n\n              / sum(d)\n"});
  const auto groups = spec_block(yaml);
  CHECK(groups.rfind("groups:\n  - name: g\n", 0) == 0);
  CHECK(groups.find("other:") == std::string::npos);
  CHECK(groups.find("\n        expr: |\n          sum(c)\n") != std::string::npos);
}

// ---- the assets -----------------------------------------------------------------------------

TEST_CASE("the dashboard is importable: panels with queries, datasource and node variables",
          "[observability]") {
  const auto dashboard = read_dashboard();
  CHECK(dashboard.panels >= 20);
  for (const auto& expr : dashboard.expressions) {
    INFO(expr);
    CHECK(!promql_series_names(expr).empty());
  }

  // Each query is valid PromQL once Grafana has filled in its variables: promtool parses them as
  // the expressions of recording rules.
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  for (std::size_t n = 0; n < dashboard.expressions.size(); ++n) {
    rules += "      - record: dashboard:query_" + std::to_string(n) + "\n        expr: |\n";
    for (const auto& line : lines_of(with_grafana_variables_filled_in(dashboard.expressions[n]))) {
      rules += "          " + line + "\n";
    }
  }
  const testing::temporary_directory scratch;
  const auto file = scratch.write("dashboard-queries.yaml", rules);
  const auto check = audio::test::run_command("promtool check rules " +
                                              audio::test::shell_quote(file.string()) + " 2>&1");
  INFO(check.output);
  CHECK(check.exit_status == 0);
  CHECK(check.output.find("SUCCESS: " + std::to_string(dashboard.expressions.size()) +
                          " rules found") != std::string::npos);
}

TEST_CASE("alerts carry severity, summary, description and runbook, and pass promtool check rules",
          "[observability]") {
  const auto yaml = read_text(observability_dir + "prometheus-rules.yaml");
  CHECK(yaml.find("apiVersion: monitoring.coreos.com/v1\n") != std::string::npos);
  CHECK(yaml.find("kind: PrometheusRule\n") != std::string::npos);

  // Each `- alert:` item up to the next one: what the on-call person sees must be there.
  const auto lines = lines_of(yaml);
  std::vector<std::string> alerts;
  std::map<std::string, std::string> body;
  for (const auto& line : lines) {
    const auto at = indentation(line);
    if (line.compare(at, 9, "- alert: ") == 0) {
      alerts.push_back(line.substr(at + 9));
    } else if (!alerts.empty()) {
      body[alerts.back()] += line + "\n";
    }
  }
  REQUIRE(alerts.size() >= 7);
  for (const auto& alert : alerts) {
    INFO("alert " << alert);
    const auto& text = body[alert];
    CHECK(text.find(" expr: ") != std::string::npos);
    CHECK((text.find(" severity: warning\n") != std::string::npos ||
           text.find(" severity: critical\n") != std::string::npos));
    CHECK(text.find(" summary: ") != std::string::npos);
    CHECK(text.find(" description: ") != std::string::npos);
    CHECK(text.find(" runbook: ") != std::string::npos);
  }
  CHECK(rule_expressions(yaml).size() == alerts.size());

  const testing::temporary_directory scratch;
  const auto groups = spec_block(yaml);
  REQUIRE(groups.rfind("groups:\n", 0) == 0);
  const auto file = scratch.write("switchboard-rules.yaml", groups);
  const auto check = audio::test::run_command("promtool check rules " +
                                              audio::test::shell_quote(file.string()) + " 2>&1");
  INFO(check.output);
  CHECK(check.exit_status == 0);
  CHECK(check.output.find("SUCCESS: " + std::to_string(alerts.size()) + " rules found") !=
        std::string::npos);
}

TEST_CASE("the upload backlog alert fires for a queue that only grows and not for a busy one",
          "[observability]") {
  const auto yaml = read_text(observability_dir + "prometheus-rules.yaml");
  std::string growing;
  for (const auto& expression : rule_expressions(yaml)) {
    if (expression.find("switchboard_upload_queue") != std::string::npos)
      growing = expression;
  }
  REQUIRE_FALSE(growing.empty());
  // Three pods over 90 minutes: one whose queue grows a file a minute, one always busy with
  // three files (uploads keep pace), one that emptied its queue.
  const std::string labels = R"(namespace="voice",node="switchboard-N",pod="switchboard-N")";
  const auto series = [&](char n) {
    auto text = labels;
    for (auto at = text.find('N'); at != std::string::npos; at = text.find('N', at))
      text[at] = n;
    return "switchboard_upload_queue{" + text + "}";
  };
  const testing::temporary_directory scratch;
  const auto test = scratch.write("upload-alert.test.yaml", R"(
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: ')" + series('0') + R"('
        values: '1+1x90'
      - series: ')" + series('1') + R"('
        values: '3x90'
      - series: ')" + series('2') + R"('
        values: '5-1x5 0x85'
    promql_expr_test:
      - expr: 'count by (pod) ()" + growing + R"()'
        eval_time: 60m
        exp_samples:
          - labels: '{pod="switchboard-0"}'
            value: 1
)");
  const auto check = audio::test::run_command("promtool test rules " +
                                              audio::test::shell_quote(test.string()) + " 2>&1");
  INFO(check.output);
  CHECK(check.exit_status == 0);
}

TEST_CASE("the ServiceMonitor scrapes the metrics port of switchboard's Service every 15 s",
          "[observability]") {
  const auto yaml = read_text(observability_dir + "servicemonitor.yaml");
  CHECK(yaml.find("apiVersion: monitoring.coreos.com/v1\n") != std::string::npos);
  CHECK(yaml.find("kind: ServiceMonitor\n") != std::string::npos);
  CHECK(yaml.find("    matchLabels:\n      app.kubernetes.io/name: switchboard\n") !=
        std::string::npos);
  CHECK(yaml.find("    - port: metrics\n      path: /metrics\n      interval: 15s\n") !=
        std::string::npos);
  // The alert rules select up{job="switchboard"}: the job label comes from the Service's name
  // label, whatever the Service is called.
  CHECK(yaml.find("  jobLabel: app.kubernetes.io/name\n") != std::string::npos);
}

TEST_CASE("every metric the dashboard and the alerts name is in a real scrape promtool accepts",
          "[observability][end_to_end]") {
  const auto scrape = scrape_after_a_call();
  const auto families = family_types(scrape);

  const testing::temporary_directory scratch;
  const auto scrape_file = scratch.write("scrape.txt", scrape);
  const auto lint = audio::test::run_command(
      "promtool check metrics < " + audio::test::shell_quote(scrape_file.string()) + " 2>&1");
  {
    INFO(lint.output);
    CHECK(lint.exit_status == 0);
  }

  std::set<std::string> used_families;
  for (const auto& [name, where] : names_in_assets()) {
    if (from_another_exporter(name)) {
      continue;
    }
    INFO(name << " (named in " << where << ")");
    const auto family = family_of(name, families);
    CHECK(family.has_value());
    if (family) {
      used_families.insert(*family);
    }
  }

  // The node variable lists the values of that label: the gauge must carry it.
  CHECK(scrape.find("\nswitchboard_active_calls{node=\"") != std::string::npos);

  // And the other way round: no switchboard metric is left off the dashboard and the alerts.
  for (const auto& [family, type] : families) {
    if (family.starts_with("switchboard_")) {
      INFO(family << " (" << type << ") is served but on no panel and in no alert");
      CHECK(used_families.contains(family));
    }
  }
}
