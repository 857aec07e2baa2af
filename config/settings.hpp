#pragma once

#include "config/error.hpp"
#include "config/tools_file.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::config {

enum class log_format { text, json };
enum class log_level { trace, debug, info, warn, error, critical, off };
// Realtime session.audio.input.turn_detection.type (shared/reference/protocols.md, B3).
enum class turn_detection { server_vad, semantic_vad };

std::string_view to_string(log_format format);
std::string_view to_string(log_level level);
std::string_view to_string(turn_detection detection);

inline constexpr std::string_view default_openai_realtime_url =
    "wss://api.openai.com/v1/realtime?model=gpt-realtime";
inline constexpr std::string_view default_openai_instructions =
    "You are a friendly, helpful voice assistant answering a phone call. Speak naturally and keep "
    "each reply short, one to three sentences. Ask a brief question when a request is unclear, "
    "and say so when you do not know something.";

inline constexpr std::string_view default_full_message =
    "Sorry, all our lines are busy right now. Please call again in a few minutes. Goodbye.";

inline constexpr std::string_view default_drain_message =
    "I'm sorry, I have to end our call now because this line is restarting. Please call again "
    "in a moment. Goodbye.";

// Every setting of the server. Member initialisers are the defaults; the setting table in
// settings.cpp names each field, and a test checks the two agree.
struct settings {
  // Listener
  std::uint16_t port = 5050;                  // PORT
  std::string bind_address = "0.0.0.0";       // BIND_ADDRESS, an IPv4 or IPv6 address
  std::optional<std::string> public_url;      // PUBLIC_URL, normalised without a trailing slash
  unsigned io_threads = 0;                    // IO_THREADS, 0 = one per core
  std::optional<std::uint16_t> metrics_port;  // METRICS_PORT: unset = /metrics on PORT,
                                              // else its own listener (0 = any free port)
  std::string node_name;  // NODE_NAME: the `node` label of metrics; empty = the host name
  // NODE_STREAM_URL: this node's own wss:// media-stream URL (its route through the ingress);
  // its TwiML names it, stream signatures are checked against it, its heartbeat advertises it.
  // Empty = streams go to PUBLIC_URL (or the request's host).
  std::string node_stream_url;
  // Cluster (README "Cluster"): unset CLUSTER_PORT = this node runs alone.
  std::optional<std::uint16_t> cluster_port;  // CLUSTER_PORT, 0 = any free port (logged)
  std::string cluster_bind;                   // CLUSTER_BIND, empty = BIND_ADDRESS
  std::vector<std::string> cluster_seeds;     // CLUSTER_SEEDS, each "host:port"
  std::string cluster_dns;  // CLUSTER_DNS: a name whose every address is a peer on CLUSTER_PORT
  bool cluster_insecure = false;  // CLUSTER_INSECURE: links without TLS
  // CLUSTER_TLS_CERT/KEY/CA: mutual TLS on the cluster link (CAF's OpenSSL module); all three
  // or none, empty = unset.
  std::filesystem::path cluster_tls_cert;
  std::filesystem::path cluster_tls_key;
  std::filesystem::path cluster_tls_ca;
  bool has_cluster_tls() const { return !cluster_tls_cert.empty(); }
  // OpenAI Realtime
  std::string openai_api_key;  // OPENAI_API_KEY (secret), empty = unset
  std::string openai_realtime_url = std::string(default_openai_realtime_url);
  std::string openai_voice = "marin";
  // The prompt sent to the model. load() replaces it with the contents of
  // openai_instructions_file when that is set.
  std::string openai_instructions = std::string(default_openai_instructions);
  std::optional<std::filesystem::path> openai_instructions_file;
  turn_detection openai_turn_detection = turn_detection::server_vad;
  std::string openai_transcription_model = "whisper-1";  // empty = no input transcription
  // When a model connection counts as failed (actors/model_link_watch.hpp).
  unsigned model_ready_timeout_s = 5;     // MODEL_READY_TIMEOUT: upgrade → session.updated
  unsigned model_silence_timeout_s = 20;  // MODEL_SILENCE_TIMEOUT: quiet while audio flows; 0 off
  // Tools the model may call besides the built-in end_call and transfer_call (tools_file.hpp).
  // load() fills `tools` from tools_file; validate() checks the file, or `tools` built in code.
  std::optional<std::filesystem::path> tools_file;  // TOOLS_FILE
  std::vector<http_tool_definition> tools;
  // TRANSFER_TO: E.164 number transfer_call dials when the model names none; empty = the model
  // must name one ("to" is then a required argument of transfer_call).
  std::string transfer_to;
  // Twilio
  std::string twilio_account_sid;   // empty = unset
  std::string twilio_auth_token;    // secret, empty = unset
  std::string twilio_phone_number;  // E.164, empty = unset
  std::string twilio_api_base = "https://api.twilio.com";
  bool allow_unsigned_twilio = false;  // insecure: accept webhooks without a signature check
  // Outbound calls and call control (POST /calls): off without API_TOKEN.
  std::string api_token;                          // API_TOKEN (secret), empty = API off
  std::vector<std::string> allowed_destinations;  // ALLOWED_DESTINATIONS: E.164 prefixes
  unsigned calls_per_minute = 10;                 // CALLS_PER_MINUTE: outbound calls created
  // The agent's conduct on every call
  std::string greeting;         // GREETING: said when the stream starts; empty = caller first
  unsigned idle_timeout_s = 0;  // IDLE_TIMEOUT: silence → ask once, then end; 0 = off
  unsigned max_call_duration_s = 3600;  // MAX_CALL_DURATION: a warning, then the end; 0 = off
  // Capacity: admission control and streams that never start
  unsigned max_calls = 0;                                        // MAX_CALLS: 0 = no fixed limit
  std::string full_message = std::string(default_full_message);  // FULL_MESSAGE: said when full
  unsigned max_loop_lag_ms = 20;  // MAX_LOOP_LAG_MS: refuse new calls above it; 0 = not watched
  unsigned start_timeout_s = 5;   // START_TIMEOUT: a stream without `start` by then is closed
  // Drain (README "Drain"): SIGTERM or POST /drain, then live calls run on for DRAIN_TIMEOUT;
  // those still live then hear DRAIN_MESSAGE and end.
  unsigned drain_timeout_s = 300;                                  // DRAIN_TIMEOUT
  std::string drain_message = std::string(default_drain_message);  // DRAIN_MESSAGE
  // Output
  std::filesystem::path recordings_dir = "./recordings";
  bool recordings = true;  // RECORDINGS: false = no audio files (call.json, transcript stay)
  // Object storage for recordings (README "Recordings in object storage"): unset bucket = local
  // only. The credentials are secrets.
  std::string recordings_bucket_url;        // RECORDINGS_BUCKET_URL: s3://bucket/prefix; "" = off
  std::string s3_endpoint;                  // S3_ENDPOINT: "" = AWS for AWS_REGION
  std::string aws_region;                   // AWS_REGION: "" = us-east-1 with an S3_ENDPOINT
  std::string aws_access_key_id;            // AWS_ACCESS_KEY_ID (secret)
  std::string aws_secret_access_key;        // AWS_SECRET_ACCESS_KEY (secret)
  std::string aws_session_token;            // AWS_SESSION_TOKEN (secret), "" = long-term keys
  std::optional<bool> s3_force_path_style;  // S3_FORCE_PATH_STYLE; nullopt = as the endpoint needs
  bool recordings_keep_local = false;       // RECORDINGS_KEEP_LOCAL: keep files once uploaded
  bool recordings_presign = false;          // RECORDINGS_PRESIGN: 302 to a presigned URL
  unsigned upload_concurrency = 2;          // UPLOAD_CONCURRENCY: files uploaded at once
  // Qualified: the fields are named after their settings, like their types.
  config::log_format log_format = config::log_format::text;
  config::log_level log_level = config::log_level::info;

  bool has_openai_credentials() const { return !openai_api_key.empty(); }
  bool uploads_recordings() const { return !recordings_bucket_url.empty(); }
  // Path-style addressing (endpoint/bucket/key): S3_FORCE_PATH_STYLE, else on with an
  // S3_ENDPOINT (MinIO and Ceph have no per-bucket host names) and off for AWS.
  bool s3_path_style() const { return s3_force_path_style.value_or(!s3_endpoint.empty()); }
  // AWS_REGION, or us-east-1 (what MinIO and GCS's interoperability expect) without one.
  std::string s3_region() const { return aws_region.empty() ? "us-east-1" : aws_region; }
  bool has_twilio_credentials() const {
    return !twilio_account_sid.empty() && !twilio_auth_token.empty();
  }
  // Host of PUBLIC_URL, with ":port" when the URL names one (e.g. "voice.example.com",
  // "[::1]:8443"): what a wss:// stream URL for Twilio is built on. nullopt without PUBLIC_URL.
  std::optional<std::string> public_host() const;
};

// One row of the setting table. Adding a setting = a field above plus one row in settings.cpp.
struct setting_descriptor {
  // Parses `text` into its field of `out`; returns why it is invalid, or nullopt. A secret's
  // reason never repeats the text.
  using parse_function = std::optional<std::string> (*)(std::string_view text, settings& out);
  // The field as text that parse_function accepts back (the secret itself for secrets: callers
  // that print must check `secret`).
  using format_function = std::string (*)(const settings& in);

  std::string_view name;          // environment / .env key, e.g. "PUBLIC_URL"
  std::string_view default_text;  // as shown in the README; empty = unset
  std::string_view description;   // one line
  std::string_view value_hint;    // for --help, e.g. "<1-65535>"
  bool secret = false;
  bool boolean = false;  // a bare --flag means true
  parse_function parse = nullptr;
  format_function format = nullptr;
};

// All settings, in the order they are documented and described.
std::span<const setting_descriptor> setting_descriptors();

// "PUBLIC_URL" -> "--public-url".
std::string flag_name(std::string_view setting_name);

// Looks one variable up; nullopt when it is not set (an empty value is set).
using environment_lookup = std::function<std::optional<std::string>(std::string_view name)>;
environment_lookup process_environment();
environment_lookup environment_from_map(std::map<std::string, std::string, std::less<>> values);
// argv without the program name.
std::vector<std::string> arguments_from_argv(int argc, const char* const* argv);
// True when the arguments hold --help or -h: print flags_help() and exit 0 instead of loading.
bool help_requested(std::span<const std::string> arguments);

// Builds the settings from, highest priority first: `arguments` (--name value, --name=value;
// bare --name means true for a boolean), `environment`, the .env file at `dotenv_path`
// (missing = fine), the defaults; then resolves OPENAI_INSTRUCTIONS_FILE and runs validate().
// On failure returns every problem found, each naming the setting and its source.
boost::system::result<settings, config_errors> load(std::span<const std::string> arguments,
                                                    const environment_lookup& environment,
                                                    const std::filesystem::path& dotenv_path);

// Checks every field and the rules between fields (e.g. OPENAI_INSTRUCTIONS together with
// OPENAI_INSTRUCTIONS_FILE, TWILIO_AUTH_TOKEN or ALLOW_UNSIGNED_TWILIO, METRICS_PORT != PORT) on
// settings from load() or built in code.
boost::system::result<void, config_errors> validate(const settings& candidate);

// "NAME=value" per setting for the start-up log; secrets appear as <set> or <unset>.
std::vector<std::string> describe(const settings& current);
// | Name | Default | Description | for the README; secrets' defaults are empty.
std::string settings_markdown_table();
// The --help text.
std::string flags_help();

}  // namespace switchboard::config
