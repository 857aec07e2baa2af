// Call control and the agent's conduct: the API's routes one by one, then live calls steered
// through it (list, say, hang up, transfer), the greeting, keypad entries and the idle guard —
// all over real sockets with both stand-ins.
#include "app/call_control.hpp"
#include "bridge_harness.hpp"
#include "net/http_server.hpp"
#include "sim/speech_fixtures.hpp"
#include "sim/twilio_rest_server.hpp"
#include "support/running_io.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* api_token = "control-api-token";
constexpr const char* account_sid = "AC0123456789abcdef0123456789abcdef";

net::http_client_request api(std::string method, std::string body = {},
                             std::string token = api_token) {
  net::http_client_request request;
  request.method = std::move(method);
  request.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  request.body = std::move(body);
  return request;
}

boost::json::object json_of(const net::http_client_response& response) {
  INFO(response.body);
  auto parsed = boost::json::parse(response.body);
  REQUIRE(parsed.is_object());
  return parsed.as_object();
}

std::string error_of(const net::http_client_response& response) {
  const auto body = json_of(response);
  const auto* error = body.if_contains("error");
  return error != nullptr && error->is_string() ? std::string(error->as_string()) : std::string{};
}

bool contains(const std::vector<std::string>& texts, std::string_view part) {
  return std::any_of(texts.begin(), texts.end(),
                     [&](const std::string& text) { return text.find(part) != std::string::npos; });
}

bool transcript_has(const boost::json::object& call, std::string_view speaker,
                    std::string_view text) {
  for (const auto& line : call.at("transcript").as_array()) {
    const auto& entry = line.as_object();
    if (entry.at("speaker").as_string() == speaker &&
        std::string_view(entry.at("text").as_string()).find(text) != std::string_view::npos)
      return true;
  }
  return false;
}

bridge_harness::options with_api(std::function<void(config::settings&)> more = {}) {
  bridge_harness::options options;
  options.configure = [more](config::settings& settings) {
    settings.api_token = api_token;
    settings.allowed_destinations = {"+1415"};
    if (more)
      more(settings);
  };
  return options;
}

/// The Twilio account the bridge places and redirects calls through: the REST stand-in, whose
/// callee follows `script` once the call is answered.
struct twilio_account {
  testing::running_io io;
  std::unique_ptr<sim::twilio_rest_server> rest;

  explicit twilio_account(std::vector<sim::caller_step> script) {
    sim::twilio_rest_server_options options;
    options.account_sid = account_sid;
    options.auth_token = "harness-auth-token";  // the harness's TWILIO_AUTH_TOKEN
    options.callee.script = std::move(script);
    auto started = sim::twilio_rest_server::start(io.io, options);
    REQUIRE(started.has_value());
    rest = std::move(*started);
  }
  /// The bridge's settings for this account.
  void configure(config::settings& settings) const {
    settings.twilio_account_sid = account_sid;
    settings.twilio_phone_number = "+15005550006";
    settings.twilio_api_base = rest->base_url();
    settings.public_url = "http://127.0.0.1:9";  // callbacks: a closed port answers at once
  }
  /// Places a call through the bridge's POST /calls; answered calls stream into `harness`.
  std::string dial(bridge_harness& harness, const std::string& to) {
    const auto port = harness.server().port();
    rest->set_stream_connect_address("127.0.0.1:" + std::to_string(port));
    const auto placed = harness.send(port, "/calls", api("POST", R"({"to":")" + to + R"("})"));
    REQUIRE(placed.status == 201);
    return std::string(json_of(placed).at("call_sid").as_string());
  }
};

}  // namespace

TEST_CASE("call-control routes: paths, methods and sids", "[control]") {
  using action = app::call_control_route::action;
  const auto route = [](std::string_view method, std::string_view path) {
    return app::parse_call_control_route(method, path);
  };
  CHECK_FALSE(route("POST", "/calls").has_value());  // the dialer's
  CHECK_FALSE(route("GET", "/healthz").has_value());
  CHECK_FALSE(route("GET", "/callsX").has_value());
  CHECK((*route("GET", "/calls"))->what == action::list);
  const auto show = *route("GET", "/calls/CA123");
  REQUIRE(show.has_value());
  CHECK(show->what == action::show);
  CHECK(show->call_sid == "CA123");
  CHECK((*route("POST", "/calls/CA1/hangup"))->what == action::hangup);
  CHECK((*route("POST", "/calls/CA1/transfer"))->what == action::transfer);
  CHECK((*route("POST", "/calls/CA1/say"))->what == action::say);
  const auto file = *route("GET", "/calls/CA1/recordings/stereo.wav");
  REQUIRE(file.has_value());
  CHECK(file->what == action::recording);
  CHECK(file->file == "stereo.wav");

  CHECK(route("GET", "/calls/CA1/hangup")->error().status == 405);
  CHECK(route("DELETE", "/calls/CA1")->error().status == 405);
  CHECK(route("GET", "/calls/CA1/unknown")->error().status == 404);
  CHECK(route("GET", "/calls/..%2F..%2Fetc")->error().status == 404);
  CHECK(route("GET", "/calls/")->error().status == 404);

  CHECK(app::recording_content_type("stereo.wav") == "audio/wav");
  CHECK(app::recording_content_type("call.json") == "application/json");
  CHECK_FALSE(app::recording_content_type("../../etc/passwd").has_value());
  CHECK_FALSE(app::recording_content_type("").has_value());
}

TEST_CASE("a call's JSON: live with its duration so far, ended with its recordings", "[control]") {
  actors::call_view view;
  view.identity.call_sid = "CA1";
  view.identity.from = "+14155550100";
  view.direction = "inbound";
  const auto t0 = std::chrono::system_clock::time_point{} + 1000h;
  view.started_at = t0;
  view.barge_ins = 2;
  view.transcript = {{"caller", "i1", "hello", 120}};
  auto live = app::call_json_object(view, nullptr, t0 + 2500ms, true);
  CHECK(live.at("state").as_string() == "live");
  CHECK(live.at("duration_s").as_double() == 2.5);
  CHECK(live.at("barge_ins").as_uint64() == 2);
  CHECK_FALSE(live.contains("recordings"));
  REQUIRE(live.at("transcript").as_array().size() == 1);
  CHECK(app::call_json_object(view, nullptr, t0, false).contains("transcript") == false);

  view.state = actors::call_state::ended;
  view.ended_at = t0 + 10s;
  view.end_reason = "twilio stop";
  view.directory = "/recordings/2026-11-24/CA1";
  view.files = {"caller.wav", "agent.wav", "transcript.jsonl", "call.json"};
  auto ended = app::call_json_object(view, nullptr, t0 + 1h, false);
  CHECK(ended.at("duration_s").as_double() == 10.0);
  CHECK(ended.at("end_reason").as_string() == "twilio stop");
  const auto& recordings = ended.at("recordings").as_array();
  REQUIRE(recordings.size() == 4);
  CHECK(recordings[0].as_string() == "/calls/CA1/recordings/caller.wav");
}

TEST_CASE(
    "an operator lists a live call, makes the agent speak, hangs it up and fetches its "
    "recording",
    "[control][end_to_end]") {
  bridge_harness harness(with_api());
  const auto port = harness.server().port();
  std::promise<void> spoken;
  std::promise<void> first_hold;
  std::promise<void> second_hold;
  std::promise<void> never;
  auto options = harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),
      sim::wait_for_agent_silence(300ms),
      sim::hold_until(spoken.get_future().share(), [&] { first_hold.set_value(); }),
      sim::wait_for_agent_audio(200ms),  // what the operator made the agent say
      sim::hold_until(never.get_future().share(), [&] { second_hold.set_value(); }),
  });
  auto call = harness.start(options);
  first_hold.get_future().wait();

  const auto list = harness.send(port, "/calls", api("GET"));
  REQUIRE(list.status == 200);
  const auto calls = json_of(list).at("calls").as_array();
  REQUIRE(calls.size() == 1);
  const auto& live = calls[0].as_object();
  const std::string sid(live.at("call_sid").as_string());
  CHECK(sid.starts_with("CA"));
  CHECK(live.at("state").as_string() == "live");
  CHECK(live.at("direction").as_string() == "inbound");
  CHECK(live.at("from").as_string() == options.from);

  const auto one = harness.send(port, "/calls/" + sid, api("GET"));
  REQUIRE(one.status == 200);
  CHECK(json_of(one).at("transcript").is_array());

  CHECK(harness.send(port, "/calls/" + sid + "/say", api("POST", R"({"text":""})")).status == 400);
  const auto said = harness.send(port, "/calls/" + sid + "/say",
                                 api("POST", R"({"text":"Your order shipped."})"));
  CHECK(said.status == 202);
  spoken.set_value();
  second_hold.get_future().wait();  // the caller heard the agent say it
  CHECK(contains(harness.model().stats().response_instructions, "Your order shipped."));

  const auto hung_up = harness.send(port, "/calls/" + sid + "/hangup", api("POST"));
  CHECK(hung_up.status == 202);
  CHECK(json_of(hung_up).at("state").as_string() == "ending");
  const auto result = call.get();
  CHECK(result.call_sid == sid);
  CHECK(result.server_closed_first);  // the bridge ended it, not the caller
  // Twilio asks the <Connect action> what next: the call was ended on purpose, so <Hangup/>.
  REQUIRE(result.actions.size() == 1);
  CHECK(result.actions[0].outcome == sim::connect_action_outcome::hangup);
  CHECK(result.streams == 1);

  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "hung up through the API");

  const auto after = json_of(harness.send(port, "/calls", api("GET")));
  CHECK(after.at("calls").as_array().empty());
  REQUIRE(after.at("recent").as_array().size() == 1);
  const auto& ended = after.at("recent").as_array()[0].as_object();
  CHECK(ended.at("state").as_string() == "ended");
  CHECK(ended.at("end_reason").as_string() == "hung up through the API");
  const auto& recordings = ended.at("recordings").as_array();
  const auto stereo = "/calls/" + sid + "/recordings/stereo.wav";
  CHECK(std::any_of(recordings.begin(), recordings.end(),
                    [&](const auto& path) { return path.as_string() == stereo; }));
  const auto wav = harness.send(port, stereo, api("GET"));
  CHECK(wav.status == 200);
  CHECK(wav.body.substr(0, 4) == "RIFF");

  const auto transcript = json_of(harness.send(port, "/calls/" + sid, api("GET")));
  CHECK(transcript_has(transcript, "agent", ""));  // the agent's answers are written down

  CHECK(harness.send(port, "/calls/" + sid + "/hangup", api("POST")).status == 409);
  CHECK(harness.send(port, "/calls/" + sid + "/say", api("POST", R"({"text":"hi"})")).status ==
        409);
  never.set_value();
}

TEST_CASE("the call-control API refuses without its token and names what is missing",
          "[control][end_to_end]") {
  bridge_harness harness(with_api());
  const auto port = harness.server().port();
  CHECK(harness.send(port, "/calls", api("GET", "", "wrong")).status == 401);
  CHECK(harness.get(port, "/calls").status == 401);
  const auto unknown = harness.send(port, "/calls/CAnope", api("GET"));
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown).find("no such call") != std::string::npos);
  CHECK(harness.send(port, "/calls/CAnope/hangup", api("POST")).status == 404);
  CHECK(harness.send(port, "/calls/CAnope/transfer", api("POST", R"({"to":"+14155550100"})"))
            .status == 404);
  CHECK(harness.send(port, "/calls/CAnope/recordings/stereo.wav", api("GET")).status == 404);
  CHECK(harness.send(port, "/calls/CAnope/hangup", api("GET")).status == 405);

  bridge_harness off;  // no API_TOKEN: the API is off and says so
  const auto refused = off.send(off.server().port(), "/calls", api("GET"));
  CHECK(refused.status == 404);
  CHECK(error_of(refused).find("API_TOKEN") != std::string::npos);
}

TEST_CASE("the agent greets first, and keypad digits reach the model and the transcript",
          "[control][end_to_end]") {
  bridge_harness harness(with_api(
      [](config::settings& settings) { settings.greeting = "Welcome to the test line."; }));
  auto options = harness.call({
      sim::wait_for_agent_audio(200ms),  // the greeting, before the caller says anything
      sim::wait_for_agent_silence(300ms),
      sim::dtmf('4'),
      sim::dtmf('2'),
      sim::dtmf('#'),                    // ends the entry at once
      sim::wait_for_agent_audio(200ms),  // the agent answers the keypad entry
      sim::hangup(),
  });
  const auto result = harness.place(options);
  INFO(result.error);
  CHECK(result.ok());
  const auto model = harness.model().stats();
  REQUIRE_FALSE(model.response_instructions.empty());
  CHECK(model.response_instructions.front().find("Welcome to the test line.") != std::string::npos);
  CHECK(contains(model.user_texts, "42#"));

  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  const auto call =
      json_of(harness.send(harness.server().port(), "/calls/" + finished[0].call_sid, api("GET")));
  CHECK(transcript_has(call, "caller", "[keypad] 42#"));
}

TEST_CASE("a silent line: the agent asks once, then says goodbye and hangs up",
          "[control][end_to_end]") {
  bridge_harness harness(with_api([](config::settings& settings) { settings.idle_timeout_s = 1; }));
  std::promise<void> never;
  const auto result =
      harness.place(harness.call({sim::hold_until(never.get_future().share(), {})}));
  CHECK(result.server_closed_first);     // the bridge ended it
  CHECK(result.agent_bytes_played > 0);  // the question and the goodbye
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "idle timeout");
  const auto model = harness.model().stats();
  REQUIRE(model.response_instructions.size() == 2);
  CHECK(model.response_instructions[0].find("Are you still there?") != std::string::npos);
  CHECK(model.response_instructions[1].find("Goodbye") != std::string::npos);
  never.set_value();
}

TEST_CASE("a call at its maximum length: a spoken warning, then goodbye and the end",
          "[control][end_to_end]") {
  bridge_harness harness(
      with_api([](config::settings& settings) { settings.max_call_duration_s = 2; }));
  std::promise<void> never;
  const auto result =
      harness.place(harness.call({sim::hold_until(never.get_future().share(), {})}));
  never.set_value();
  CHECK(result.server_closed_first);
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "maximum call duration reached");
  const auto model = harness.model().stats();
  REQUIRE(model.response_instructions.size() == 2);
  CHECK(model.response_instructions[0].find("this call will end in about 1 second.") !=
        std::string::npos);
  CHECK(model.response_instructions[1].find("time limit") != std::string::npos);
  auto& node = harness.server().metrics();
  CHECK(node.call_actions(metrics::call_action::time_limit_warning).Value() == 1);
  CHECK(node.call_actions(metrics::call_action::time_limit_hangup).Value() == 1);
}

TEST_CASE("an operator transfers a call: Twilio is asked to <Dial> and the stream ends",
          "[control][end_to_end]") {
  std::promise<void> holding;
  std::promise<void> never;
  twilio_account twilio({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),  // the call is bridged: its supervisor is listed
      sim::hold_until(never.get_future().share(), [&] { holding.set_value(); }),
  });
  bridge_harness harness(with_api([&](config::settings& settings) { twilio.configure(settings); }));
  const auto port = harness.server().port();
  const auto sid = twilio.dial(harness, "+14155550100");
  holding.get_future().wait();

  const auto not_allowed =
      harness.send(port, "/calls/" + sid + "/transfer", api("POST", R"({"to":"+442071838750"})"));
  CHECK(not_allowed.status == 400);
  CHECK(error_of(not_allowed).find("ALLOWED_DESTINATIONS") != std::string::npos);
  const auto moved =
      harness.send(port, "/calls/" + sid + "/transfer", api("POST", R"({"to":"+14155550199"})"));
  INFO(moved.body);
  CHECK(moved.status == 202);
  const auto call = twilio.rest->when_finished(sid).get();
  CHECK(call.transferred_to == "+14155550199");
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].call_sid == sid);
  never.set_value();
}

TEST_CASE("end_call: the agent's goodbye plays to the end before the bridge hangs up",
          "[control][tools][end_to_end]") {
  bridge_harness::options options = with_api();
  options.model.tool_calls = {
      {.turn = 1, .name = "end_call", .arguments = "{}", .speak_first = true}};
  bridge_harness harness(options);
  std::promise<void> never;
  const auto result = harness.place(harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::hold_until(never.get_future().share(), {}),
  }));
  never.set_value();
  CHECK(result.server_closed_first);
  const auto model = harness.model().stats();
  REQUIRE(model.function_calls.size() == 1);
  CHECK(model.function_calls[0].name == "end_call");
  CHECK(model.function_outputs.empty());  // a result would make the model speak again
  // The model sends its goodbye ten times faster than it plays: had the bridge hung up when
  // end_call arrived, most of it would never have reached the caller's ear.
  CHECK(model.audio_bytes_sent > 0);
  CHECK(result.agent_bytes_played == model.audio_bytes_sent);
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "the agent ended the call");
  CHECK(harness.server().metrics().call_actions(metrics::call_action::end_call).Value() == 1);
}

TEST_CASE(
    "transfer_call: a number outside ALLOWED_DESTINATIONS is refused to the model and "
    "the call goes on",
    "[control][tools][end_to_end]") {
  bridge_harness::options options = with_api();
  options.model.tool_calls = {
      {.turn = 1, .name = "transfer_call", .arguments = R"({"to":"+442071838750"})"}};
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),  // the model's answer to the refusal
      sim::hangup(),
  }));
  INFO(result.error);
  CHECK(result.ok());
  const auto model = harness.model().stats();
  REQUIRE(model.function_outputs.size() == 1);
  CHECK(model.function_outputs[0].known_call);
  CHECK(model.function_outputs[0].output.find("ALLOWED_DESTINATIONS") != std::string::npos);
}

TEST_CASE("transfer_call: the model hands the call to a person through Twilio's <Dial>",
          "[control][tools][end_to_end]") {
  std::promise<void> never;
  twilio_account twilio({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::hold_until(never.get_future().share(), {}),
  });
  bridge_harness::options options = with_api([&](config::settings& settings) {
    twilio.configure(settings);
    settings.transfer_to = "+14155550123";  // where transfer_call goes without a number
  });
  options.model.tool_calls = {{.turn = 1, .name = "transfer_call", .arguments = "{}"}};
  bridge_harness harness(options);
  const auto sid = twilio.dial(harness, "+14155550100");
  const auto call = twilio.rest->when_finished(sid).get();
  never.set_value();
  CHECK(call.transferred_to == "+14155550123");
  const auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  CHECK(finished[0].end_reason == "transferred to +14155550123");
}

namespace {

/// A user's tool endpoint on port 0: answers with `answer`, or holds every request until the
/// test lets go (a tool that is too slow).
struct tool_endpoint {
  testing::running_io io;
  std::unique_ptr<net::http_server> server;
  std::mutex mutex;
  std::vector<std::string> bodies;
  std::vector<net::http_responder> held;

  explicit tool_endpoint(std::optional<std::string> answer) {
    auto started = net::http_server::start(
        io.io, {.bind_address = "127.0.0.1"},
        {.on_request = [](const net::http_request&) { return net::http_response::text(404, ""); },
         .on_upgrade = {},
         .on_request_async =
             [this, answer](const net::http_request& request, const net::http_responder& respond) {
               std::lock_guard lock(mutex);
               bodies.push_back(request.body);
               if (answer)
                 respond(net::http_response::json(200, *answer));
               else
                 held.push_back(respond);
               return true;
             }});
    REQUIRE(started.has_value());
    server = std::move(*started);
  }
  ~tool_endpoint() {
    std::lock_guard lock(mutex);
    for (auto& respond : held)
      respond(net::http_response::text(503, "too late\n"));
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + "/tools/lookup_order";
  }
};

config::http_tool_definition lookup_order(const std::string& url,
                                          std::chrono::milliseconds timeout) {
  config::http_tool_definition tool;
  tool.function.name = "lookup_order";
  tool.function.description = "Finds an order by its number.";
  tool.function.parameters = {{"type", "object"},
                              {"properties", {{"order", {{"type", "string"}}}}}};
  tool.url = url;
  tool.timeout = timeout;
  return tool;
}

}  // namespace

TEST_CASE(
    "a user tool: the model's arguments and the call go to its URL, its answer back to "
    "the model, a slow tool becomes an error result and the call goes on",
    "[control][tools][end_to_end]") {
  const bool answers = GENERATE(true, false);
  tool_endpoint endpoint(answers ? std::optional<std::string>(R"({"status":"shipped"})")
                                 : std::nullopt);
  bridge_harness::options options = with_api([&](config::settings& settings) {
    settings.tools = {lookup_order(endpoint.url(), answers ? 5000ms : 200ms)};
  });
  options.model.tool_calls = {
      {.turn = 1, .name = "lookup_order", .arguments = R"({"order":"A-1234"})"}};
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(200ms),  // the model speaks after the tool's result
      sim::hangup(),
  }));
  INFO(result.error);
  CHECK(result.ok());
  const auto model = harness.model().stats();
  REQUIRE(model.last_session.has_value());
  const auto& declared = model.last_session->tool_names;
  CHECK(std::find(declared.begin(), declared.end(), "lookup_order") != declared.end());
  CHECK(std::find(declared.begin(), declared.end(), "end_call") != declared.end());
  REQUIRE(model.function_outputs.size() == 1);
  auto& node = harness.server().metrics();
  if (answers) {
    CHECK(model.function_outputs[0].output == R"({"status":"shipped"})");
    CHECK(node.tool_calls("answered").Value() == 1);
  } else {
    CHECK(model.function_outputs[0].output.find("timed out") != std::string::npos);
    CHECK(node.tool_calls("timed_out").Value() == 1);
  }
  std::lock_guard lock(endpoint.mutex);
  REQUIRE(endpoint.bodies.size() == 1);
  const auto sent = boost::json::parse(endpoint.bodies[0]).as_object();
  CHECK(sent.at("tool").as_string() == "lookup_order");
  CHECK(sent.at("arguments").at("order").as_string() == "A-1234");
  CHECK(sent.at("call").at("call_sid").as_string() == result.call_sid);
}
