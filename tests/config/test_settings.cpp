#include "config/settings.hpp"
#include "tests/config/temporary_directory.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::config {
namespace {

using environment_map = std::map<std::string, std::string, std::less<>>;

// A token so the "run without signature checks" rule does not fire in unrelated tests.
constexpr std::string_view test_auth_token = "0123456789abcdef0123456789abcdef";

struct inputs {
  std::vector<std::string> arguments;
  environment_map environment{{"TWILIO_AUTH_TOKEN", std::string(test_auth_token)}};
  std::optional<std::string> dotenv;  // contents of .env; nullopt = no file
};

boost::system::result<settings, config_errors> load_with(const inputs& given) {
  const testing::temporary_directory directory;
  const auto dotenv_path = directory.path() / ".env";
  if (given.dotenv) {
    directory.write(".env", *given.dotenv);
  }
  return load(given.arguments, environment_from_map(given.environment), dotenv_path);
}

settings load_ok(const inputs& given) {
  auto loaded = load_with(given);
  if (!loaded) {
    FAIL(format_errors(loaded.error()));
  }
  return *loaded;
}

config_errors load_fails(const inputs& given) {
  auto loaded = load_with(given);
  REQUIRE_FALSE(loaded.has_value());
  return loaded.error();
}

const config_error* find_error(const config_errors& errors, std::string_view setting) {
  const auto found =
      std::find_if(errors.errors.begin(), errors.errors.end(),
                   [&](const config_error& error) { return error.setting == setting; });
  return found == errors.errors.end() ? nullptr : &*found;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) {
    text += line + "\n";
  }
  return text;
}

// "" when `candidate` is valid, else the printed problems, so a failing CHECK shows them.
std::string validation_problems(const settings& candidate) {
  const auto validated = validate(candidate);
  return validated.has_value() ? std::string{} : format_errors(validated.error());
}

settings valid_code_built() {
  settings built;
  built.twilio_auth_token = std::string(test_auth_token);
  return built;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: defaults when nothing is configured") {
  const auto loaded = load_ok({});
  CHECK(loaded.port == 5050);
  CHECK(loaded.bind_address == "0.0.0.0");
  CHECK_FALSE(loaded.public_url);
  CHECK(loaded.io_threads == 0);
  CHECK_FALSE(loaded.metrics_port);
  CHECK(loaded.openai_api_key.empty());
  CHECK(loaded.openai_realtime_url == "wss://api.openai.com/v1/realtime?model=gpt-realtime");
  CHECK(loaded.openai_voice == "marin");
  CHECK(loaded.openai_instructions == default_openai_instructions);
  CHECK_FALSE(loaded.openai_instructions.empty());
  CHECK_FALSE(loaded.openai_instructions_file);
  CHECK(loaded.openai_turn_detection == turn_detection::server_vad);
  CHECK(loaded.openai_transcription_model == "whisper-1");
  CHECK(loaded.twilio_account_sid.empty());
  CHECK(loaded.twilio_phone_number.empty());
  CHECK(loaded.twilio_api_base == "https://api.twilio.com");
  CHECK_FALSE(loaded.allow_unsigned_twilio);
  CHECK(loaded.recordings_dir == std::filesystem::path("./recordings"));
  CHECK(loaded.log_format == log_format::text);
  CHECK(loaded.log_level == log_level::info);
  CHECK_FALSE(loaded.has_openai_credentials());
  CHECK_FALSE(loaded.has_twilio_credentials());
  CHECK_FALSE(loaded.public_host());
}

TEST_CASE("settings: the table's default texts match the struct's initialisers") {
  const settings defaults;
  for (const auto& row : setting_descriptors()) {
    INFO(row.name);
    CHECK(row.format(defaults) == row.default_text);
    CHECK_FALSE(row.description.empty());
    CHECK_FALSE(row.value_hint.empty());
    settings parsed;
    if (!row.default_text.empty()) {
      CHECK_FALSE(row.parse(row.default_text, parsed));
      CHECK(row.format(parsed) == row.default_text);
    }
  }
}

TEST_CASE("settings: the table holds exactly the documented names, six of them secret") {
  std::set<std::string_view> names;
  for (const auto& row : setting_descriptors()) {
    INFO(row.name);
    CHECK(names.insert(row.name).second);
    CHECK(std::all_of(row.name.begin(), row.name.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }));
  }
  // The public contract: operators' .env files and deployments use exactly these names.
  const std::set<std::string_view> contract{
      "PORT",
      "BIND_ADDRESS",
      "PUBLIC_URL",
      "IO_THREADS",
      "METRICS_PORT",
      "NODE_NAME",
      "NODE_STREAM_URL",
      "CLUSTER_PORT",
      "CLUSTER_BIND",
      "CLUSTER_SEEDS",
      "CLUSTER_DNS",
      "CLUSTER_INSECURE",
      "CLUSTER_TLS_CERT",
      "CLUSTER_TLS_KEY",
      "CLUSTER_TLS_CA",
      "OPENAI_API_KEY",
      "OPENAI_REALTIME_URL",
      "OPENAI_VOICE",
      "OPENAI_INSTRUCTIONS",
      "OPENAI_INSTRUCTIONS_FILE",
      "OPENAI_TURN_DETECTION",
      "OPENAI_TRANSCRIPTION_MODEL",
      "MODEL_READY_TIMEOUT",
      "MODEL_SILENCE_TIMEOUT",
      "TOOLS_FILE",
      "TRANSFER_TO",
      "TWILIO_ACCOUNT_SID",
      "TWILIO_AUTH_TOKEN",
      "TWILIO_PHONE_NUMBER",
      "TWILIO_API_BASE",
      "ALLOW_UNSIGNED_TWILIO",
      "API_TOKEN",
      "ALLOWED_DESTINATIONS",
      "CALLS_PER_MINUTE",
      "GREETING",
      "IDLE_TIMEOUT",
      "MAX_CALL_DURATION",
      "MAX_CALLS",
      "FULL_MESSAGE",
      "MAX_LOOP_LAG_MS",
      "START_TIMEOUT",
      "DRAIN_TIMEOUT",
      "DRAIN_MESSAGE",
      "RECORDINGS_DIR",
      "RECORDINGS",
      "RECORDINGS_BUCKET_URL",
      "S3_ENDPOINT",
      "AWS_REGION",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "S3_FORCE_PATH_STYLE",
      "RECORDINGS_KEEP_LOCAL",
      "RECORDINGS_PRESIGN",
      "UPLOAD_CONCURRENCY",
      "LOG_FORMAT",
      "LOG_LEVEL",
  };
  CHECK(names == contract);
  for (const auto& row : setting_descriptors()) {
    INFO(row.name);
    CHECK(row.secret == (row.name == "OPENAI_API_KEY" || row.name == "TWILIO_AUTH_TOKEN" ||
                         row.name == "API_TOKEN" || row.name == "AWS_ACCESS_KEY_ID" ||
                         row.name == "AWS_SECRET_ACCESS_KEY" || row.name == "AWS_SESSION_TOKEN"));
  }
}

TEST_CASE("settings: flag names are the setting names lower-cased with dashes") {
  CHECK(flag_name("PORT") == "--port");
  CHECK(flag_name("PUBLIC_URL") == "--public-url");
  CHECK(flag_name("OPENAI_API_KEY") == "--openai-api-key");
}

// ---------------------------------------------------------------------------------------------
// Sources and their order
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: each source overrides the one below (flag > environment > .env > default)") {
  struct layered {
    std::string name;
    std::string from_dotenv, from_environment, from_flag;
    std::function<std::string(const settings&)> read;
  };
  const std::vector<layered> cases{
      {"PORT", "6001", "6002", "6003",
       [](const settings& s) {
         return std::to_string(s.port);
       }},
      {"LOG_LEVEL", "warn", "error", "trace",
       [](const settings& s) {
         return std::string(to_string(s.log_level));
       }},
      {"OPENAI_VOICE", "alloy", "ash", "cedar",
       [](const settings& s) {
         return s.openai_voice;
       }},
      {"PUBLIC_URL", "https://a.example.com", "https://b.example.com", "https://c.example.com",
       [](const settings& s) {
         return s.public_url.value_or("<none>");
       }},
      {"RECORDINGS_DIR", "/d", "/e", "/f",
       [](const settings& s) {
         return s.recordings_dir.string();
       }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string dotenv = c.name + "=" + c.from_dotenv + "\n";
    const auto flag = flag_name(c.name);

    inputs only_dotenv;
    only_dotenv.dotenv = dotenv;
    CHECK(c.read(load_ok(only_dotenv)) == c.from_dotenv);

    inputs dotenv_and_environment = only_dotenv;
    dotenv_and_environment.environment[c.name] = c.from_environment;
    CHECK(c.read(load_ok(dotenv_and_environment)) == c.from_environment);

    inputs all = dotenv_and_environment;
    all.arguments = {flag, c.from_flag};
    CHECK(c.read(load_ok(all)) == c.from_flag);

    inputs flag_and_dotenv = only_dotenv;
    flag_and_dotenv.arguments = {flag + "=" + c.from_flag};
    CHECK(c.read(load_ok(flag_and_dotenv)) == c.from_flag);
  }
}

TEST_CASE("settings: flags take --name value and --name=value, the last one wins") {
  inputs given;
  given.arguments = {"--port",         "6000", "--log-level=debug",
                     "--openai-voice", "sage", "--port=7000"};
  const auto loaded = load_ok(given);
  CHECK(loaded.port == 7000);
  CHECK(loaded.log_level == log_level::debug);
  CHECK(loaded.openai_voice == "sage");
}

TEST_CASE("settings: a value that contains = or starts with a dash survives the = form") {
  inputs given;
  given.arguments = {"--openai-instructions=--be brief; a=b", "--openai-realtime-url",
                     "wss://example.com/v1/realtime?model=x&a=b"};
  const auto loaded = load_ok(given);
  CHECK(loaded.openai_instructions == "--be brief; a=b");
  CHECK(loaded.openai_realtime_url == "wss://example.com/v1/realtime?model=x&a=b");
}

TEST_CASE("settings: a bare boolean flag means true, and it takes explicit values") {
  inputs given;
  given.environment = {};
  given.arguments = {"--allow-unsigned-twilio", "--port", "6000"};
  auto loaded = load_ok(given);
  CHECK(loaded.allow_unsigned_twilio);
  CHECK(loaded.port == 6000);

  given.arguments = {"--allow-unsigned-twilio"};
  CHECK(load_ok(given).allow_unsigned_twilio);

  inputs explicit_false;
  explicit_false.environment["ALLOW_UNSIGNED_TWILIO"] = "true";
  explicit_false.arguments = {"--allow-unsigned-twilio=false"};
  CHECK_FALSE(load_ok(explicit_false).allow_unsigned_twilio);
  explicit_false.arguments = {"--allow-unsigned-twilio", "no"};
  CHECK_FALSE(load_ok(explicit_false).allow_unsigned_twilio);
}

TEST_CASE("settings: a flag without its value is an error naming the flag") {
  inputs given;
  given.arguments = {"--log-level", "debug", "--port"};
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0].code == errc::missing_flag_value);
  CHECK(errors.errors[0].setting == "PORT");
  CHECK(contains(errors.errors[0].message, "--port"));

  given.arguments = {"--public-url", "--port", "6000"};
  const auto followed_by_flag = load_fails(given);
  REQUIRE(followed_by_flag.errors.size() == 1);
  CHECK(followed_by_flag.errors[0].setting == "PUBLIC_URL");
}

TEST_CASE("settings: an unknown flag is an error naming the flag, never its value") {
  inputs given;
  given.arguments = {"--prot", "6000", "--openai-api-kye=sk-secret-typo", "-x"};
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 3);
  CHECK(errors.errors[0].code == errc::unknown_flag);
  CHECK(contains(errors.errors[0].message, "--prot"));
  CHECK(contains(errors.errors[1].message, "--openai-api-kye"));
  CHECK(contains(errors.errors[2].message, "-x"));
  CHECK_FALSE(contains(format_errors(errors), "sk-secret-typo"));
  CHECK_FALSE(contains(format_errors(errors), "6000"));
}

TEST_CASE("settings: a positional argument is an error that does not echo it") {
  inputs given;
  given.arguments = {"--port", "6000", "sk-pasted-secret", "also-this"};
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 2);
  CHECK(errors.errors[0].code == errc::unexpected_argument);
  CHECK(contains(errors.errors[0].message, "#3"));
  CHECK_FALSE(contains(format_errors(errors), "sk-pasted-secret"));
}

TEST_CASE("settings: --help is recognised and does not disturb loading") {
  const std::vector<std::string> with_help{"--port", "6000", "--help"};
  CHECK(help_requested(with_help));
  CHECK(help_requested(std::vector<std::string>{"-h"}));
  CHECK_FALSE(help_requested(std::vector<std::string>{"--port", "6000"}));
  inputs given;
  given.arguments = with_help;
  CHECK(load_ok(given).port == 6000);
}

TEST_CASE("settings: arguments_from_argv drops the program name") {
  const char* argv[] = {"switchboard", "--port", "6000"};
  CHECK(arguments_from_argv(3, argv) == std::vector<std::string>{"--port", "6000"});
  CHECK(arguments_from_argv(1, argv).empty());
}

TEST_CASE("settings: process_environment() reads the real environment") {
  const auto environment = process_environment();
  CHECK_FALSE(environment("SWITCHBOARD_CONFIG_TEST_VARIABLE_THAT_IS_NEVER_SET"));
  const char* path = std::getenv("PATH");
  CHECK(environment("PATH") == (path == nullptr ? std::nullopt : std::optional<std::string>(path)));
}

TEST_CASE("settings: unknown keys in the environment and .env are ignored") {
  inputs given;
  given.environment["HOME"] = "/root";
  given.environment["SOME_OTHER_TOOL"] = "x";
  given.dotenv = "DATABASE_URL=postgres://x\nPORT=6100\n";
  CHECK(load_ok(given).port == 6100);
}

TEST_CASE("settings: an empty environment value is a value, not an absence") {
  inputs given;
  given.dotenv = "OPENAI_TRANSCRIPTION_MODEL=gpt-4o-transcribe\nPUBLIC_URL=https://x.example\n";
  given.environment["OPENAI_TRANSCRIPTION_MODEL"] = "";
  given.environment["PUBLIC_URL"] = "";
  const auto loaded = load_ok(given);
  CHECK(loaded.openai_transcription_model.empty());
  CHECK_FALSE(loaded.public_url);
}

TEST_CASE("settings: a malformed .env line fails the load with the file and line") {
  const testing::temporary_directory directory;
  const auto dotenv_path = directory.write(".env", "PORT=6000\n\nnot a line\n");
  const auto loaded = load({}, environment_from_map({{"TWILIO_AUTH_TOKEN", "t"}}), dotenv_path);
  REQUIRE_FALSE(loaded.has_value());
  REQUIRE(loaded.error().errors.size() == 1);
  CHECK(loaded.error().errors[0].message == dotenv_path.string() + " line 3: expected KEY=VALUE");
}

// ---------------------------------------------------------------------------------------------
// Valid and invalid values
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: booleans accept true/false/1/0/yes/no/on/off in any case") {
  for (const auto* word : {"true", "TRUE", "1", "yes", "Yes", "on", "ON"}) {
    INFO(word);
    inputs given;
    given.environment["ALLOW_UNSIGNED_TWILIO"] = word;
    CHECK(load_ok(given).allow_unsigned_twilio);
  }
  for (const auto* word : {"false", "False", "0", "no", "NO", "off", "Off"}) {
    INFO(word);
    inputs given;
    given.environment["ALLOW_UNSIGNED_TWILIO"] = word;
    CHECK_FALSE(load_ok(given).allow_unsigned_twilio);
  }
}

TEST_CASE("settings: valid values at the edges of their ranges") {
  inputs given;
  given.environment["PORT"] = "65535";
  given.environment["IO_THREADS"] = "64";
  given.environment["METRICS_PORT"] = "0";
  given.environment["BIND_ADDRESS"] = "::";
  given.environment["TWILIO_ACCOUNT_SID"] = "AC0123456789abcdefABCDEF0123456789";
  given.environment["TWILIO_PHONE_NUMBER"] = "+14155550100";
  given.environment["OPENAI_REALTIME_URL"] = "ws://127.0.0.1:9000/v1/realtime";
  given.environment["OPENAI_TURN_DETECTION"] = "Semantic_VAD";
  given.environment["LOG_FORMAT"] = "JSON";
  given.environment["LOG_LEVEL"] = "off";
  given.environment["OPENAI_VOICE"] = "Cedar";
  given.environment["TWILIO_API_BASE"] = "http://127.0.0.1:8080/";
  auto loaded = load_ok(given);
  CHECK(loaded.port == 65535);
  CHECK(loaded.io_threads == 64);
  CHECK(loaded.metrics_port == std::optional<std::uint16_t>(0));
  CHECK(loaded.bind_address == "::");
  CHECK(loaded.twilio_phone_number == "+14155550100");
  CHECK(loaded.openai_realtime_url == "ws://127.0.0.1:9000/v1/realtime");
  CHECK(loaded.openai_turn_detection == turn_detection::semantic_vad);
  CHECK(loaded.log_format == log_format::json);
  CHECK(loaded.log_level == log_level::off);
  CHECK(loaded.openai_voice == "cedar");
  CHECK(loaded.twilio_api_base == "http://127.0.0.1:8080");

  given.environment["PORT"] = "1";
  given.environment["METRICS_PORT"] = "9100";
  given.environment["TWILIO_PHONE_NUMBER"] = "+123456789012345";
  loaded = load_ok(given);
  CHECK(loaded.port == 1);
  CHECK(loaded.metrics_port == std::optional<std::uint16_t>(9100));
  CHECK(loaded.twilio_phone_number == "+123456789012345");
}

TEST_CASE("settings: PUBLIC_URL loses its trailing slash and gives its host") {
  inputs given;
  given.environment["PUBLIC_URL"] = "https://voice.example.com/";
  auto loaded = load_ok(given);
  CHECK(loaded.public_url == std::optional<std::string>("https://voice.example.com"));
  CHECK(loaded.public_host() == std::optional<std::string>("voice.example.com"));

  given.environment["PUBLIC_URL"] = "http://[::1]:8443/base//";
  loaded = load_ok(given);
  CHECK(loaded.public_url == std::optional<std::string>("http://[::1]:8443/base"));
  CHECK(loaded.public_host() == std::optional<std::string>("[::1]:8443"));
}

TEST_CASE("settings: every setting's invalid forms are errors naming that setting") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> invalid{
      {"PORT",
       {"abc", "65536", "-1", "+5050", "5050x", " 5050", "", "0x10", "99999999999999999999999"}},
      {"BIND_ADDRESS", {"localhost", "1.2.3", "", "0.0.0.0 ", "256.0.0.1"}},
      {"PUBLIC_URL",
       {"voice.example.com", "ftp://voice.example.com", "wss://voice.example.com", "https://",
        "https://voice.example.com/?a=1", "https://voice.example.com/#top",
        "https://user:pw@voice.example.com", "https://exa mple.com"}},
      {"IO_THREADS", {"65", "-1", "many", "", "1.5"}},
      {"METRICS_PORT", {"65536", "abc", "-1", "9100 "}},
      {"NODE_NAME", {"pod 1", "pod/1", "node\n", std::string(254, 'a')}},
      {"NODE_STREAM_URL",
       {"https://node-0.example.com/media-stream", "wss://node-0.example.com/",
        "wss://node-0.example.com/media-stream?x=1", "node-0.example.com/media-stream",
        "wss:///media-stream"}},
      {"CLUSTER_PORT", {"65536", "abc", "-1", "4000 "}},
      {"CLUSTER_BIND", {"localhost", "1.2.3", "0.0.0.0 "}},
      {"CLUSTER_SEEDS", {"host", "host:0", ":4000", "a:4000,,b:4000", "a:4000,", "host:port"}},
      {"CLUSTER_DNS", {"pods of switchboard", "a_b.svc", "name;rm", std::string(254, 'a')}},
      {"CLUSTER_INSECURE", {"maybe", "", "2"}},
      {"CLUSTER_TLS_CERT", {"node.pem\n"}},
      {"CLUSTER_TLS_KEY", {"key\r.pem"}},
      {"CLUSTER_TLS_CA", {"ca\n.pem"}},
      {"OPENAI_API_KEY", {"sk-abc def", "sk-abc\n", "\tsk"}},
      {"OPENAI_REALTIME_URL",
       {"https://api.openai.com/v1/realtime", "", "wss://", "not a url",
        "wss://api.openai.com/v1/realtime#frag", "api.openai.com/v1/realtime"}},
      {"OPENAI_VOICE", {"nova", "", "marin "}},
      {"OPENAI_TURN_DETECTION", {"vad", "", "none"}},
      {"OPENAI_TRANSCRIPTION_MODEL", {"whisper 1", "whisper-1\n"}},
      {"MODEL_READY_TIMEOUT", {"0", "61", "5s", "", "-1"}},
      {"MODEL_SILENCE_TIMEOUT", {"1", "601", "20s", "", "-1"}},
      {"TRANSFER_TO", {"14155550100", "+1415555", "+1-415-555-0100"}},
      {"TWILIO_ACCOUNT_SID",
       {"AC123", "XX0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcdeg",
        "AC0123456789abcdef0123456789abcdef0"}},
      {"TWILIO_AUTH_TOKEN", {"tok en", "token\r\n"}},
      {"TWILIO_PHONE_NUMBER",
       {"14155550100", "+1415555", "+1234567890123456", "+04155550100", "+1-415-555-0100", "+"}},
      {"TWILIO_API_BASE",
       {"api.twilio.com", "ftp://api.twilio.com", "https://api.twilio.com?x=1", ""}},
      {"ALLOW_UNSIGNED_TWILIO", {"maybe", "", "2", "truee"}},
      {"RECORDINGS_DIR", {""}},
      {"API_TOKEN", {"tok en", "token\n"}},
      {"ALLOWED_DESTINATIONS", {"1", "+", "+0", "+1,", "+1,,+44", "+1 ", "+12345678901234567"}},
      {"CALLS_PER_MINUTE", {"0", "10001", "ten", ""}},
      {"GREETING", {std::string(4097, 'x')}},
      {"IDLE_TIMEOUT", {"-1", "3601", "soon", ""}},
      {"MAX_CALL_DURATION", {"86401", "1h", ""}},
      {"MAX_CALLS", {"-1", "100001", "lots", "", "1.5"}},
      {"FULL_MESSAGE", {"", std::string(1025, 'x'), "busy\nline", "busy\x01", "tab\there"}},
      {"MAX_LOOP_LAG_MS", {"-1", "10001", "40ms", ""}},
      {"START_TIMEOUT", {"0", "301", "5s", ""}},
      {"DRAIN_TIMEOUT", {"-1", "86401", "5m", ""}},
      {"DRAIN_MESSAGE", {"", std::string(1025, 'x'), "bye\nnow", "bye\x01"}},
      {"RECORDINGS", {"maybe", "", "2", "offf"}},
      {"RECORDINGS_BUCKET_URL", {"https://bucket", "s3://", "s3://ab", "s3://Bucket"}},
      {"S3_ENDPOINT", {"minio:9000", "ftp://minio"}},
      {"AWS_REGION", {"EU", "eu west"}},
      {"AWS_ACCESS_KEY_ID", {"key id"}},
      {"AWS_SECRET_ACCESS_KEY", {"key\n"}},
      {"AWS_SESSION_TOKEN", {"tok en"}},
      {"S3_FORCE_PATH_STYLE", {"maybe", "2"}},
      {"RECORDINGS_KEEP_LOCAL", {"maybe", ""}},
      {"RECORDINGS_PRESIGN", {"maybe", ""}},
      {"UPLOAD_CONCURRENCY", {"0", "17", "two", ""}},
      {"LOG_FORMAT", {"xml", ""}},
      {"LOG_LEVEL", {"verbose", "warning", ""}},
  };

  // Every setting that can be invalid on its own is covered; the two instruction settings can
  // only be invalid together or through the file (tested below), TOOLS_FILE only through its
  // file (test_tools_file.cpp).
  std::set<std::string> covered;
  for (const auto& [name, values] : invalid) {
    covered.insert(name);
  }
  for (const auto& row : setting_descriptors()) {
    if (row.name != "OPENAI_INSTRUCTIONS" && row.name != "OPENAI_INSTRUCTIONS_FILE" &&
        row.name != "TOOLS_FILE") {
      CHECK(covered.contains(std::string(row.name)));
    }
  }

  for (const auto& [name, values] : invalid) {
    for (const auto& value : values) {
      INFO(name << "=" << value);
      inputs given;
      given.environment[name] = value;
      if (name == "TWILIO_AUTH_TOKEN") {
        given.environment["ALLOW_UNSIGNED_TWILIO"] = "true";
      }
      const auto errors = load_fails(given);
      REQUIRE(errors.errors.size() == 1);
      CHECK(errors.errors[0].code == errc::invalid_value);
      CHECK(errors.errors[0].setting == name);
      CHECK(errors.errors[0].message.starts_with(name));
      CHECK(contains(errors.errors[0].message, "(from environment): "));
    }
  }
}

TEST_CASE("settings: the error text shows the value, its source and the reason") {
  inputs given;
  given.environment["PORT"] = "abc";
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0].message == "PORT=abc (from environment): not a number in 0..65535");
  CHECK(format_errors(errors) ==
        "invalid configuration (1 problem):\n"
        "  PORT=abc (from environment): not a number in 0..65535\n");
}

TEST_CASE("settings: several problems from every source are reported at once") {
  inputs given;
  given.dotenv = "# comment\nOPENAI_VOICE=nova\n";
  given.environment["PORT"] = "abc";
  given.environment["LOG_LEVEL"] = "loud";
  given.arguments = {"--io-threads=100", "--twilio-phone-number", "555"};
  const auto errors = load_fails(given);
  CHECK(errors.errors.size() == 5);

  const auto* voice = find_error(errors, "OPENAI_VOICE");
  REQUIRE(voice);
  CHECK(contains(voice->message, "OPENAI_VOICE=nova (from "));
  CHECK(contains(voice->message, ".env line 2): not one of alloy, ash,"));
  const auto* port = find_error(errors, "PORT");
  REQUIRE(port);
  CHECK(port->message == "PORT=abc (from environment): not a number in 0..65535");
  const auto* level = find_error(errors, "LOG_LEVEL");
  REQUIRE(level);
  CHECK(contains(level->message, "LOG_LEVEL=loud (from environment)"));
  const auto* threads = find_error(errors, "IO_THREADS");
  REQUIRE(threads);
  CHECK(threads->message == "IO_THREADS=100 (from flag --io-threads): not a number in 0..64");
  const auto* phone = find_error(errors, "TWILIO_PHONE_NUMBER");
  REQUIRE(phone);
  CHECK(contains(phone->message, "(from flag --twilio-phone-number)"));

  const auto text = format_errors(errors);
  CHECK(text.starts_with("invalid configuration (5 problems):\n"));
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);
}

TEST_CASE("settings: a higher source's valid value hides a lower source's invalid one") {
  inputs given;
  given.dotenv = "PORT=abc\n";
  given.environment["PORT"] = "6000";
  CHECK(load_ok(given).port == 6000);
}

TEST_CASE("settings: value() on a failed load throws with the formatted errors") {
  inputs given;
  given.environment["PORT"] = "abc";
  auto loaded = load_with(given);
  CHECK_THROWS_WITH(loaded.value(), Catch::Contains("PORT=abc (from environment)"));
}

// ---------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: describe() shows secrets only as <set> or <unset>") {
  inputs given;
  given.environment["OPENAI_API_KEY"] = "sk-live-HUSH-openai-0001";
  given.environment["TWILIO_AUTH_TOKEN"] = "HUSH-twilio-token-0002";
  given.environment["PORT"] = "6000";
  const auto loaded = load_ok(given);
  CHECK(loaded.openai_api_key == "sk-live-HUSH-openai-0001");
  CHECK(loaded.has_openai_credentials());

  const auto lines = describe(loaded);
  const auto text = joined(lines);
  CHECK_FALSE(contains(text, "HUSH"));
  CHECK(contains(text, "OPENAI_API_KEY=<set>\n"));
  CHECK(contains(text, "TWILIO_AUTH_TOKEN=<set>\n"));
  CHECK(contains(text, "PORT=6000\n"));
  CHECK(lines.size() == setting_descriptors().size());

  settings empty;
  const auto unset_text = joined(describe(empty));
  CHECK(contains(unset_text, "OPENAI_API_KEY=<unset>\n"));
  CHECK(contains(unset_text, "TWILIO_AUTH_TOKEN=<unset>\n"));
  CHECK(contains(unset_text, "PUBLIC_URL=<unset>\n"));
}

TEST_CASE("settings: an invalid secret's error never contains the secret, from any source") {
  const std::string secret = "sk-HUSH-with space";
  const std::string secret_token = "HUSH token";

  inputs from_dotenv;
  from_dotenv.environment = {};
  from_dotenv.dotenv =
      "# keys\n\nOPENAI_API_KEY=\"" + secret + "\"\nTWILIO_AUTH_TOKEN='" + secret_token + "'\n";
  const auto dotenv_errors = load_fails(from_dotenv);
  const auto* key = find_error(dotenv_errors, "OPENAI_API_KEY");
  REQUIRE(key);
  CHECK(key->message.starts_with("OPENAI_API_KEY (from "));
  CHECK(contains(key->message, ".env line 3): contains whitespace"));
  CHECK(find_error(dotenv_errors, "TWILIO_AUTH_TOKEN"));

  inputs from_environment;
  from_environment.environment["OPENAI_API_KEY"] = secret;
  const auto environment_errors = load_fails(from_environment);

  inputs from_flag;
  from_flag.arguments = {"--openai-api-key", secret, "--twilio-auth-token=" + secret_token};
  const auto flag_errors = load_fails(from_flag);
  REQUIRE(find_error(flag_errors, "OPENAI_API_KEY"));
  CHECK(find_error(flag_errors, "OPENAI_API_KEY")
            ->message.starts_with("OPENAI_API_KEY (from flag --openai-api-key): "));

  settings built = valid_code_built();
  built.openai_api_key = secret;
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  const auto validate_errors = validated.error();

  for (const auto* errors : {&dotenv_errors, &environment_errors, &flag_errors, &validate_errors}) {
    const auto text = format_errors(*errors);
    INFO(text);
    CHECK_FALSE(contains(text, "HUSH"));
  }
}

TEST_CASE("settings: a valid secret next to an invalid setting does not leak either") {
  inputs given;
  given.environment["OPENAI_API_KEY"] = "sk-HUSH-valid";
  given.environment["TWILIO_AUTH_TOKEN"] = "HUSH-valid-token";
  given.environment["PORT"] = "none";
  const auto errors = load_fails(given);
  CHECK_FALSE(contains(format_errors(errors), "HUSH"));
}

// ---------------------------------------------------------------------------------------------
// Instructions and the instructions file
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: OPENAI_INSTRUCTIONS_FILE's contents become the instructions") {
  const testing::temporary_directory directory;
  const auto file = directory.write("prompt.txt", "You are a dentist's receptionist.\nBe brief.\n");
  inputs given;
  given.environment["OPENAI_INSTRUCTIONS_FILE"] = file.string();
  const auto loaded = load_ok(given);
  CHECK(loaded.openai_instructions == "You are a dentist's receptionist.\nBe brief.");
  CHECK(loaded.openai_instructions_file == std::optional<std::filesystem::path>(file));
  // The loaded settings pass validate() again, as the cluster will do.
  CHECK(validation_problems(loaded) == "");

  const auto text = joined(describe(loaded));
  CHECK(contains(text, "OPENAI_INSTRUCTIONS_FILE=" + file.string() + "\n"));
  CHECK(contains(text, "OPENAI_INSTRUCTIONS=You are a dentist's receptionist.\\nBe brief.\n"));
}

TEST_CASE("settings: explicit OPENAI_INSTRUCTIONS is used as given") {
  inputs given;
  given.arguments = {"--openai-instructions", "Speak like a pirate."};
  CHECK(load_ok(given).openai_instructions == "Speak like a pirate.");
}

TEST_CASE("settings: an unreadable instructions file is an error naming it") {
  const testing::temporary_directory directory;
  const auto missing = directory.path() / "missing-prompt.txt";
  inputs given;
  given.arguments = {"--openai-instructions-file", missing.string()};
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0].code == errc::unreadable_file);
  CHECK(errors.errors[0].setting == "OPENAI_INSTRUCTIONS_FILE");
  CHECK(errors.errors[0].message ==
        "OPENAI_INSTRUCTIONS_FILE=" + missing.string() +
            " (from flag --openai-instructions-file): cannot read: not found");

  inputs a_directory;
  a_directory.environment["OPENAI_INSTRUCTIONS_FILE"] = directory.path().string();
  const auto directory_errors = load_fails(a_directory);
  REQUIRE(directory_errors.errors.size() == 1);
  CHECK(contains(directory_errors.errors[0].message, "not a regular file"));
}

TEST_CASE("settings: an empty instructions file is an error") {
  const testing::temporary_directory directory;
  const auto file = directory.write("empty.txt", "\n\n");
  inputs given;
  given.environment["OPENAI_INSTRUCTIONS_FILE"] = file.string();
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(contains(errors.errors[0].message, "the file is empty"));
}

TEST_CASE("settings: setting both OPENAI_INSTRUCTIONS and its file is an error") {
  const testing::temporary_directory directory;
  const auto file = directory.write("prompt.txt", "From the file.");
  inputs given;
  given.dotenv = "OPENAI_INSTRUCTIONS=From dotenv.\n";
  given.environment["OPENAI_INSTRUCTIONS_FILE"] = file.string();
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0].code == errc::conflicting_settings);
  CHECK(contains(errors.errors[0].message, "OPENAI_INSTRUCTIONS (from "));
  CHECK(contains(errors.errors[0].message, "OPENAI_INSTRUCTIONS_FILE=" + file.string()));
  CHECK(contains(errors.errors[0].message, "both are set"));

  // The default text counts as set when it was given explicitly.
  inputs default_text = given;
  default_text.dotenv = std::nullopt;
  default_text.environment["OPENAI_INSTRUCTIONS"] = std::string(default_openai_instructions);
  CHECK(load_fails(default_text).errors.size() == 1);
}

// ---------------------------------------------------------------------------------------------
// validate() and its cross-field rules
// ---------------------------------------------------------------------------------------------

TEST_CASE("validate: settings built in code obey the same rules as loaded ones") {
  CHECK(validation_problems(valid_code_built()) == "");

  settings built = valid_code_built();
  built.bind_address = "not-an-ip";
  built.public_url = "ftp://voice.example.com";
  built.openai_voice = "nova";
  built.io_threads = 65;
  built.log_level = static_cast<log_level>(3);  // warn: valid
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  const auto& errors = validated.error();
  CHECK(errors.errors.size() == 4);
  REQUIRE(find_error(errors, "BIND_ADDRESS"));
  CHECK(find_error(errors, "BIND_ADDRESS")->message.starts_with("BIND_ADDRESS=not-an-ip: "));
  REQUIRE(find_error(errors, "PUBLIC_URL"));
  CHECK(find_error(errors, "PUBLIC_URL")->message ==
        "PUBLIC_URL=ftp://voice.example.com: scheme must be http or https");
  CHECK(find_error(errors, "OPENAI_VOICE"));
  CHECK(find_error(errors, "IO_THREADS"));
}

TEST_CASE("validate: instructions set in code together with a file conflict") {
  const testing::temporary_directory directory;
  const auto file = directory.write("prompt.txt", "From the file.\n");
  settings built = valid_code_built();
  built.openai_instructions_file = file;
  CHECK(validation_problems(built) == "");  // default instructions: the file provides them

  built.openai_instructions = "From the file.";
  CHECK(validation_problems(built) == "");  // as load() leaves them

  built.openai_instructions = "Something else.";
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  REQUIRE(validated.error().errors.size() == 1);
  CHECK(validated.error().errors[0].code == errc::conflicting_settings);
  CHECK(validated.error().errors[0].setting == "OPENAI_INSTRUCTIONS_FILE");

  built.openai_instructions_file = directory.path() / "gone.txt";
  const auto missing = validate(built);
  REQUIRE_FALSE(missing.has_value());
  CHECK(contains(missing.error().errors[0].message, "gone.txt"));
}

TEST_CASE("validate: without TWILIO_AUTH_TOKEN the insecure switch is required") {
  settings built;
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  REQUIRE(validated.error().errors.size() == 1);
  CHECK(validated.error().errors[0].code == errc::missing_setting);
  CHECK(validated.error().errors[0].setting == "TWILIO_AUTH_TOKEN");
  CHECK(contains(validated.error().errors[0].message, "ALLOW_UNSIGNED_TWILIO"));

  built.allow_unsigned_twilio = true;
  CHECK(validation_problems(built) == "");

  inputs given;
  given.environment = {};
  CHECK(find_error(load_fails(given), "TWILIO_AUTH_TOKEN"));
  given.dotenv = "ALLOW_UNSIGNED_TWILIO=yes\n";
  CHECK(load_ok(given).allow_unsigned_twilio);
}

TEST_CASE("validate: METRICS_PORT may not equal PORT, 0 is any free port") {
  settings built = valid_code_built();
  built.port = 8080;
  built.metrics_port = 8080;
  const auto validated = validate(built);
  REQUIRE_FALSE(validated.has_value());
  REQUIRE(validated.error().errors.size() == 1);
  CHECK(validated.error().errors[0].setting == "METRICS_PORT");

  built.metrics_port = 0;
  CHECK(validation_problems(built) == "");

  inputs given;
  given.environment["PORT"] = "9000";
  given.arguments = {"--metrics-port=9000"};
  const auto errors = load_fails(given);
  REQUIRE(errors.errors.size() == 1);
  CHECK(contains(errors.errors[0].message, "METRICS_PORT=9000 (from flag --metrics-port)"));
}

TEST_CASE("settings: credential helpers need every part") {
  settings built;
  built.openai_api_key = "k";
  CHECK(built.has_openai_credentials());
  built.twilio_auth_token = "t";
  CHECK_FALSE(built.has_twilio_credentials());
  built.twilio_account_sid = "AC0123456789abcdef0123456789abcdef";
  CHECK(built.has_twilio_credentials());
  built.twilio_auth_token.clear();
  CHECK_FALSE(built.has_twilio_credentials());
}

// ---------------------------------------------------------------------------------------------
// Documentation generated from the table
// ---------------------------------------------------------------------------------------------

TEST_CASE("settings: the Markdown table lists every setting, secrets without a default") {
  const auto table = settings_markdown_table();
  CHECK(table.starts_with("| Setting | Default | Description |\n|---|---|---|\n"));
  for (const auto& row : setting_descriptors()) {
    INFO(row.name);
    CHECK(contains(table, "| `" + std::string(row.name) + "` |"));
  }
  CHECK(contains(table, "| `PORT` | `5050` |"));
  CHECK(contains(table, "| `OPENAI_API_KEY` |  |"));
  CHECK(contains(table, "| `TWILIO_AUTH_TOKEN` |  |"));
  CHECK(std::count(table.begin(), table.end(), '\n') ==
        static_cast<long>(setting_descriptors().size()) + 2);
}

TEST_CASE("settings: --help lists every flag") {
  const auto help = flags_help();
  for (const auto& row : setting_descriptors()) {
    INFO(row.name);
    CHECK(contains(help, "  " + flag_name(row.name) + " "));
  }
  CHECK(contains(help, "--help"));
}

TEST_CASE("settings: describe() keeps long values on one bounded line") {
  settings built = valid_code_built();
  built.openai_instructions = std::string(500, 'x') + "\nend";
  const auto lines = describe(built);
  const auto found = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
    return line.starts_with("OPENAI_INSTRUCTIONS=");
  });
  REQUIRE(found != lines.end());
  CHECK(found->size() < 120);
  CHECK(contains(*found, "(504 characters)"));
  CHECK_FALSE(contains(*found, "\n"));
}

TEST_CASE("settings: outbound calls: allowed destination prefixes and the per-minute limit") {
  inputs given;
  given.environment["ALLOWED_DESTINATIONS"] = "+1415,+44";
  given.environment["CALLS_PER_MINUTE"] = "3";
  given.environment["API_TOKEN"] = "a-long-random-token";
  const auto loaded = load_ok(given);
  CHECK(loaded.allowed_destinations == std::vector<std::string>{"+1415", "+44"});
  CHECK(loaded.calls_per_minute == 3);
  CHECK(loaded.api_token == "a-long-random-token");
  CHECK(load_ok(inputs{}).allowed_destinations.empty());
  CHECK(load_ok(inputs{}).calls_per_minute == 10);
}

}  // namespace switchboard::config
