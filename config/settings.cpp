#include "config/settings.hpp"

#include "config/dotenv.hpp"
#include "config/read_file.hpp"
#include "config/tools_file.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/scheme.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <set>
#include <utility>

namespace switchboard::config {
namespace {

using problem = std::optional<std::string>;

std::string to_lower(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lowered;
}

std::string join(std::span<const std::string_view> words, std::string_view separator) {
  std::string joined;
  for (const auto word : words) {
    if (!joined.empty()) {
      joined += separator;
    }
    joined += word;
  }
  return joined;
}

// Digits only: from_chars alone would accept "-0" for nothing and we also reject "+5", " 5",
// "5x" and values that overflow, which from_chars reports as out of range.
problem parse_integer(std::string_view text, unsigned long minimum, unsigned long maximum,
                      unsigned long& out) {
  const auto expected =
      "not a number in " + std::to_string(minimum) + ".." + std::to_string(maximum);
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return expected;
  }
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < minimum ||
      value > maximum) {
    return expected;
  }
  out = value;
  return std::nullopt;
}

problem parse_port(std::string_view text, unsigned long minimum, std::uint16_t& out) {
  unsigned long value = 0;
  if (auto why = parse_integer(text, minimum, 65535, value)) {
    return why;
  }
  out = static_cast<std::uint16_t>(value);
  return std::nullopt;
}

problem parse_bool(std::string_view text, bool& out) {
  const auto word = to_lower(text);
  if (word == "true" || word == "1" || word == "yes" || word == "on") {
    out = true;
    return std::nullopt;
  }
  if (word == "false" || word == "0" || word == "no" || word == "off") {
    out = false;
    return std::nullopt;
  }
  return "not a boolean (true/false, 1/0, yes/no, on/off)";
}

// Case-insensitive choice among `names`; `out` is the index of the match.
problem parse_choice(std::string_view text, std::span<const std::string_view> names,
                     std::size_t& out) {
  const auto word = to_lower(text);
  const auto found = std::find(names.begin(), names.end(), word);
  if (found == names.end()) {
    return "not one of " + join(names, ", ");
  }
  out = static_cast<std::size_t>(found - names.begin());
  return std::nullopt;
}

constexpr std::array<std::string_view, 2> log_format_names{"text", "json"};
constexpr std::array<std::string_view, 7> log_level_names{"trace", "debug",    "info", "warn",
                                                          "error", "critical", "off"};
constexpr std::array<std::string_view, 2> turn_detection_names{"server_vad", "semantic_vad"};
// Realtime GA voices (shared/reference/protocols.md, B3).
constexpr std::array<std::string_view, 10> voice_names{
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"};

template <class Enum, std::size_t count>
problem parse_enum(std::string_view text, const std::array<std::string_view, count>& names,
                   Enum& out) {
  std::size_t index = 0;
  if (auto why = parse_choice(text, names, index)) {
    return why;
  }
  out = static_cast<Enum>(index);
  return std::nullopt;
}

struct url_rules {
  std::string_view schemes;  // for the message, e.g. "http or https"
  boost::urls::scheme first;
  boost::urls::scheme second;
  bool allow_query = false;
  bool strip_trailing_slash = false;
};

constexpr url_rules http_url{"http or https", boost::urls::scheme::http, boost::urls::scheme::https,
                             false, true};
constexpr url_rules websocket_url{"wss or ws", boost::urls::scheme::wss, boost::urls::scheme::ws,
                                  true, false};
// Twilio drops a stream URL's query string, so a stream URL has none.
constexpr url_rules stream_url{"wss or ws", boost::urls::scheme::wss, boost::urls::scheme::ws,
                               false, false};

problem parse_url(std::string_view text, const url_rules& rules, std::string& out) {
  const auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) {
    return "not an absolute " + std::string(rules.schemes) + " URL";
  }
  const auto& url = *parsed;
  if (url.scheme_id() != rules.first && url.scheme_id() != rules.second) {
    return "scheme must be " + std::string(rules.schemes);
  }
  if (!url.has_authority() || url.encoded_host().empty()) {
    return "URL has no host";
  }
  if (url.has_userinfo()) {
    return "URL must not contain user info (credentials go in their own settings)";
  }
  if (url.has_query() && !rules.allow_query) {
    return "URL must not have a query (?...)";
  }
  if (url.has_fragment()) {
    return "URL must not have a fragment (#...)";
  }
  std::string normalised(text);
  while (rules.strip_trailing_slash && normalised.ends_with('/')) {
    normalised.pop_back();
  }
  out = std::move(normalised);
  return std::nullopt;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Secrets end up in HTTP headers: whitespace or a control character there is a copy-paste
// mistake and, for CR/LF, a header injection. The reason never quotes the value.
problem parse_secret(std::string_view text, std::string& out) {
  const bool clean = std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte != 0x7f;
  });
  if (!clean) {
    return "contains whitespace or control characters (a stray newline or space?)";
  }
  out = std::string(text);
  return std::nullopt;
}

// s3://bucket[/prefix]: the bucket by S3's naming rules (3-63 lower-case letters, digits, dots
// and hyphens, a letter or digit at each end); the prefix without leading or trailing '/'.
// Normalised to "s3://bucket/prefix" ("s3://bucket" without one).
problem parse_bucket_url(std::string_view text, std::string& out) {
  if (text.empty()) {
    out.clear();
    return std::nullopt;
  }
  constexpr std::string_view scheme = "s3://";
  if (!text.starts_with(scheme)) {
    return "not s3://bucket/prefix";
  }
  const auto rest = text.substr(scheme.size());
  const auto slash = rest.find('/');
  const auto bucket = rest.substr(0, slash);
  const auto bucket_char = [](char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '.' || c == '-';
  };
  const auto end_char = [](char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c);
  };
  if (bucket.size() < 3 || bucket.size() > 63 ||
      !std::all_of(bucket.begin(), bucket.end(), bucket_char) || !end_char(bucket.front()) ||
      !end_char(bucket.back())) {
    return "bucket name must be 3-63 lower-case letters, digits, dots and hyphens";
  }
  auto prefix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  while (prefix.starts_with('/'))
    prefix.remove_prefix(1);
  while (prefix.ends_with('/'))
    prefix.remove_suffix(1);
  const bool clean = std::all_of(prefix.begin(), prefix.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f && c != '\\' && c != '?' && c != '#';
  });
  if (!clean || prefix.find("//") != std::string_view::npos) {
    return "prefix must be printable ASCII without spaces, '?', '#', '\\' or empty segments";
  }
  out = std::string(scheme) + std::string(bucket);
  if (!prefix.empty())
    out += "/" + std::string(prefix);
  return std::nullopt;
}

// An AWS region name: lower-case letters, digits and hyphens ("eu-west-3"), or empty.
problem parse_region(std::string_view text, std::string& out) {
  const bool valid = text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
                     });
  if (!valid) {
    return "not a region name (lower-case letters, digits and hyphens, e.g. eu-west-3)";
  }
  out = std::string(text);
  return std::nullopt;
}

problem parse_account_sid(std::string_view text, std::string& out) {
  // Twilio's OpenAPI pattern ^AC[0-9a-fA-F]{32}$ (shared/reference/protocols.md, A2).
  const bool valid = text.empty() || (text.size() == 34 && text.starts_with("AC") &&
                                      std::all_of(text.begin() + 2, text.end(), is_hex));
  if (!valid) {
    return "not an account SID (AC followed by 32 hex digits)";
  }
  out = std::string(text);
  return std::nullopt;
}

problem parse_phone_number(std::string_view text, std::string& out) {
  // E.164: "+", a country code that never starts with 0, at most 15 digits in all.
  const auto digits = text.empty() ? std::string_view{} : text.substr(1);
  const bool valid = text.empty() ||
                     (text.front() == '+' && digits.size() >= 8 && digits.size() <= 15 &&
                      digits.front() != '0' && std::all_of(digits.begin(), digits.end(), is_digit));
  if (!valid) {
    return "not an E.164 number (+ and 8 to 15 digits, e.g. +14155550100)";
  }
  out = std::string(text);
  return std::nullopt;
}

problem parse_model_name(std::string_view text, std::string& out) {
  const bool valid = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
           c == '_' || c == '-';
  });
  if (!valid) {
    return "not a model name (letters, digits, '.', '_', '-'), e.g. whisper-1; empty = off";
  }
  out = std::string(text);
  return std::nullopt;
}

problem parse_bind_address(std::string_view text, std::string& out) {
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(std::string(text), error);
  if (error) {
    return "not an IPv4 or IPv6 address (e.g. 0.0.0.0 or ::)";
  }
  out = address.to_string();
  return std::nullopt;
}

// A PEM file path of the cluster's TLS; empty = unset. Read by validate(), not here.
problem parse_tls_path(std::string_view text, std::filesystem::path& out) {
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    return "a file path without line breaks";
  }
  out = std::filesystem::path(text);
  return std::nullopt;
}

std::string port_text(std::uint16_t port) {
  return std::to_string(port);
}

// Text the agent or Twilio says to a caller (FULL_MESSAGE, DRAIN_MESSAGE).
problem parse_spoken_message(std::string_view text, std::string& out) {
  if (text.empty() || text.size() > 1024) {
    return "must be 1 to 1024 bytes";
  }
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return "must not contain control characters";
  }
  out = std::string(text);
  return std::nullopt;
}

// Instructions from a file usually end with the editor's newline; it carries no meaning.
std::string without_trailing_whitespace(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// The setting table: the only place that lists settings. Order = documentation order.
// ---------------------------------------------------------------------------------------------
constexpr std::array descriptors{
    setting_descriptor{
        "PORT", "5050",
        "TCP port of the HTTP and WebSocket listener; 0 = any free port (logged at start-up).",
        "<0-65535>", false, false,
        [](std::string_view text, settings& out) { return parse_port(text, 0, out.port); },
        [](const settings& in) {
          return port_text(in.port);
        }},
    setting_descriptor{"BIND_ADDRESS", "0.0.0.0",
                       "IP address the listeners bind to (0.0.0.0 or :: = all).", "<ip>", false,
                       false,
                       [](std::string_view text, settings& out) {
                         return parse_bind_address(text, out.bind_address);
                       },
                       [](const settings& in) {
                         return in.bind_address;
                       }},
    setting_descriptor{
        "PUBLIC_URL", "",
        "Public base URL of this server as Twilio reaches it, e.g. https://voice.example.com "
        "(http(s), no query or fragment).",
        "<url>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.public_url.reset();
            return std::nullopt;
          }
          std::string url;
          if (auto why = parse_url(text, http_url, url)) {
            return why;
          }
          out.public_url = std::move(url);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.public_url.value_or("");
        }},
    setting_descriptor{
        "IO_THREADS", "0",
        "Network I/O threads, each with its own event loop, which also run the actors; a call's "
        "sockets, actors and timers stay on the thread that accepted its stream; 0 = one per CPU "
        "core (0-64).",
        "<0-64>", false, false,
        [](std::string_view text, settings& out) -> problem {
          unsigned long threads = 0;
          if (auto why = parse_integer(text, 0, 64, threads)) {
            return why;
          }
          out.io_threads = static_cast<unsigned>(threads);
          return std::nullopt;
        },
        [](const settings& in) {
          return std::to_string(in.io_threads);
        }},
    setting_descriptor{
        "METRICS_PORT", "",
        "Own listener for Prometheus /metrics (and the probes), off the public port; 0 = any "
        "free port (logged). Unset: /metrics is served on PORT.",
        "<0-65535>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.metrics_port.reset();
            return std::nullopt;
          }
          std::uint16_t port = 0;
          if (auto why = parse_port(text, 0, port)) {
            return why;
          }
          out.metrics_port = port;
          return std::nullopt;
        },
        [](const settings& in) {
          return in.metrics_port ? port_text(*in.metrics_port) : std::string{};
        }},
    setting_descriptor{
        "NODE_NAME", "",
        "This node's name in the `node` label of every metric (in Kubernetes: the pod name). "
        "Unset: the host name.",
        "<name>", false, false,
        [](std::string_view text, settings& out) -> problem {
          const bool valid_characters = std::all_of(text.begin(), text.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' ||
                   c == '_';
          });
          if (text.size() > 253 || !valid_characters) {
            return "expected up to 253 letters, digits, '-', '.' or '_' (a host or pod name)";
          }
          out.node_name = std::string(text);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.node_name;
        }},
    setting_descriptor{
        "NODE_STREAM_URL", "",
        "This node's own media-stream URL as Twilio reaches it (wss://, ending in /media-stream; "
        "in Kubernetes its per-pod route): named in its TwiML, checked in stream signatures, "
        "advertised to peers. Unset: PUBLIC_URL's host.",
        "<url>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.node_stream_url.clear();
            return std::nullopt;
          }
          std::string url;
          if (auto why = parse_url(text, stream_url, url)) {
            return why;
          }
          // The node serves streams at /media-stream only; a prefix in front of it is the
          // ingress's to strip.
          const auto path = boost::urls::parse_absolute_uri(url)->encoded_path();
          if (!std::string_view(path.data(), path.size()).ends_with("/media-stream")) {
            return "the path must end in /media-stream, e.g. "
                   "wss://switchboard-0.voice.example.com/media-stream";
          }
          out.node_stream_url = std::move(url);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.node_stream_url;
        }},
    setting_descriptor{
        "CLUSTER_PORT", "",
        "TCP port of the cluster link between nodes (CAF's network layer); 0 = any free port "
        "(logged). Unset: this node runs alone.",
        "<0-65535>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.cluster_port.reset();
            return std::nullopt;
          }
          std::uint16_t port = 0;
          if (auto why = parse_port(text, 0, port)) {
            return why;
          }
          out.cluster_port = port;
          return std::nullopt;
        },
        [](const settings& in) {
          return in.cluster_port ? port_text(*in.cluster_port) : std::string{};
        }},
    setting_descriptor{"CLUSTER_BIND", "",
                       "IP address the cluster port binds to; unset: BIND_ADDRESS.", "<ip>", false,
                       false,
                       [](std::string_view text, settings& out) -> problem {
                         if (text.empty()) {
                           out.cluster_bind.clear();
                           return std::nullopt;
                         }
                         return parse_bind_address(text, out.cluster_bind);
                       },
                       [](const settings& in) {
                         return in.cluster_bind;
                       }},
    setting_descriptor{
        "CLUSTER_SEEDS", "",
        "Comma-separated host:port of cluster nodes to join; the others are learnt from them.",
        "<host:port,...>", false, false,
        [](std::string_view text, settings& out) -> problem {
          out.cluster_seeds.clear();
          std::size_t start = 0;
          while (start <= text.size() && !text.empty()) {
            const auto comma = std::min(text.find(',', start), text.size());
            const auto seed = text.substr(start, comma - start);
            const auto colon = seed.rfind(':');
            std::uint16_t port = 0;
            if (colon == std::string_view::npos || colon == 0 ||
                parse_port(seed.substr(colon + 1), 1, port)) {
              return "'" + std::string(seed) + "' is not host:port (port 1-65535)";
            }
            out.cluster_seeds.emplace_back(seed);
            start = comma + 1;
          }
          return std::nullopt;
        },
        [](const settings& in) {
          std::string joined;
          for (const auto& seed : in.cluster_seeds)
            joined += (joined.empty() ? "" : ",") + seed;
          return joined;
        }},
    setting_descriptor{
        "CLUSTER_DNS", "",
        "DNS name whose every address is a cluster node on CLUSTER_PORT (e.g. a Kubernetes "
        "headless Service), resolved every 5 s; with or instead of CLUSTER_SEEDS.",
        "<host name>", false, false,
        [](std::string_view text, settings& out) -> problem {
          // RFC 1123 host name characters: the name goes to the resolver and into logs.
          const bool plausible =
              text.size() <= 253 && std::all_of(text.begin(), text.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
              });
          if (!plausible)
            return "'" + std::string(text) + "' is not a host name";
          out.cluster_dns = std::string(text);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.cluster_dns;
        }},
    setting_descriptor{
        "CLUSTER_INSECURE", "false",
        "INSECURE: run the cluster link without TLS; anyone who reaches CLUSTER_PORT can send "
        "this node messages.",
        "<bool>", false, true,
        [](std::string_view text, settings& out) { return parse_bool(text, out.cluster_insecure); },
        [](const settings& in) {
          return std::string(in.cluster_insecure ? "true" : "false");
        }},
    setting_descriptor{"CLUSTER_TLS_CERT", "",
                       "PEM certificate (chain) this node presents on the cluster link; with "
                       "CLUSTER_TLS_KEY and CLUSTER_TLS_CA.",
                       "<path>", false, false,
                       [](std::string_view text, settings& out) {
                         return parse_tls_path(text, out.cluster_tls_cert);
                       },
                       [](const settings& in) {
                         return in.cluster_tls_cert.string();
                       }},
    setting_descriptor{"CLUSTER_TLS_KEY", "", "PEM private key of CLUSTER_TLS_CERT.", "<path>",
                       false, false,
                       [](std::string_view text, settings& out) {
                         return parse_tls_path(text, out.cluster_tls_key);
                       },
                       [](const settings& in) {
                         return in.cluster_tls_key.string();
                       }},
    setting_descriptor{"CLUSTER_TLS_CA", "",
                       "PEM CA certificate(s) a peer's certificate must chain to (mutual TLS).",
                       "<path>", false, false,
                       [](std::string_view text, settings& out) {
                         return parse_tls_path(text, out.cluster_tls_ca);
                       },
                       [](const settings& in) {
                         return in.cluster_tls_ca.string();
                       }},
    setting_descriptor{
        "OPENAI_API_KEY", "", "OpenAI API key for the Realtime API.", "<key>", true, false,
        [](std::string_view text, settings& out) { return parse_secret(text, out.openai_api_key); },
        [](const settings& in) {
          return in.openai_api_key;
        }},
    setting_descriptor{"OPENAI_REALTIME_URL", default_openai_realtime_url,
                       "Realtime WebSocket URL (wss:// or ws://), model in the query.", "<url>",
                       false, false,
                       [](std::string_view text, settings& out) {
                         return parse_url(text, websocket_url, out.openai_realtime_url);
                       },
                       [](const settings& in) {
                         return in.openai_realtime_url;
                       }},
    setting_descriptor{
        "OPENAI_VOICE", "marin",
        "Voice of the agent: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin or "
        "cedar.",
        "<voice>", false, false,
        [](std::string_view text, settings& out) -> problem {
          std::size_t index = 0;
          if (auto why = parse_choice(text, voice_names, index)) {
            return why;
          }
          out.openai_voice = std::string(voice_names[index]);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.openai_voice;
        }},
    setting_descriptor{"OPENAI_INSTRUCTIONS", default_openai_instructions,
                       "System prompt of the agent. Exclusive with OPENAI_INSTRUCTIONS_FILE.",
                       "<text>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         out.openai_instructions = std::string(text);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return in.openai_instructions;
                       }},
    setting_descriptor{
        "OPENAI_INSTRUCTIONS_FILE", "",
        "File whose contents are the system prompt. Exclusive with OPENAI_INSTRUCTIONS.", "<path>",
        false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.openai_instructions_file.reset();
          } else {
            out.openai_instructions_file = std::filesystem::path(text);
          }
          return std::nullopt;
        },
        [](const settings& in) {
          return in.openai_instructions_file ? in.openai_instructions_file->string()
                                             : std::string{};
        }},
    setting_descriptor{
        "OPENAI_TURN_DETECTION", "server_vad",
        "How the model detects the end of the caller's turn: server_vad or semantic_vad.", "<mode>",
        false, false,
        [](std::string_view text, settings& out) {
          return parse_enum(text, turn_detection_names, out.openai_turn_detection);
        },
        [](const settings& in) {
          return std::string(to_string(in.openai_turn_detection));
        }},
    setting_descriptor{"OPENAI_TRANSCRIPTION_MODEL", "whisper-1",
                       "Model that transcribes the caller for the logs; empty = no transcription.",
                       "<model>", false, false,
                       [](std::string_view text, settings& out) {
                         return parse_model_name(text, out.openai_transcription_model);
                       },
                       [](const settings& in) {
                         return in.openai_transcription_model;
                       }},
    setting_descriptor{"MODEL_READY_TIMEOUT", "5",
                       "Seconds a new model connection has to answer the session's "
                       "configuration (session.updated) before it counts as failed and is "
                       "retried; the API answers within a second.",
                       "<1-60>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 1, 60, seconds)) {
                           return why;
                         }
                         out.model_ready_timeout_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.model_ready_timeout_s);
                       }},
    setting_descriptor{"MODEL_SILENCE_TIMEOUT", "20",
                       "Seconds the model may send nothing at all while the caller's audio "
                       "flows in before its connection counts as lost and is re-established "
                       "(half-way it is asked for a sign of life). 0: off.",
                       "<0, 2-600>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 0, 600, seconds)) {
                           return why;
                         }
                         if (seconds == 1) {
                           return "must be 0 (off) or at least 2";
                         }
                         out.model_silence_timeout_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.model_silence_timeout_s);
                       }},
    setting_descriptor{
        "TOOLS_FILE", "",
        "JSON file of the tools (HTTP endpoints) the agent may call besides end_call and "
        "transfer_call: {\"tools\":[{name, description, parameters, url, timeout_ms}]}.",
        "<path>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.tools_file.reset();
          } else {
            out.tools_file = std::filesystem::path(text);
          }
          return std::nullopt;
        },
        [](const settings& in) {
          return in.tools_file ? in.tools_file->string() : std::string{};
        }},
    setting_descriptor{"TRANSFER_TO", "",
                       "E.164 number transfer_call dials when the agent names none; unset: the "
                       "agent must name the number.",
                       "<number>", false, false,
                       [](std::string_view text, settings& out) {
                         return parse_phone_number(text, out.transfer_to);
                       },
                       [](const settings& in) {
                         return in.transfer_to;
                       }},
    setting_descriptor{"TWILIO_ACCOUNT_SID", "",
                       "Twilio account SID (AC + 32 hex digits), for the REST API.", "<sid>", false,
                       false,
                       [](std::string_view text, settings& out) {
                         return parse_account_sid(text, out.twilio_account_sid);
                       },
                       [](const settings& in) {
                         return in.twilio_account_sid;
                       }},
    setting_descriptor{
        "TWILIO_AUTH_TOKEN", "",
        "Twilio auth token: verifies webhook signatures and authenticates REST calls.", "<token>",
        true, false,
        [](std::string_view text, settings& out) {
          return parse_secret(text, out.twilio_auth_token);
        },
        [](const settings& in) {
          return in.twilio_auth_token;
        }},
    setting_descriptor{"TWILIO_PHONE_NUMBER", "",
                       "Twilio number for outbound calls, E.164 (e.g. +14155550100).", "<number>",
                       false, false,
                       [](std::string_view text, settings& out) {
                         return parse_phone_number(text, out.twilio_phone_number);
                       },
                       [](const settings& in) {
                         return in.twilio_phone_number;
                       }},
    setting_descriptor{"TWILIO_API_BASE", "https://api.twilio.com",
                       "Base URL of the Twilio REST API (http(s); a local fake in tests).", "<url>",
                       false, false,
                       [](std::string_view text, settings& out) {
                         return parse_url(text, http_url, out.twilio_api_base);
                       },
                       [](const settings& in) {
                         return in.twilio_api_base;
                       }},
    setting_descriptor{
        "ALLOW_UNSIGNED_TWILIO", "false",
        "INSECURE: accept Twilio webhooks without checking signatures, so the server runs "
        "without TWILIO_AUTH_TOKEN.",
        "<bool>", false, true,
        [](std::string_view text, settings& out) {
          return parse_bool(text, out.allow_unsigned_twilio);
        },
        [](const settings& in) {
          return std::string(in.allow_unsigned_twilio ? "true" : "false");
        }},
    setting_descriptor{
        "API_TOKEN", "",
        "Bearer token of the call API (POST /calls); unset: outbound calls are off. Use a long "
        "random value: this API places calls at your expense.",
        "<token>", true, false,
        [](std::string_view text, settings& out) { return parse_secret(text, out.api_token); },
        [](const settings& in) {
          return in.api_token;
        }},
    setting_descriptor{
        "ALLOWED_DESTINATIONS", "",
        "Comma-separated E.164 prefixes outbound calls may dial, e.g. +1,+4420; unset: none.",
        "<prefixes>", false, false,
        [](std::string_view text, settings& out) -> problem {
          out.allowed_destinations.clear();
          std::size_t start = 0;
          while (start <= text.size() && !text.empty()) {
            const auto comma = std::min(text.find(',', start), text.size());
            const auto prefix = text.substr(start, comma - start);
            const bool valid = prefix.size() >= 2 && prefix.size() <= 16 && prefix[0] == '+' &&
                               prefix[1] != '0' &&
                               std::all_of(prefix.begin() + 1, prefix.end(),
                                           [](char c) { return c >= '0' && c <= '9'; });
            if (!valid) {
              return "'" + std::string(prefix) +
                     "' is not an E.164 prefix ('+' and 1 to 15 digits, no leading 0)";
            }
            out.allowed_destinations.emplace_back(prefix);
            start = comma + 1;
          }
          return std::nullopt;
        },
        [](const settings& in) {
          std::string joined;
          for (const auto& prefix : in.allowed_destinations)
            joined += (joined.empty() ? "" : ",") + prefix;
          return joined;
        }},
    setting_descriptor{
        "CALLS_PER_MINUTE", "10",
        "Outbound calls POST /calls may create per minute (toll-fraud brake); in a cluster, "
        "for all nodes together.",
        "<1-10000>", false, false,
        [](std::string_view text, settings& out) -> problem {
          unsigned long limit = 0;
          if (auto why = parse_integer(text, 1, 10000, limit)) {
            return why;
          }
          out.calls_per_minute = static_cast<unsigned>(limit);
          return std::nullopt;
        },
        [](const settings& in) {
          return std::to_string(in.calls_per_minute);
        }},
    setting_descriptor{
        "GREETING", "",
        "What the agent says as soon as a call's stream starts (it speaks first); unset: the "
        "agent waits for the caller.",
        "<text>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.size() > 4096) {
            return "longer than 4096 bytes";
          }
          out.greeting = std::string(text);
          return std::nullopt;
        },
        [](const settings& in) {
          return in.greeting;
        }},
    setting_descriptor{"IDLE_TIMEOUT", "0",
                       "Seconds of silence from both sides after which the agent asks whether "
                       "the caller is still there; as long again and it says goodbye and hangs "
                       "up. 0: off.",
                       "<0-3600>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 0, 3600, seconds)) {
                           return why;
                         }
                         out.idle_timeout_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.idle_timeout_s);
                       }},
    setting_descriptor{"MAX_CALL_DURATION", "3600",
                       "Longest call in seconds: the agent warns the caller 30 s before (or "
                       "half-way, for short limits), then says goodbye and hangs up. 0: no limit.",
                       "<0-86400>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 0, 86400, seconds)) {
                           return why;
                         }
                         out.max_call_duration_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.max_call_duration_s);
                       }},
    setting_descriptor{"MAX_CALLS", "0",
                       "Calls this node takes at once (streaming, or answered and about to "
                       "stream); past it new calls go to a cluster peer with room, or, with "
                       "none, the webhook answers FULL_MESSAGE and hangs up, POST /calls answers "
                       "503; /readyz reports not ready. A stream that lands here with every "
                       "place streaming is hosted by a peer with room (its actors there, its "
                       "socket here), else refused with 1013. 0: no fixed limit.",
                       "<0-100000>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long calls = 0;
                         if (auto why = parse_integer(text, 0, 100000, calls)) {
                           return why;
                         }
                         out.max_calls = static_cast<unsigned>(calls);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.max_calls);
                       }},
    setting_descriptor{
        "FULL_MESSAGE", default_full_message,
        "What a caller hears (Twilio <Say>) before the hang-up when no node takes the call "
        "(MAX_CALLS, MAX_LOOP_LAG_MS; in a cluster, every node).",
        "<text>", false, false,
        [](std::string_view text, settings& out) -> problem {
          return parse_spoken_message(text, out.full_message);
        },
        [](const settings& in) {
          return in.full_message;
        }},
    setting_descriptor{"MAX_LOOP_LAG_MS", "20",
                       "Event-loop lag of the io threads (ms) above which this node takes no "
                       "new calls, until the lag is back under half of it for a second: the "
                       "calls it carries keep their round trip. 0: lag is not watched.",
                       "<0-10000>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long lag = 0;
                         if (auto why = parse_integer(text, 0, 10000, lag)) {
                           return why;
                         }
                         out.max_loop_lag_ms = static_cast<unsigned>(lag);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.max_loop_lag_ms);
                       }},
    setting_descriptor{"START_TIMEOUT", "5",
                       "Seconds a media stream may stay open without Twilio's `start`; then "
                       "it is closed. Such a stream is never counted as a call.",
                       "<1-300>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 1, 300, seconds)) {
                           return why;
                         }
                         out.start_timeout_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.start_timeout_s);
                       }},
    setting_descriptor{"DRAIN_TIMEOUT", "300",
                       "Seconds live calls run on after SIGTERM (or POST /drain) while new calls "
                       "go to a ready peer; calls still live then hear DRAIN_MESSAGE and end. The "
                       "process exits once no call remains. Kubernetes' grace period must be "
                       "longer.",
                       "<0-86400>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long seconds = 0;
                         if (auto why = parse_integer(text, 0, 86400, seconds)) {
                           return why;
                         }
                         out.drain_timeout_s = static_cast<unsigned>(seconds);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.drain_timeout_s);
                       }},
    setting_descriptor{"DRAIN_MESSAGE", default_drain_message,
                       "What the agent says to a call still live when DRAIN_TIMEOUT ends, before "
                       "it hangs up.",
                       "<text>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         return parse_spoken_message(text, out.drain_message);
                       },
                       [](const settings& in) {
                         return in.drain_message;
                       }},
    setting_descriptor{"RECORDINGS_DIR", "./recordings", "Directory for call recordings (WAV).",
                       "<path>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         if (text.empty()) {
                           return "must not be empty";
                         }
                         out.recordings_dir = std::filesystem::path(text);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return in.recordings_dir.string();
                       }},
    setting_descriptor{
        "RECORDINGS", "on",
        "Record each call's audio (caller.wav, agent.wav, stereo.wav, mono.wav). off: no audio "
        "is kept; call.json and transcript.jsonl are still written.",
        "<bool>", false, false,
        [](std::string_view text, settings& out) { return parse_bool(text, out.recordings); },
        [](const settings& in) {
          return std::string(in.recordings ? "on" : "off");
        }},
    setting_descriptor{
        "RECORDINGS_BUCKET_URL", "",
        "Object storage for every ended call's files, s3://bucket/prefix (S3, GCS in S3 "
        "interoperability mode, MinIO, Ceph): uploaded under prefix/<UTC date>/<CallSid>/ and "
        "served back from there. Unset: recordings stay local only.",
        "<s3://bucket/prefix>", false, false,
        [](std::string_view text, settings& out) {
          return parse_bucket_url(text, out.recordings_bucket_url);
        },
        [](const settings& in) {
          return in.recordings_bucket_url;
        }},
    setting_descriptor{"S3_ENDPOINT", "",
                       "S3 API endpoint (http(s)) of MinIO, Ceph or GCS "
                       "(https://storage.googleapis.com); unset: AWS, "
                       "https://s3.<AWS_REGION>.amazonaws.com.",
                       "<url>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         if (text.empty()) {
                           out.s3_endpoint.clear();
                           return std::nullopt;
                         }
                         return parse_url(text, http_url, out.s3_endpoint);
                       },
                       [](const settings& in) {
                         return in.s3_endpoint;
                       }},
    setting_descriptor{
        "AWS_REGION", "",
        "Region of the bucket (signs every request); required with "
        "RECORDINGS_BUCKET_URL on AWS, us-east-1 when unset with an S3_ENDPOINT.",
        "<region>", false, false,
        [](std::string_view text, settings& out) { return parse_region(text, out.aws_region); },
        [](const settings& in) {
          return in.aws_region;
        }},
    setting_descriptor{"AWS_ACCESS_KEY_ID", "",
                       "Access key of the bucket's credentials (GCS: an HMAC key); required with "
                       "RECORDINGS_BUCKET_URL.",
                       "<key>", true, false,
                       [](std::string_view text, settings& out) {
                         return parse_secret(text, out.aws_access_key_id);
                       },
                       [](const settings& in) {
                         return in.aws_access_key_id;
                       }},
    setting_descriptor{"AWS_SECRET_ACCESS_KEY", "",
                       "Secret key of AWS_ACCESS_KEY_ID; required with RECORDINGS_BUCKET_URL.",
                       "<key>", true, false,
                       [](std::string_view text, settings& out) {
                         return parse_secret(text, out.aws_secret_access_key);
                       },
                       [](const settings& in) {
                         return in.aws_secret_access_key;
                       }},
    setting_descriptor{"AWS_SESSION_TOKEN", "",
                       "Session token of temporary credentials (STS); unset: long-term keys.",
                       "<token>", true, false,
                       [](std::string_view text, settings& out) {
                         return parse_secret(text, out.aws_session_token);
                       },
                       [](const settings& in) {
                         return in.aws_session_token;
                       }},
    setting_descriptor{
        "S3_FORCE_PATH_STYLE", "",
        "true: endpoint/bucket/key; false: bucket.endpoint/key (virtual-host). Unset: true with "
        "an S3_ENDPOINT, false for AWS.",
        "<bool>", false, false,
        [](std::string_view text, settings& out) -> problem {
          if (text.empty()) {
            out.s3_force_path_style.reset();
            return std::nullopt;
          }
          bool path_style = false;
          if (auto why = parse_bool(text, path_style)) {
            return why;
          }
          out.s3_force_path_style = path_style;
          return std::nullopt;
        },
        [](const settings& in) {
          return in.s3_force_path_style ? std::string(*in.s3_force_path_style ? "true" : "false")
                                        : std::string{};
        }},
    setting_descriptor{
        "RECORDINGS_KEEP_LOCAL", "false",
        "Keep a call's local files once their upload is confirmed; false: deleted then (call.json "
        "stays, as the index that serves them back).",
        "<bool>", false, false,
        [](std::string_view text, settings& out) {
          return parse_bool(text, out.recordings_keep_local);
        },
        [](const settings& in) {
          return std::string(in.recordings_keep_local ? "true" : "false");
        }},
    setting_descriptor{
        "RECORDINGS_PRESIGN", "false",
        "GET /calls/{sid}/recordings/{file} of an uploaded file answers 302 to a presigned URL "
        "valid 5 minutes; false: the node streams it from the bucket (same origin, same auth).",
        "<bool>", false, false,
        [](std::string_view text, settings& out) {
          return parse_bool(text, out.recordings_presign);
        },
        [](const settings& in) {
          return std::string(in.recordings_presign ? "true" : "false");
        }},
    setting_descriptor{"UPLOAD_CONCURRENCY", "2",
                       "Files uploaded to RECORDINGS_BUCKET_URL at once, each on a thread of its "
                       "own (1-16).",
                       "<1-16>", false, false,
                       [](std::string_view text, settings& out) -> problem {
                         unsigned long files = 0;
                         if (auto why = parse_integer(text, 1, 16, files)) {
                           return why;
                         }
                         out.upload_concurrency = static_cast<unsigned>(files);
                         return std::nullopt;
                       },
                       [](const settings& in) {
                         return std::to_string(in.upload_concurrency);
                       }},
    setting_descriptor{"LOG_FORMAT", "text", "Log line format: text or json.", "<format>", false,
                       false,
                       [](std::string_view text, settings& out) {
                         return parse_enum(text, log_format_names, out.log_format);
                       },
                       [](const settings& in) {
                         return std::string(to_string(in.log_format));
                       }},
    setting_descriptor{"LOG_LEVEL", "info",
                       "Minimum log level: trace, debug, info, warn, error, critical or off.",
                       "<level>", false, false,
                       [](std::string_view text, settings& out) {
                         return parse_enum(text, log_level_names, out.log_level);
                       },
                       [](const settings& in) {
                         return std::string(to_string(in.log_level));
                       }},
};

const setting_descriptor* find_by_name(std::string_view name) {
  const auto found = std::find_if(descriptors.begin(), descriptors.end(),
                                  [&](const auto& row) { return row.name == name; });
  return found == descriptors.end() ? nullptr : &*found;
}

// Values are echoed so the operator sees what was read, but on one line and bounded: the
// instructions can be pages long.
std::string printable(std::string_view text) {
  constexpr std::size_t shown = 60;
  std::string out;
  for (const char c : text.substr(0, shown)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (text.size() > shown) {
    out += "... (" + std::to_string(text.size()) + " characters)";
  }
  return out;
}

// "PORT=abc (from environment): why", or "OPENAI_API_KEY (from .env line 3): why".
std::string setting_message(const setting_descriptor& row, std::string_view text,
                            std::string_view source, std::string_view why) {
  std::string message(row.name);
  if (!row.secret) {
    message += "=" + (text.empty() ? std::string("\"\"") : printable(text));
  }
  if (!source.empty()) {
    message += " (from " + std::string(source) + ")";
  }
  message += ": " + std::string(why);
  return message;
}

// Word-wraps `text` to 80 columns, each line starting with `indent`.
std::string wrapped(std::string_view text, std::string_view indent) {
  constexpr std::size_t width = 80;
  std::string out;
  std::string line(indent);
  while (!text.empty()) {
    const auto space = text.find(' ');
    const auto word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (line.size() > indent.size() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = indent;
    }
    if (line.size() > indent.size()) {
      line += ' ';
    }
    line += word;
  }
  return out + line + "\n";
}

struct chosen_value {
  std::string text;
  std::string source;  // "flag --port", "environment", ".env line 3"
};
using chosen_values = std::map<std::string_view, chosen_value>;

std::string source_of(const chosen_values& chosen, std::string_view name) {
  const auto found = chosen.find(name);
  return found == chosen.end() ? std::string{} : found->second.source;
}

std::string field_message(const settings& current, const chosen_values& chosen,
                          std::string_view name, std::string_view why) {
  const auto& row = *find_by_name(name);
  return setting_message(row, row.format(current), source_of(chosen, name), why);
}

// "TOOLS_FILE /x/tools.json": how tools_file's problems begin.
std::string tools_file_source(const std::filesystem::path& file) {
  return "TOOLS_FILE " + file.string();
}

// TOOLS_FILE must be readable and valid; without it, tools built in code obey the same rules.
void check_tools_setting(const settings& candidate, const chosen_values& chosen,
                         const std::set<std::string_view>& skip,
                         std::vector<config_error>& problems) {
  if (skip.contains("TOOLS_FILE"))
    return;
  if (!candidate.tools_file) {
    for (auto& why : check_tools(candidate.tools, "TOOLS_FILE (tools set in code)"))
      problems.emplace_back(errc::invalid_value, "TOOLS_FILE", std::move(why));
    return;
  }
  std::string why;
  const auto contents = read_text_file(*candidate.tools_file, why);
  if (!contents) {
    problems.emplace_back(errc::unreadable_file, "TOOLS_FILE",
                          field_message(candidate, chosen, "TOOLS_FILE", "cannot read: " + why));
    return;
  }
  auto parsed = parse_tools_file(*contents, tools_file_source(*candidate.tools_file));
  if (!parsed) {
    for (auto& message : parsed.error())
      problems.emplace_back(errc::invalid_value, "TOOLS_FILE", std::move(message));
  }
}

// validate() proper; `chosen` names where each value came from and `skip` lists the settings
// load() already reported, so a bad value is not blamed twice.
void check(const settings& candidate, const chosen_values& chosen,
           const std::set<std::string_view>& skip, std::vector<config_error>& problems) {
  // Every field, through the same parser as text, so settings built in code obey the same rules.
  for (const auto& row : descriptors) {
    if (skip.contains(row.name)) {
      continue;
    }
    const auto text = row.format(candidate);
    settings scratch;
    if (auto why = row.parse(text, scratch)) {
      problems.emplace_back(errc::invalid_value, std::string(row.name),
                            setting_message(row, text, source_of(chosen, row.name), *why));
    }
  }

  const auto& file = candidate.openai_instructions_file;
  if (file && !file->empty() && !skip.contains("OPENAI_INSTRUCTIONS_FILE") &&
      !skip.contains("OPENAI_INSTRUCTIONS")) {
    std::string why;
    const auto contents = read_text_file(*file, why);
    if (!contents) {
      problems.emplace_back(
          errc::unreadable_file, "OPENAI_INSTRUCTIONS_FILE",
          field_message(candidate, chosen, "OPENAI_INSTRUCTIONS_FILE", "cannot read: " + why));
    } else if (const auto prompt = without_trailing_whitespace(*contents); prompt.empty()) {
      problems.emplace_back(
          errc::invalid_value, "OPENAI_INSTRUCTIONS_FILE",
          field_message(candidate, chosen, "OPENAI_INSTRUCTIONS_FILE", "the file is empty"));
    } else if (candidate.openai_instructions != default_openai_instructions &&
               candidate.openai_instructions != prompt) {
      // Instructions that are neither the default nor the file's were set on their own.
      problems.emplace_back(errc::conflicting_settings, "OPENAI_INSTRUCTIONS_FILE",
                            field_message(candidate, chosen, "OPENAI_INSTRUCTIONS_FILE",
                                          "OPENAI_INSTRUCTIONS is set too; set only one"));
    }
  }

  check_tools_setting(candidate, chosen, skip, problems);

  if (candidate.twilio_auth_token.empty() && !candidate.allow_unsigned_twilio &&
      !skip.contains("TWILIO_AUTH_TOKEN") && !skip.contains("ALLOW_UNSIGNED_TWILIO")) {
    // Without the token X-Twilio-Signature cannot be checked and anyone could drive calls.
    problems.emplace_back(errc::missing_setting, "TWILIO_AUTH_TOKEN",
                          "TWILIO_AUTH_TOKEN is not set: webhook signatures cannot be verified; "
                          "set it, or set ALLOW_UNSIGNED_TWILIO=true to accept unsigned "
                          "requests (insecure)");
  }

  const int tls_files = int{!candidate.cluster_tls_cert.empty()} +
                        int{!candidate.cluster_tls_key.empty()} +
                        int{!candidate.cluster_tls_ca.empty()};
  if (tls_files != 0 && tls_files != 3 && !skip.contains("CLUSTER_TLS_CERT") &&
      !skip.contains("CLUSTER_TLS_KEY") && !skip.contains("CLUSTER_TLS_CA")) {
    problems.emplace_back(errc::conflicting_settings, "CLUSTER_TLS_CERT",
                          "CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA go together: set "
                          "all three or none");
  }
  if (tls_files == 3) {
    for (const auto& [name, pem_file] : {std::pair{"CLUSTER_TLS_CERT", &candidate.cluster_tls_cert},
                                         std::pair{"CLUSTER_TLS_KEY", &candidate.cluster_tls_key},
                                         std::pair{"CLUSTER_TLS_CA", &candidate.cluster_tls_ca}}) {
      std::string why;
      if (!skip.contains(name) && !read_text_file(*pem_file, why)) {
        problems.emplace_back(errc::unreadable_file, name,
                              field_message(candidate, chosen, name, "cannot read: " + why));
      }
    }
  }
  if (candidate.cluster_port && !candidate.cluster_insecure && tls_files == 0 &&
      !skip.contains("CLUSTER_PORT") && !skip.contains("CLUSTER_INSECURE")) {
    // Whoever reaches the cluster port can send this node messages: no silent plain links.
    problems.emplace_back(errc::missing_setting, "CLUSTER_PORT",
                          field_message(candidate, chosen, "CLUSTER_PORT",
                                        "set but the cluster link has no TLS certificates; set "
                                        "CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA, or "
                                        "CLUSTER_INSECURE=true to run it unencrypted (insecure)"));
  }
  if (!candidate.cluster_dns.empty() && (!candidate.cluster_port || *candidate.cluster_port == 0) &&
      !skip.contains("CLUSTER_DNS") && !skip.contains("CLUSTER_PORT")) {
    // The name's addresses are dialled on this node's own CLUSTER_PORT: every node listens on
    // the same one, and 0 (any free port) cannot be found that way.
    problems.emplace_back(errc::conflicting_settings, "CLUSTER_DNS",
                          field_message(candidate, chosen, "CLUSTER_DNS",
                                        "needs CLUSTER_PORT set to the port every node listens "
                                        "on (not 0)"));
  }
  if (candidate.cluster_port && *candidate.cluster_port != 0 &&
      (*candidate.cluster_port == candidate.port ||
       (candidate.metrics_port && *candidate.metrics_port == *candidate.cluster_port)) &&
      !skip.contains("CLUSTER_PORT") && !skip.contains("PORT")) {
    problems.emplace_back(errc::conflicting_settings, "CLUSTER_PORT",
                          field_message(candidate, chosen, "CLUSTER_PORT",
                                        "equals PORT or METRICS_PORT; each needs its own port"));
  }
  if (candidate.uploads_recordings() && !skip.contains("RECORDINGS_BUCKET_URL")) {
    // The bucket is useless without credentials, and AWS needs the bucket's region to sign.
    for (const auto& [name, value] :
         {std::pair{"AWS_ACCESS_KEY_ID", &candidate.aws_access_key_id},
          std::pair{"AWS_SECRET_ACCESS_KEY", &candidate.aws_secret_access_key}}) {
      if (value->empty() && !skip.contains(name)) {
        problems.emplace_back(errc::missing_setting, name,
                              std::string(name) + " is not set: RECORDINGS_BUCKET_URL needs it");
      }
    }
    if (candidate.aws_region.empty() && candidate.s3_endpoint.empty() &&
        !skip.contains("AWS_REGION") && !skip.contains("S3_ENDPOINT")) {
      problems.emplace_back(errc::missing_setting, "AWS_REGION",
                            "AWS_REGION is not set: RECORDINGS_BUCKET_URL on AWS needs the "
                            "bucket's region (or set S3_ENDPOINT for MinIO, Ceph or GCS)");
    }
  }
  if (candidate.metrics_port && *candidate.metrics_port != 0 &&
      *candidate.metrics_port == candidate.port && !skip.contains("PORT") &&
      !skip.contains("METRICS_PORT")) {
    problems.emplace_back(errc::conflicting_settings, "METRICS_PORT",
                          field_message(candidate, chosen, "METRICS_PORT",
                                        "equals PORT; use 0 to serve /metrics on the main port"));
  }
}

// Applies the command line on top of `chosen`. Arguments are never echoed except a flag's
// name: a mistyped --openai-api-kye=sk-... must not print the key.
void apply_arguments(std::span<const std::string> arguments, chosen_values& chosen,
                     std::vector<config_error>& problems) {
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string_view argument = arguments[i];
    if (argument == "--help" || argument == "-h") {
      continue;
    }
    const bool next_is_value = i + 1 < arguments.size() && !arguments[i + 1].starts_with("--");
    if (!argument.starts_with("-")) {
      problems.emplace_back(errc::unexpected_argument, "",
                            "unexpected argument #" + std::to_string(i + 1) +
                                ": settings are given as --name value or --name=value");
      continue;
    }
    const auto equals = argument.find('=');
    const auto flag = argument.substr(0, equals);
    const auto row =
        std::find_if(descriptors.begin(), descriptors.end(),
                     [&](const auto& candidate) { return flag_name(candidate.name) == flag; });
    if (row == descriptors.end()) {
      problems.emplace_back(errc::unknown_flag, "",
                            "unknown flag " + std::string(flag) + " (see --help)");
      if (equals == std::string_view::npos && next_is_value) {
        ++i;  // most likely the unknown flag's value, not a second mistake
      }
      continue;
    }
    std::string value;
    if (equals != std::string_view::npos) {
      value = std::string(argument.substr(equals + 1));
    } else if (next_is_value) {
      value = arguments[++i];
    } else if (row->boolean) {
      value = "true";
    } else {
      problems.emplace_back(errc::missing_flag_value, std::string(row->name),
                            "flag " + std::string(flag) + " needs a value (" + std::string(flag) +
                                " <value> or " + std::string(flag) + "=<value>)");
      continue;
    }
    chosen[row->name] = {std::move(value), "flag " + std::string(flag)};
  }
}

}  // namespace

std::string_view to_string(log_format format) {
  return log_format_names[static_cast<std::size_t>(format)];
}
std::string_view to_string(log_level level) {
  return log_level_names[static_cast<std::size_t>(level)];
}
std::string_view to_string(turn_detection detection) {
  return turn_detection_names[static_cast<std::size_t>(detection)];
}

std::optional<std::string> settings::public_host() const {
  if (!public_url) {
    return std::nullopt;
  }
  const auto parsed = boost::urls::parse_absolute_uri(*public_url);
  if (!parsed) {
    return std::nullopt;
  }
  return std::string(parsed->encoded_host_and_port());
}

std::span<const setting_descriptor> setting_descriptors() {
  return descriptors;
}

std::string flag_name(std::string_view setting_name) {
  std::string flag = "--" + to_lower(setting_name);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

environment_lookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // Read once at start-up, before any thread that could call setenv() exists.
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

environment_lookup environment_from_map(std::map<std::string, std::string, std::less<>> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) {
      return std::nullopt;
    }
    return found->second;
  };
}

std::vector<std::string> arguments_from_argv(int argc, const char* const* argv) {
  std::vector<std::string> arguments;
  for (int i = 1; i < argc; ++i) {
    arguments.emplace_back(argv[i]);
  }
  return arguments;
}

bool help_requested(std::span<const std::string> arguments) {
  return std::any_of(arguments.begin(), arguments.end(), [](const std::string& argument) {
    return argument == "--help" || argument == "-h";
  });
}

boost::system::result<settings, config_errors> load(std::span<const std::string> arguments,
                                                    const environment_lookup& environment,
                                                    const std::filesystem::path& dotenv_path) {
  std::vector<config_error> problems;
  chosen_values chosen;

  // Lowest priority first, each source overwriting the one below.
  if (auto entries = read_dotenv(dotenv_path)) {
    for (auto& entry : *entries) {
      // The .env may hold keys for other tools; only ours are read.
      if (const auto* row = find_by_name(entry.key)) {
        chosen[row->name] = {std::move(entry.value),
                             dotenv_path.string() + " line " + std::to_string(entry.line)};
      }
    }
  } else {
    // error() returns a copy in Boost 1.81.
    const auto dotenv_errors = entries.error();
    problems.insert(problems.end(), dotenv_errors.errors.begin(), dotenv_errors.errors.end());
  }
  for (const auto& row : descriptors) {
    if (auto value = environment(row.name)) {
      chosen[row.name] = {std::move(*value), "environment"};
    }
  }
  apply_arguments(arguments, chosen, problems);

  settings loaded;
  std::set<std::string_view> reported;
  for (const auto& row : descriptors) {
    const auto found = chosen.find(row.name);
    if (found == chosen.end()) {
      continue;
    }
    if (auto why = row.parse(found->second.text, loaded)) {
      problems.emplace_back(errc::invalid_value, std::string(row.name),
                            setting_message(row, found->second.text, found->second.source, *why));
      reported.insert(row.name);
    }
  }

  const bool instructions_given = chosen.contains("OPENAI_INSTRUCTIONS");
  if (instructions_given && loaded.openai_instructions_file) {
    problems.emplace_back(errc::conflicting_settings, "OPENAI_INSTRUCTIONS_FILE",
                          "OPENAI_INSTRUCTIONS (from " + source_of(chosen, "OPENAI_INSTRUCTIONS") +
                              ") and " +
                              field_message(loaded, chosen, "OPENAI_INSTRUCTIONS_FILE", "") +
                              "both are set; set only one");
    reported.insert("OPENAI_INSTRUCTIONS_FILE");
  } else if (loaded.openai_instructions_file) {
    std::string why;
    if (auto contents = read_text_file(*loaded.openai_instructions_file, why)) {
      loaded.openai_instructions = without_trailing_whitespace(std::move(*contents));
    }
    // else check() below reports the unreadable file with its source.
  }

  if (loaded.tools_file && !reported.contains("TOOLS_FILE")) {
    std::string why;
    if (auto contents = read_text_file(*loaded.tools_file, why)) {
      if (auto tools = parse_tools_file(*contents, tools_file_source(*loaded.tools_file))) {
        loaded.tools = std::move(*tools);
      }
    }
    // else check() below reports the unreadable or invalid file.
  }

  check(loaded, chosen, reported, problems);
  if (!problems.empty()) {
    return config_errors(std::move(problems));
  }
  return loaded;
}

boost::system::result<void, config_errors> validate(const settings& candidate) {
  std::vector<config_error> problems;
  check(candidate, {}, {}, problems);
  if (!problems.empty()) {
    return config_errors(std::move(problems));
  }
  return {};
}

std::vector<std::string> describe(const settings& current) {
  std::vector<std::string> lines;
  for (const auto& row : descriptors) {
    const auto text = row.format(current);
    std::string value;
    if (row.secret) {
      value = text.empty() ? "<unset>" : "<set>";
    } else {
      value = text.empty() ? "<unset>" : printable(text);
    }
    lines.push_back(std::string(row.name) + "=" + value);
  }
  return lines;
}

std::string settings_markdown_table() {
  const auto cell = [](std::string_view text) {
    std::string escaped;
    for (const char c : text) {
      if (c == '|') {
        escaped += '\\';
      }
      escaped += c;
    }
    return escaped;
  };
  std::string table = "| Setting | Default | Description |\n|---|---|---|\n";
  for (const auto& row : descriptors) {
    const auto default_text = row.secret ? std::string_view{} : row.default_text;
    table += "| `" + std::string(row.name) + "` | ";
    table += default_text.empty() ? std::string{} : "`" + cell(default_text) + "`";
    table += " | " + cell(row.description) + (row.secret ? " Secret." : "") + " |\n";
  }
  return table;
}

std::string flags_help() {
  std::string help =
      "Usage: switchboard [--setting value | --setting=value]...\n"
      "\n"
      "Each setting is read, highest priority first, from its flag, the environment variable\n"
      "of the same name, a .env file in the working directory, or its default. A value that\n"
      "starts with -- needs the --setting=value form; a bare boolean flag means true.\n"
      "\n";
  for (const auto& row : descriptors) {
    std::string text = std::string(row.name) + ": " + std::string(row.description);
    if (!row.secret && !row.default_text.empty()) {
      text += " Default: " + printable(row.default_text) + ".";
    }
    help += "  " + flag_name(row.name) + " " + std::string(row.value_hint) + "\n" +
            wrapped(text, "      ");
  }
  help += "  --help\n      Print this text and exit.\n";
  return help;
}

}  // namespace switchboard::config
