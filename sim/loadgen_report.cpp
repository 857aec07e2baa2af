// The load generator's report: a table for people, one JSON object for scripts (bench/ladder).
#include "sim/loadgen.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace switchboard::sim {

namespace {

std::string calls_text(std::size_t calls) {
  return std::to_string(calls) + (calls == 1 ? " call" : " calls");
}

std::string fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string exit_status_text(int status) {
  if (WIFEXITED(status))
    return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

/// A pretty-printed JSON object written field by field; numbers with fixed decimals (Boost.JSON
/// would print 0.51 as 5.1E-1).
class json_writer {
 public:
  json_writer() { text_ = "{"; }

  void open(std::string_view key) {
    write_key(key);
    text_ += "{";
    first_ = true;
    ++depth_;
  }
  void close() {
    --depth_;
    newline();
    text_ += "}";
    first_ = false;
  }
  void number(std::string_view key, double value, int decimals) {
    write_key(key);
    text_ += std::isfinite(value) ? fixed(value, decimals) : "null";
  }
  void count(std::string_view key, std::uint64_t value) {
    write_key(key);
    text_ += std::to_string(value);
  }
  void flag(std::string_view key, bool value) {
    write_key(key);
    text_ += value ? "true" : "false";
  }
  void string(std::string_view key, std::string_view value) {
    write_key(key);
    quote(value);
  }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    write_key(key);
    text_ += "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0)
        text_ += ", ";
      quote(values[i]);
    }
    text_ += "]";
  }
  void null(std::string_view key) {
    write_key(key);
    text_ += "null";
  }
  std::string finish() {
    newline_at(0);
    text_ += "}\n";
    return std::move(text_);
  }

 private:
  void newline() { newline_at(depth_); }
  void newline_at(int depth) {
    text_ += "\n";
    text_.append(static_cast<std::size_t>(2 * depth), ' ');
  }
  void write_key(std::string_view key) {
    if (!first_)
      text_ += ",";
    first_ = false;
    newline();
    quote(key);
    text_ += ": ";
  }
  void quote(std::string_view value) {
    text_ += '"';
    for (const char c : value) {
      switch (c) {
        case '"':
          text_ += "\\\"";
          break;
        case '\\':
          text_ += "\\\\";
          break;
        case '\n':
          text_ += "\\n";
          break;
        case '\t':
          text_ += "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
            text_ += escaped;
          } else {
            text_ += c;
          }
      }
    }
    text_ += '"';
  }

  std::string text_;
  int depth_ = 1;
  bool first_ = true;
};

void write_leg(json_writer& json, std::string_view key, const leg_figures& leg) {
  json.open(key);
  json.count("frames", leg.sent);
  json.count("matched", leg.matched);
  json.count("lost", leg.lost);
  json.number("p50_ms", leg.latency.p50_ms, 3);
  json.number("p95_ms", leg.latency.p95_ms, 3);
  json.number("p99_ms", leg.latency.p99_ms, 3);
  json.number("max_ms", leg.latency.max_ms, 3);
  json.close();
}

std::string leg_row(std::string_view name, const leg_figures& leg) {
  char line[160];
  std::snprintf(line, sizeof line, "%-16s %10llu %10llu %8llu %8.2f %8.2f %8.2f %8.2f\n",
                std::string(name).c_str(), static_cast<unsigned long long>(leg.sent),
                static_cast<unsigned long long>(leg.matched),
                static_cast<unsigned long long>(leg.lost), leg.latency.p50_ms, leg.latency.p95_ms,
                leg.latency.p99_ms, leg.latency.max_ms);
  return line;
}

}  // namespace

void print_loadgen_report(std::ostream& out, const loadgen_report& report) {
  char line[320];
  out << "\nswitchboard loadgen: " << calls_text(report.calls) << " x " << report.seconds << " s ("
      << to_string(report.pattern) << ", model over " << (report.model_tls ? "wss" : "ws")
      << "://, recordings " << (report.recordings ? "on" : "off") << "), ramp "
      << report.ramp_per_second << "/s, server " << report.server << "\n";
  std::snprintf(line, sizeof line,
                "steady window %.1f s, %zu..%zu calls streaming\n\n"
                "%-16s %10s %10s %8s %8s %8s %8s %8s  (ms)\n",
                report.window_seconds, report.streaming_at_window_start,
                report.streaming_at_window_end, "", "frames", "matched", "lost", "p50", "p95",
                "p99", "max");
  out << line;
  out << leg_row("round trip", report.round_trip) << leg_row("caller -> model", report.inbound)
      << leg_row("model -> caller", report.outbound);

  const auto& delivery = report.delivery;
  const auto& anomalies = report.anomalies;
  std::snprintf(line, sizeof line,
                "\nframes, whole run: %llu sent, %llu came back; lost %llu before a call's first "
                "echo, %llu after; duplicated %llu, reordered %llu, to the wrong call %llu\n",
                static_cast<unsigned long long>(delivery.sent),
                static_cast<unsigned long long>(delivery.returned),
                static_cast<unsigned long long>(delivery.lost_before_first_echo),
                static_cast<unsigned long long>(delivery.lost_after_first_echo),
                static_cast<unsigned long long>(anomalies.duplicated),
                static_cast<unsigned long long>(anomalies.reordered),
                static_cast<unsigned long long>(anomalies.wrong_call));
  out << line;
  if (anomalies.duplicated_at_model + anomalies.foreign + delivery.calls_without_echo > 0) {
    std::snprintf(line, sizeof line,
                  "  also: %llu duplicated at the model, %llu corrupted markers, %llu calls got "
                  "nothing back\n",
                  static_cast<unsigned long long>(anomalies.duplicated_at_model),
                  static_cast<unsigned long long>(anomalies.foreign),
                  static_cast<unsigned long long>(delivery.calls_without_echo));
    out << line;
  }

  if (const auto& server = report.server_figures) {
    std::snprintf(line, sizeof line,
                  "server (pid %d): %.1f %% of a core (idle %.1f %%) -> %.3f %% of a core per "
                  "call; per call-minute %.3f s user + %.3f s system\n",
                  static_cast<int>(server->pid), server->cpu_core_pct, server->idle_cpu_core_pct,
                  server->cpu_core_pct_per_call, server->user_seconds_per_call_minute,
                  server->system_seconds_per_call_minute);
    out << line;
    std::snprintf(line, sizeof line,
                  "  RSS idle %.1f MiB, steady %.1f MiB, after %.1f MiB -> %.0f KiB per call; "
                  "%llu threads\n",
                  static_cast<double>(server->rss_idle_kib) / 1024,
                  static_cast<double>(server->rss_steady_kib) / 1024,
                  static_cast<double>(server->rss_after_kib) / 1024, server->rss_per_call_kib,
                  static_cast<unsigned long long>(server->threads));
    out << line;
    if (server->log_warnings) {
      out << "  log: " << *server->log_warnings << " lines at warn or above";
      if (server->exit_status)
        out << "; " << exit_status_text(*server->exit_status) << " after SIGTERM";
      out << "\n";
      for (const auto& warning : server->first_warnings)
        out << "    " << warning << "\n";
    }
  } else {
    out << "server: not measured (no --server-pid, or its /proc could not be read)\n";
  }

  const auto& self = report.self;
  std::snprintf(line, sizeof line,
                "loadgen: %.1f %% of a core (callers' thread %.1f %%, model's %.1f %%) -> %.4f %% "
                "per call; RSS %.1f MiB; frames sent late p50 %.2f / p99 %.2f / max %.2f ms\n",
                self.cpu_core_pct, self.caller_thread_pct, self.model_thread_pct,
                self.cpu_core_pct_per_call, static_cast<double>(self.rss_kib) / 1024,
                self.send_lateness.p50_ms, self.send_lateness.p99_ms, self.send_lateness.max_ms);
  out << line;
  out << "calls: " << report.calls << " offered, " << report.calls_admitted << " admitted, "
      << report.calls_refused << " refused; " << report.calls_completed << " of "
      << report.calls_admitted << " admitted completed"
      << (report.timed_out ? " (timed out: the rest were hung up)" : "") << "\n";
  if (report.calls_refused > 0)
    out << "  refused calls heard: \"" << report.refusal_message << "\"\n";
  for (const auto& failure : report.failures)
    out << "  " << failure << "\n";
  if (self.bottleneck) {
    out << "\nWARNING: the load generator was the bottleneck; do not believe these figures:\n";
    for (const auto& why : self.bottleneck_reasons)
      out << "  - " << why << "\n";
  }
}

std::string loadgen_report_json(const loadgen_report& report) {
  json_writer json;
  json.count("calls", report.calls);
  json.count("seconds", report.seconds);
  json.number("ramp_per_second", report.ramp_per_second, 2);
  json.string("pattern", to_string(report.pattern));
  json.string("model", report.model_tls ? "wss" : "ws");
  json.flag("recordings", report.recordings);
  json.string("server", report.server);
  json.string("model_url", report.model_url);
  json.count("calls_admitted", report.calls_admitted);
  json.count("calls_refused", report.calls_refused);
  json.string("refusal_message", report.refusal_message);
  json.count("calls_completed", report.calls_completed);
  json.flag("timed_out", report.timed_out);
  json.strings("failures", report.failures);

  json.open("window");
  json.number("seconds", report.window_seconds, 2);
  json.count("streaming_at_start", report.streaming_at_window_start);
  json.count("streaming_at_end", report.streaming_at_window_end);
  json.close();
  write_leg(json, "round_trip", report.round_trip);
  write_leg(json, "inbound", report.inbound);
  write_leg(json, "outbound", report.outbound);

  json.open("frames");
  json.count("sent", report.delivery.sent);
  json.count("returned", report.delivery.returned);
  json.count("lost", report.delivery.lost());
  json.count("lost_before_first_echo", report.delivery.lost_before_first_echo);
  json.count("lost_after_first_echo", report.delivery.lost_after_first_echo);
  json.count("calls_without_echo", report.delivery.calls_without_echo);
  json.count("duplicated", report.anomalies.duplicated);
  json.count("reordered", report.anomalies.reordered);
  json.count("wrong_call", report.anomalies.wrong_call);
  json.count("duplicated_at_model", report.anomalies.duplicated_at_model);
  json.count("corrupted_markers", report.anomalies.foreign);
  json.close();

  if (const auto& server = report.server_figures) {
    json.open("server");
    json.count("pid", static_cast<std::uint64_t>(server->pid));
    json.number("cpu_core_pct", server->cpu_core_pct, 2);
    json.number("idle_cpu_core_pct", server->idle_cpu_core_pct, 2);
    json.number("cpu_core_pct_per_call", server->cpu_core_pct_per_call, 4);
    json.number("user_seconds_per_call_minute", server->user_seconds_per_call_minute, 4);
    json.number("system_seconds_per_call_minute", server->system_seconds_per_call_minute, 4);
    json.count("rss_idle_kib", server->rss_idle_kib);
    json.count("rss_steady_kib", server->rss_steady_kib);
    json.count("rss_after_kib", server->rss_after_kib);
    json.number("rss_per_call_kib", server->rss_per_call_kib, 1);
    json.count("threads", server->threads);
    if (server->log_warnings)
      json.count("log_warnings", *server->log_warnings);
    if (server->exit_status)
      json.string("exit", exit_status_text(*server->exit_status));
    json.close();
  } else {
    json.null("server");
  }

  const auto& self = report.self;
  json.open("loadgen");
  json.number("cpu_core_pct", self.cpu_core_pct, 2);
  json.number("cpu_core_pct_per_call", self.cpu_core_pct_per_call, 4);
  json.number("caller_thread_pct", self.caller_thread_pct, 2);
  json.number("model_thread_pct", self.model_thread_pct, 2);
  json.count("rss_kib", self.rss_kib);
  json.open("send_lateness");
  json.number("p50_ms", self.send_lateness.p50_ms, 3);
  json.number("p99_ms", self.send_lateness.p99_ms, 3);
  json.number("max_ms", self.send_lateness.max_ms, 3);
  json.close();
  json.strings("bottleneck_reasons", self.bottleneck_reasons);
  json.close();
  json.flag("loadgen_bottleneck", self.bottleneck);
  return json.finish();
}

}  // namespace switchboard::sim
