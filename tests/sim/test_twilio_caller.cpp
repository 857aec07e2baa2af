// The simulated Twilio caller against a small fake bridge built on net::http_server: webhook,
// signed upgrade, the stream's messages, marks and clear (protocols.md part A). Real sockets on
// port 0; the test waits on futures the handlers fulfil, never on the clock.
#include "net/base64.hpp"
#include "net/http_server.hpp"
#include "net/twilio_messages.hpp"
#include "net/twilio_signature.hpp"
#include "net/twiml.hpp"
#include "sim/twilio_caller.hpp"
#include "support/running_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace asio = boost::asio;
namespace net = switchboard::net;
namespace sim = switchboard::sim;
using namespace std::chrono_literals;

using switchboard::testing::running_io;

namespace {

constexpr const char* auth_token = "test-auth-token";
// The public URL the TwiML names; the caller reaches it through stream_connect_address.
constexpr const char* public_stream_url = "wss://bridge.example.com/media-stream";

std::vector<std::uint8_t> pattern(std::size_t count, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(count);
  // Avoid 0xFF (μ-law silence) so the pattern cannot be mistaken for padding.
  for (std::size_t i = 0; i < count; ++i) {
    bytes[i] = static_cast<std::uint8_t>((seed + i * 7) % 250);
  }
  return bytes;
}

bool contains(const std::vector<std::uint8_t>& haystack, const std::vector<std::uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

/// What the fake bridge's media-stream side saw, handed to the test when the socket closed.
struct stream_observation {
  std::vector<std::string> frames;          // every text frame from the caller, in order
  int media_frames_before_first_echo = -1;  // caller media frames between sending m1 and its echo
  std::vector<std::string> echoes_after_clear;
  bool clear_sent = false;
};

/// What each test wants the fake bridge to do on its media stream.
enum class bridge_script {
  marks_and_clear,  // media + mark "m1"; after its echo 5 s of media, marks a, b, then clear
  close_early,      // close the socket after three caller media frames
  drop_early,       // drop the TCP connection after three caller media frames (a node dies)
  listen_only,      // just record
  greet,            // 20 ms of agent audio on `start`, then just record
};

/// The bridge's media-stream handler (server side).
class fake_stream final : public net::websocket_handler {
 public:
  explicit fake_stream(bridge_script script) : script_(script) {}

  std::future<stream_observation> observed() { return done_.get_future(); }
  /// Ready when the first caller media frame has arrived.
  std::future<void> first_media() { return first_media_.get_future(); }

  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    connection_ = connection;
  }

  void on_message(std::string message, bool) override {
    seen_.frames.push_back(message);
    auto parsed = net::parse_twilio_message(message);
    if (!parsed)
      return;  // the scripted raw frame
    if (std::holds_alternative<net::twilio_start>(*parsed)) {
      stream_sid_ = std::get<net::twilio_start>(*parsed).stream_sid;
      if (script_ == bridge_script::marks_and_clear) {
        send_media(pattern(480, 1));  // 60 ms
        send_mark("m1");
        counting_ = true;
      } else if (script_ == bridge_script::greet) {
        send_media(pattern(160, 9));
      }
    } else if (const auto* media = std::get_if<net::twilio_media>(&*parsed)) {
      (void)media;
      if (++caller_media_ == 1)
        first_media_.set_value();
      if (counting_)
        ++media_since_m1_;
      if (script_ == bridge_script::close_early && caller_media_ == 3) {
        if (auto connection = connection_.lock()) {
          connection->close(net::close_code::normal, "bridge hung up");
        }
      }
      if (script_ == bridge_script::drop_early && caller_media_ == 3) {
        if (auto connection = connection_.lock())
          connection->abort();
      }
      if (long_answer_sent_ && !seen_.clear_sent && ++media_since_long_answer_ == 5) {
        std::string frame;
        net::append_twilio_clear(frame, stream_sid_);
        send(std::move(frame));
        seen_.clear_sent = true;
      }
    } else if (const auto* mark = std::get_if<net::twilio_mark>(&*parsed)) {
      if (mark->name == "m1") {
        seen_.media_frames_before_first_echo = media_since_m1_;
        counting_ = false;
        // A long answer the caller will "interrupt": 5 s in 1 s chunks.
        for (int second = 0; second < 5; ++second) {
          send_media(pattern(8000, static_cast<std::uint8_t>(second + 2)));
          if (second == 1)
            send_mark("a");
        }
        send_mark("b");
        long_answer_sent_ = true;
      } else if (seen_.clear_sent) {
        seen_.echoes_after_clear.push_back(mark->name);
      }
    }
  }

  void on_close(net::websocket_closed) override { done_.set_value(std::move(seen_)); }

 private:
  void send(std::string frame) {
    if (auto connection = connection_.lock())
      connection->send_text(std::move(frame));
  }
  void send_media(const std::vector<std::uint8_t>& audio) {
    std::string frame;
    net::append_twilio_media(frame, stream_sid_, std::span<const std::uint8_t>(audio));
    send(std::move(frame));
  }
  void send_mark(const std::string& name) {
    std::string frame;
    net::append_twilio_mark(frame, stream_sid_, name);
    send(std::move(frame));
  }

  bridge_script script_;
  std::weak_ptr<net::websocket_connection> connection_;
  std::promise<stream_observation> done_;
  std::promise<void> first_media_;
  stream_observation seen_;
  std::string stream_sid_;
  bool counting_ = false;
  int media_since_m1_ = 0;
  int caller_media_ = 0;
  bool long_answer_sent_ = false;
  int media_since_long_answer_ = 0;
};

/// A stream the bridge closes after three caller media frames, one per connection (for calls
/// that come back again and again through their <Connect action>).
class closing_stream final : public net::websocket_handler {
 public:
  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    connection_ = connection;
  }
  void on_message(std::string message, bool) override {
    auto parsed = net::parse_twilio_message(message);
    if (parsed && std::holds_alternative<net::twilio_media>(*parsed) && ++caller_media_ == 3) {
      if (auto connection = connection_.lock())
        connection->close(net::close_code::normal, "bridge hung up");
    }
  }
  void on_close(net::websocket_closed) override {}

 private:
  std::weak_ptr<net::websocket_connection> connection_;
  int caller_media_ = 0;
};

/// A <Connect action> request as the bridge received it.
struct received_action {
  std::string method;
  std::string target;
  std::vector<net::form_parameter> params;  // the form body (POST) or the query (GET)
  bool signature_ok = false;
};

/// The bridge's HTTP side: the voice webhook and the signed upgrade, as a deployment has them;
/// and POST|GET /connect-action, answered with action_status and action_twiml.
struct fake_bridge {
  explicit fake_bridge(asio::io_context& io, bridge_script script,
                       bool check_webhook_signature = true)
      : stream(std::make_shared<fake_stream>(script)) {
    auto started = net::http_server::start(
        io, {.bind_address = "127.0.0.1", .port = 0},
        {.on_request =
             [this, check_webhook_signature](const net::http_request& request) {
               std::lock_guard lock(mutex);
               if (request.path() == "/connect-action")
                 return answer_action(request);
               webhook_params = net::parse_form_body(request.body);
               webhook_content_type = std::string(request.header("content-type"));
               webhook_signature_ok = net::is_valid_twilio_signature(
                   auth_token, request.header("x-twilio-signature"), webhook_url(), webhook_params);
               if (request.method != "POST" || request.target != "/incoming-call") {
                 return net::http_response::text(404, "not found\n");
               }
               if (check_webhook_signature && !webhook_signature_ok) {
                 return net::http_response::text(403, "bad signature\n");
               }
               if (!twiml_override.empty()) {
                 // A relative <Connect action> resolves against this webhook's URL.
                 return net::http_response::text(200, twiml_override);
               }
               const std::vector<net::form_parameter> parameters = {{"callToken", "tok-123"},
                                                                    {"lang", "en"}};
               auto response = net::http_response::text(
                   200, net::connect_stream_twiml(public_stream_url, parameters));
               response.content_type = "text/xml";
               return response;
             },
         .on_upgrade =
             [this](const net::http_request& request) {
               std::lock_guard lock(mutex);
               upgrade_host = std::string(request.header("host"));
               upgrade_target = request.target;
               // Validate against the configured public wss:// URL, with no params (§A5.3).
               if (!net::is_valid_twilio_signature(auth_token, request.header("x-twilio-signature"),
                                                   stream_url, {})) {
                 return net::websocket_upgrade_decision::refused(
                     net::http_response::text(403, "bad signature\n"));
               }
               ++upgrades;
               if (stream_per_connection)
                 return net::websocket_upgrade_decision::accepted(
                     std::make_shared<closing_stream>());
               return net::websocket_upgrade_decision::accepted(stream);
             }});
    REQUIRE(started.has_value());
    server = std::move(*started);
  }

  std::string webhook_url() const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + "/incoming-call";
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }

  /// Under the lock.
  net::http_response answer_action(const net::http_request& request) {
    received_action action;
    action.method = request.method;
    action.target = request.target;
    const auto signature = request.header("x-twilio-signature");
    if (request.method == "GET") {
      // The parameters travel in the query, and the signature covers the whole URL (§A5.1).
      const auto query = request.target.find('?');
      action.params = net::parse_form_body(
          query == std::string::npos ? std::string_view() : request.target.substr(query + 1));
      action.signature_ok =
          net::is_valid_twilio_signature(auth_token, signature, base_url() + request.target, {});
    } else {
      action.params = net::parse_form_body(request.body);
      action.signature_ok = net::is_valid_twilio_signature(
          auth_token, signature, base_url() + request.target, action.params);
    }
    actions.push_back(std::move(action));
    auto response = net::http_response::text(action_status, action_twiml);
    response.content_type = "text/xml";
    return response;
  }
  std::string connect_address() const { return "127.0.0.1:" + std::to_string(server->port()); }

  sim::twilio_caller_options caller_options(std::vector<sim::caller_step> script) const {
    sim::twilio_caller_options options;
    options.webhook_url = webhook_url();
    options.auth_token = auth_token;
    options.stream_connect_address = connect_address();
    options.script = std::move(script);
    return options;
  }

  std::shared_ptr<fake_stream> stream;
  std::unique_ptr<net::http_server> server;
  std::mutex mutex;
  std::vector<net::form_parameter> webhook_params;
  std::string webhook_content_type;
  bool webhook_signature_ok = false;
  std::string upgrade_host;
  std::string upgrade_target;
  std::string twiml_override;
  /// The <Stream url> the upgrade's signature is checked against (the TwiML's).
  std::string stream_url = public_stream_url;
  int upgrades = 0;
  /// Every upgrade gets its own closing_stream instead of `stream`.
  bool stream_per_connection = false;
  std::vector<received_action> actions;
  unsigned action_status = 200;
  std::string action_twiml = net::hang_up_twiml();
};

std::string param(const std::vector<net::form_parameter>& params, const std::string& name) {
  for (const auto& p : params) {
    if (p.name == name)
      return p.value;
  }
  return "<absent>";
}

bool is_sid(const std::string& sid, const std::string& prefix) {
  return sid.size() == 34 && sid.starts_with(prefix) &&
         std::all_of(sid.begin() + 2, sid.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

TEST_CASE("a scripted call: webhook, signed upgrade, start, paced media, marks and clear",
          "[twilio_caller]") {
  // Paced by its own timer on a strand (two io threads), or by a media clock shared by the calls
  // of a single-threaded io_context, as the load generator runs them: the same call either way.
  const bool shared_clock = GENERATE(false, true);
  INFO("shared media clock: " << shared_clock);
  running_io io{shared_clock ? 1u : 2u};
  fake_bridge bridge(io.io, bridge_script::marks_and_clear);
  auto observed = bridge.stream->observed();
  const auto speech = pattern(2400, 100);  // 300 ms of "speech"

  auto options =
      bridge.caller_options({sim::speak(speech), sim::dtmf('7'), sim::send_raw("{not json"),
                             sim::wait_for_agent_silence(100ms, 5s), sim::hangup()});
  if (shared_clock)
    options.media_clock = sim::make_caller_media_clock(io.io);
  auto result = sim::twilio_caller::run(io.io, std::move(options)).get();
  const auto seen = observed.get();

  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.script_completed);
  CHECK_FALSE(result.server_closed_first);
  CHECK(is_sid(result.account_sid, "AC"));
  CHECK(is_sid(result.call_sid, "CA"));
  CHECK(is_sid(result.stream_sid, "MZ"));

  // The webhook: form-encoded, signed over the URL + sorted params, Twilio's fields.
  CHECK(result.webhook_status == 200);
  CHECK(result.twiml_ok);
  {
    std::lock_guard lock(bridge.mutex);
    CHECK(bridge.webhook_signature_ok);
    CHECK(bridge.webhook_content_type == "application/x-www-form-urlencoded");
    CHECK(param(bridge.webhook_params, "CallSid") == result.call_sid);
    CHECK(param(bridge.webhook_params, "AccountSid") == result.account_sid);
    CHECK(param(bridge.webhook_params, "CallStatus") == "ringing");
    CHECK(param(bridge.webhook_params, "Direction") == "inbound");
    CHECK(param(bridge.webhook_params, "ApiVersion") == "2010-04-01");
    CHECK(param(bridge.webhook_params, "From") == "+15005550006");
    CHECK(param(bridge.webhook_params, "To") == "+15005550001");
    // The upgrade went to the bridge directly but named the public host, as the ingress does.
    CHECK(bridge.upgrade_host == "bridge.example.com");
    CHECK(bridge.upgrade_target == "/media-stream");
  }
  CHECK(result.upgrade_status == 101);
  CHECK(result.stream_url == public_stream_url);

  // connected, then start with the TwiML's parameters; sequence numbers from 1, one per
  // message; media chunks from 1 with timestamps 20 ms apart; the raw frame as it was given.
  REQUIRE(seen.frames.size() > 20);
  auto connected = net::parse_twilio_message(seen.frames[0]);
  REQUIRE(connected.has_value());
  CHECK(std::get<net::twilio_connected>(*connected) == net::twilio_connected{"Call", "1.0.0"});
  auto start_message = net::parse_twilio_message(seen.frames[1]);
  REQUIRE(start_message.has_value());
  const auto& start = std::get<net::twilio_start>(*start_message);
  CHECK(start.sequence_number == 1);
  CHECK(start.stream_sid == result.stream_sid);
  CHECK(start.call_sid == result.call_sid);
  CHECK(start.account_sid == result.account_sid);
  CHECK(start.tracks == std::vector<std::string>{"inbound"});
  CHECK(start.media_format == net::twilio_media_format{"audio/x-mulaw", 8000, 1});
  CHECK(start.custom_parameters ==
        std::vector<net::twilio_custom_parameter>{{"callToken", "tok-123"}, {"lang", "en"}});

  std::uint64_t expected_sequence = 2;
  std::uint64_t expected_chunk = 1;
  std::vector<std::uint8_t> sent_audio;
  std::optional<std::string> dtmf_digit;
  std::size_t media_before_dtmf = 0;
  bool raw_seen = false;
  bool stop_last = false;
  for (std::size_t i = 2; i < seen.frames.size(); ++i) {
    auto message = net::parse_twilio_message(seen.frames[i]);
    if (!message) {
      CHECK(seen.frames[i] == "{not json");
      raw_seen = true;
      continue;
    }
    stop_last = false;
    std::visit(
        [&](const auto& m) {
          using type = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<type, net::twilio_connected>) {
            FAIL("a second connected message");
          } else {
            CHECK(m.sequence_number == expected_sequence);
            CHECK(m.stream_sid == result.stream_sid);
            ++expected_sequence;
          }
          if constexpr (std::is_same_v<type, net::twilio_media>) {
            CHECK(m.chunk == expected_chunk);
            CHECK(m.timestamp_ms == (expected_chunk - 1) * 20);
            CHECK(m.track == "inbound");
            ++expected_chunk;
            auto bytes = net::decode_base64(m.payload_base64);
            REQUIRE(bytes.has_value());
            CHECK(bytes->size() == 160);
            sent_audio.insert(sent_audio.end(), bytes->begin(), bytes->end());
          } else if constexpr (std::is_same_v<type, net::twilio_dtmf>) {
            dtmf_digit = m.digit;
            media_before_dtmf = expected_chunk - 1;
            CHECK(m.track == "inbound_track");
          } else if constexpr (std::is_same_v<type, net::twilio_stop>) {
            CHECK(m.call_sid == result.call_sid);
            stop_last = true;
          }
        },
        *message);
  }
  CHECK(result.last_sequence_number == expected_sequence - 1);
  CHECK(result.media_frames_sent == expected_chunk - 1);
  CHECK(result.frames_sent == seen.frames.size());
  CHECK(raw_seen);
  CHECK(stop_last);
  // The speech went out first, in 15 frames, then the keypress.
  REQUIRE(sent_audio.size() >= speech.size());
  CHECK(std::equal(speech.begin(), speech.end(), sent_audio.begin()));
  CHECK(dtmf_digit == std::optional<std::string>("7"));
  CHECK(media_before_dtmf == 15);

  // m1 was echoed only after its 60 ms had played: the caller kept sending frames meanwhile
  // (three ticks play it; at most one frame was in flight when it was queued).
  CHECK(seen.media_frames_before_first_echo >= 2);
  CHECK(contains(result.heard_audio, pattern(480, 1)));
  // The clear echoed both pending marks and cut the long answer short.
  CHECK(seen.echoes_after_clear == std::vector<std::string>{"a", "b"});
  CHECK(result.echoed_marks == std::vector<std::string>{"m1", "a", "b"});
  CHECK(result.marks_received == 3);
  CHECK(result.marks_echoed == 3);
  CHECK(result.clears_received == 1);
  REQUIRE(result.clears.size() == 1);
  CHECK(result.clears[0].speak_step == 0);
  CHECK(result.clears[0].bytes_dropped > 0);
  CHECK(result.agent_bytes_received == 480 + 5 * 8000);
  CHECK(result.agent_bytes_played + result.clears[0].bytes_dropped == result.agent_bytes_received);
  // One heard frame per tick: a media frame went out on every tick but the last, which hung up.
  CHECK(result.heard_audio.size() == 160 * (result.media_frames_sent + 1));
  CHECK(result.invalid_frames_received == 0);
}

TEST_CASE("an upgrade signed with the wrong auth token is refused with 403", "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only, /*check_webhook_signature=*/false);
  auto options = bridge.caller_options({sim::speak(pattern(800, 3))});
  options.auth_token = "not-the-token";
  const auto result = sim::twilio_caller::run(io.io, options).get();
  CHECK(result.webhook_status == 200);
  CHECK(result.twiml_ok);
  CHECK(result.upgrade_status == 403);
  CHECK_FALSE(result.ok());
  CHECK(result.error.find("403") != std::string::npos);
  CHECK(result.frames_sent == 0);
  CHECK_FALSE(result.script_completed);
}

TEST_CASE("a webhook signed with the wrong auth token gets the bridge's 403", "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  auto options = bridge.caller_options({sim::speak(pattern(800, 3))});
  options.auth_token = "not-the-token";
  const auto result = sim::twilio_caller::run(io.io, options).get();
  CHECK(result.webhook_status == 403);
  CHECK_FALSE(result.twiml_ok);
  CHECK(result.upgrade_status == 0);
  CHECK(result.error.find("HTTP 403") != std::string::npos);
}

TEST_CASE("a webhook answer that is not <Connect><Stream> TwiML fails the call",
          "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  bridge.twiml_override = "<Response><Say>hello</Say></Response>";
  const auto result =
      sim::twilio_caller::run(io.io, bridge.caller_options({sim::silence(40ms)})).get();
  CHECK(result.webhook_status == 200);
  CHECK_FALSE(result.twiml_ok);
  CHECK(result.error.find("TwiML") != std::string::npos);
  CHECK(result.upgrade_status == 0);
}

TEST_CASE("the bridge closing the stream mid-call ends the call and the result says so",
          "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::close_early);
  auto observed = bridge.stream->observed();
  const auto result =
      sim::twilio_caller::run(io.io, bridge.caller_options({sim::speak(pattern(2400, 5))})).get();
  observed.get();
  INFO(result.error);
  CHECK(result.ok());  // a clean close by the bridge is a way calls end
  CHECK(result.server_closed_first);
  CHECK_FALSE(result.script_completed);
  CHECK(result.close_code == 1000);
  CHECK(result.close_reason == "bridge hung up");
  CHECK(result.media_frames_sent >= 3);
  CHECK(result.media_frames_sent < 15);
  // No <Connect action> in the TwiML: the call ends with its stream.
  CHECK(result.streams == 1);
  CHECK(result.actions.empty());
  CHECK(result.action_error.empty());
}

TEST_CASE("a wait step that is never satisfied fails the call after its timeout and hangs up",
          "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  auto observed = bridge.stream->observed();
  const auto result = sim::twilio_caller::run(
                          io.io, bridge.caller_options({sim::wait_for_agent_audio(20ms, 100ms)}))
                          .get();
  const auto seen = observed.get();
  CHECK_FALSE(result.ok());
  CHECK(result.error.find("wait_for_agent_audio") != std::string::npos);
  CHECK_FALSE(result.script_completed);
  // Silence frames for the 100 ms it waited (5 ticks), then stop.
  CHECK(result.media_frames_sent == 5);
  REQUIRE_FALSE(seen.frames.empty());
  auto last = net::parse_twilio_message(seen.frames.back());
  REQUIRE(last.has_value());
  CHECK(std::holds_alternative<net::twilio_stop>(*last));
}

TEST_CASE("hang_up ends a running call with stop", "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  auto observed = bridge.stream->observed();
  auto streaming = bridge.stream->first_media();
  std::promise<sim::twilio_call_result> done;
  auto finished = done.get_future();
  // A call that would otherwise wait 30 s for agent audio.
  auto call = sim::twilio_caller::start(
      io.io, bridge.caller_options({sim::wait_for_agent_audio(1000ms)}),
      [&](sim::twilio_call_result result) { done.set_value(std::move(result)); });
  streaming.get();
  call->hang_up();
  const auto result = finished.get();
  const auto seen = observed.get();
  INFO(result.error);
  CHECK(result.ok());
  CHECK_FALSE(result.script_completed);
  CHECK_FALSE(result.server_closed_first);
  auto last = net::parse_twilio_message(seen.frames.back());
  REQUIRE(last.has_value());
  CHECK(std::holds_alternative<net::twilio_stop>(*last));
}

TEST_CASE("hang_up before the webhook answers abandons the call", "[twilio_caller]") {
  running_io io{2};
  // A webhook that accepts the connection and never answers.
  asio::ip::tcp::acceptor silent(io.io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket held(io.io);
  silent.async_accept(held, [](boost::system::error_code) {});
  sim::twilio_caller_options options;
  options.webhook_url =
      "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/incoming-call";
  options.auth_token = auth_token;
  options.script = {sim::silence(20ms)};

  std::promise<sim::twilio_call_result> done;
  auto finished = done.get_future();
  auto call = sim::twilio_caller::start(
      io.io, options, [&](sim::twilio_call_result result) { done.set_value(std::move(result)); });
  call->hang_up();
  const auto result = finished.get();
  CHECK(result.error.find("hung up") != std::string::npos);
  CHECK(result.webhook_status == 0);
  CHECK(result.upgrade_status == 0);
  CHECK(result.frames_sent == 0);

  // The acceptor and socket belong to the io threads now: close them there before they go.
  std::promise<void> closed;
  asio::post(io.io, [&] {
    boost::system::error_code ignored;
    silent.close(ignored);
    held.close(ignored);
    closed.set_value();
  });
  closed.get_future().get();
}

TEST_CASE("a hold step streams silence until released, announcing itself once", "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  std::promise<void> release;
  std::promise<void> holding;
  std::atomic<int> announcements{0};
  auto call = sim::twilio_caller::run(
      io.io, bridge.caller_options({sim::hold_until(release.get_future().share(),
                                                    [&] {
                                                      if (++announcements == 1)
                                                        holding.set_value();
                                                    }),
                                    sim::hangup()}));
  holding.get_future().wait();  // the call is in its hold step
  release.set_value();
  const auto result = call.get();
  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.script_completed);
  CHECK(announcements == 1);
  CHECK(result.media_frames_sent >= 1);  // silence while held
}

TEST_CASE("a hold step that is never released fails the call after its timeout",
          "[twilio_caller]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  std::promise<void> never;
  const auto result =
      sim::twilio_caller::run(
          io.io, bridge.caller_options({sim::hold_until(never.get_future().share(), {}, 100ms)}))
          .get();
  CHECK_FALSE(result.ok());
  CHECK(result.error.find("hold") != std::string::npos);
  CHECK(result.media_frames_sent == 5);  // 100 ms of silence, then the hang-up
}

// ---- <Connect action> ---------------------------------------------------------------------

namespace {

/// <Connect action="action"><Stream url="stream_url"> with `parameters`.
std::string connect_twiml(const std::string& stream_url,
                          std::vector<net::form_parameter> parameters, const std::string& action) {
  return net::connect_stream_twiml(stream_url, parameters, action);
}

/// The caller's media payloads a stream received, decoded and joined.
std::vector<std::uint8_t> media_sent_on(const stream_observation& seen) {
  std::vector<std::uint8_t> audio;
  for (const auto& frame : seen.frames) {
    auto message = net::parse_twilio_message(frame);
    if (!message)
      continue;
    if (const auto* media = std::get_if<net::twilio_media>(&*message)) {
      auto bytes = net::decode_base64(media->payload_base64);
      if (bytes)
        audio.insert(audio.end(), bytes->begin(), bytes->end());
    }
  }
  return audio;
}

}  // namespace

TEST_CASE("a connect action that answers a new stream continues the call and its script there",
          "[twilio_caller][connect_action]") {
  const bool shared_clock = GENERATE(false, true);
  INFO("shared media clock: " << shared_clock);
  running_io io{shared_clock ? 1u : 2u};
  // Node A answers the webhook and closes the stream after three frames; its /connect-action
  // (relative in the TwiML) sends the call on to node B's stream, with new parameters.
  fake_bridge node_a(io.io, bridge_script::close_early);
  fake_bridge node_b(io.io, bridge_script::greet);
  const std::string node_b_stream_url = "wss://node-b.example.com/media-stream";
  node_b.stream_url = node_b_stream_url;
  node_a.twiml_override =
      connect_twiml(public_stream_url, {{"callToken", "tok-a"}}, "/connect-action");
  node_a.action_twiml =
      connect_twiml(node_b_stream_url, {{"callToken", "tok-b"}, {"resume", "1"}}, "");
  auto observed_a = node_a.stream->observed();
  auto observed_b = node_b.stream->observed();
  const auto speech = pattern(2400, 40);  // 15 frames: three go to A, the rest to B

  auto options = node_a.caller_options({sim::speak(speech), sim::hangup()});
  options.stream_connect_by_host = {{"node-b.example.com", node_b.connect_address()}};
  if (shared_clock)
    options.media_clock = sim::make_caller_media_clock(io.io);
  const auto result = sim::twilio_caller::run(io.io, std::move(options)).get();
  const auto seen_a = observed_a.get();
  const auto seen_b = observed_b.get();

  INFO(result.error << " / " << result.action_error);
  CHECK(result.ok());
  CHECK(result.action_error.empty());
  CHECK(result.script_completed);
  CHECK_FALSE(result.server_closed_first);  // the latest stream: the caller hung up
  CHECK(result.streams == 2);
  REQUIRE(result.stream_sids.size() == 2);
  CHECK(is_sid(result.stream_sids[0], "MZ"));
  CHECK(is_sid(result.stream_sids[1], "MZ"));
  CHECK(result.stream_sids[0] != result.stream_sids[1]);
  CHECK(result.stream_sid == result.stream_sids[1]);
  CHECK(result.stream_url == node_b_stream_url);
  REQUIRE(result.stream_parameters.size() == 2);
  CHECK(param(result.stream_parameters, "callToken") == "tok-b");
  CHECK(param(result.stream_parameters, "resume") == "1");

  // The action request: signed like the webhook, Twilio's voice parameters, in progress.
  REQUIRE(result.actions.size() == 1);
  const auto& action = result.actions[0];
  CHECK(action.url == node_a.base_url() + "/connect-action");
  CHECK(action.method == "POST");
  CHECK(action.status == 200);
  CHECK(action.outcome == sim::connect_action_outcome::connect);
  CHECK(sim::to_string(action.outcome) == "connect");
  CHECK(action.error.empty());
  REQUIRE(action.audible_gap.has_value());  // B greeted the caller
  CHECK(action.audible_gap->count() > 0);
  {
    std::lock_guard lock(node_a.mutex);
    REQUIRE(node_a.actions.size() == 1);
    const auto& request = node_a.actions[0];
    CHECK(request.method == "POST");
    CHECK(request.target == "/connect-action");
    CHECK(request.signature_ok);
    CHECK(param(request.params, "CallSid") == result.call_sid);
    CHECK(param(request.params, "AccountSid") == result.account_sid);
    CHECK(param(request.params, "CallStatus") == "in-progress");
    CHECK(param(request.params, "ApiVersion") == "2010-04-01");
    CHECK(param(request.params, "Direction") == "inbound");
    CHECK(param(request.params, "From") == "+15005550006");
    CHECK(param(request.params, "To") == "+15005550001");
    CHECK(param(request.params, "Caller") == "+15005550006");
    CHECK(param(request.params, "Called") == "+15005550001");
  }
  {
    // B's upgrade was routed by its host and named it.
    std::lock_guard lock(node_b.mutex);
    CHECK(node_b.upgrade_host == "node-b.example.com");
    CHECK(node_b.upgrade_target == "/media-stream");
  }

  // The new stream: connected, then start with the new parameters and StreamSid, the same
  // call; its own sequence numbers and chunks from 1.
  REQUIRE(seen_b.frames.size() > 3);
  auto connected = net::parse_twilio_message(seen_b.frames[0]);
  REQUIRE(connected.has_value());
  CHECK(std::holds_alternative<net::twilio_connected>(*connected));
  auto start_message = net::parse_twilio_message(seen_b.frames[1]);
  REQUIRE(start_message.has_value());
  const auto& start = std::get<net::twilio_start>(*start_message);
  CHECK(start.sequence_number == 1);
  CHECK(start.stream_sid == result.stream_sids[1]);
  CHECK(start.call_sid == result.call_sid);
  CHECK(start.account_sid == result.account_sid);
  CHECK(start.custom_parameters ==
        std::vector<net::twilio_custom_parameter>{{"callToken", "tok-b"}, {"resume", "1"}});
  auto first_media = net::parse_twilio_message(seen_b.frames[2]);
  REQUIRE(first_media.has_value());
  REQUIRE(std::holds_alternative<net::twilio_media>(*first_media));
  CHECK(std::get<net::twilio_media>(*first_media).sequence_number == 2);
  CHECK(std::get<net::twilio_media>(*first_media).chunk == 1);
  CHECK(std::get<net::twilio_media>(*first_media).stream_sid == result.stream_sids[1]);

  // The speak step went on where it was: B heard the rest of the speech, whole frames of it.
  const auto on_a = media_sent_on(seen_a);
  const auto on_b = media_sent_on(seen_b);
  CHECK(on_a.size() >= 3 * 160);
  REQUIRE_FALSE(on_b.empty());
  REQUIRE(on_b.size() < speech.size());
  CHECK(on_b.size() % 160 == 0);
  CHECK(std::equal(on_b.begin(), on_b.end(),
                   speech.end() - static_cast<std::ptrdiff_t>(on_b.size())));
  CHECK(result.media_frames_sent == speech.size() / 160);
  CHECK(contains(result.heard_audio, pattern(160, 9)));
}

TEST_CASE("a connect action that answers Hangup ends the call without an error",
          "[twilio_caller][connect_action]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::close_early);
  // method="GET": the parameters travel in the query, signed over the whole URL.
  bridge.twiml_override =
      R"(<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="/connect-action" method="GET">)"
      R"(<Stream url="wss://bridge.example.com/media-stream"/></Connect></Response>)";
  bridge.action_twiml = net::hang_up_twiml();
  auto options = bridge.caller_options({sim::speak(pattern(2400, 5)), sim::hangup()});
  options.direction = "outbound-api";
  const auto result = sim::twilio_caller::run(io.io, std::move(options)).get();

  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.action_error.empty());
  CHECK_FALSE(result.script_completed);
  CHECK(result.server_closed_first);
  CHECK(result.streams == 1);
  REQUIRE(result.actions.size() == 1);
  CHECK(result.actions[0].method == "GET");
  CHECK(result.actions[0].status == 200);
  CHECK(result.actions[0].outcome == sim::connect_action_outcome::hangup);
  CHECK_FALSE(result.actions[0].audible_gap.has_value());
  std::lock_guard lock(bridge.mutex);
  REQUIRE(bridge.actions.size() == 1);
  CHECK(bridge.actions[0].method == "GET");
  CHECK(bridge.actions[0].signature_ok);
  CHECK(param(bridge.actions[0].params, "CallStatus") == "in-progress");
  CHECK(param(bridge.actions[0].params, "Direction") == "outbound-api");
  CHECK(param(bridge.actions[0].params, "CallSid") == result.call_sid);
}

TEST_CASE("a connect action that fails ends the call with action_error and no error",
          "[twilio_caller][connect_action]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::close_early);
  std::string expected_in_error;
  SECTION("the action answers 500") {
    bridge.twiml_override = connect_twiml(public_stream_url, {}, "/connect-action");
    bridge.action_status = 500;
    bridge.action_twiml = "oops";
    expected_in_error = "HTTP 500";
  }
  SECTION("the action answers TwiML that cannot be played") {
    bridge.twiml_override = connect_twiml(public_stream_url, {}, "/connect-action");
    bridge.action_twiml = "<Response><Play>https://example.com/a.mp3</Play></Response>";
    expected_in_error = "TwiML";
  }
  SECTION("nothing listens at the action URL") {
    // A port that was bound and closed again: the connection is refused.
    asio::ip::tcp::acceptor closed(io.io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = closed.local_endpoint().port();
    closed.close();
    bridge.twiml_override = connect_twiml(
        public_stream_url, {}, "http://127.0.0.1:" + std::to_string(port) + "/connect-action");
  }
  const auto result =
      sim::twilio_caller::run(io.io, bridge.caller_options({sim::speak(pattern(2400, 5))})).get();
  INFO(result.action_error);
  CHECK(result.ok());  // Twilio ends the call normally, as far as the bridge can tell
  CHECK_FALSE(result.action_error.empty());
  CHECK(result.action_error.find(expected_in_error) != std::string::npos);
  CHECK(result.streams == 1);
  REQUIRE(result.actions.size() == 1);
  CHECK(result.actions[0].outcome == sim::connect_action_outcome::error);
  CHECK_FALSE(result.actions[0].error.empty());
}

TEST_CASE("a caller that hangs up itself makes no connect action request",
          "[twilio_caller][connect_action]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  bridge.twiml_override = connect_twiml(public_stream_url, {}, "/connect-action");
  auto observed = bridge.stream->observed();
  const auto result =
      sim::twilio_caller::run(io.io, bridge.caller_options({sim::silence(40ms), sim::hangup()}))
          .get();
  observed.get();
  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.script_completed);
  CHECK(result.streams == 1);
  CHECK(result.actions.empty());
  // The result comes after any action request's answer: none was made.
  std::lock_guard lock(bridge.mutex);
  CHECK(bridge.actions.empty());
}

TEST_CASE("a bridge that answers every connect action with another stream is cut off",
          "[twilio_caller][connect_action]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::listen_only);
  bridge.stream_per_connection = true;  // each stream closes after three frames
  bridge.twiml_override = connect_twiml(public_stream_url, {}, "/connect-action");
  bridge.action_twiml = connect_twiml(public_stream_url, {}, "/connect-action");
  auto options = bridge.caller_options({sim::silence(10s)});
  options.max_connect_actions = 2;
  const auto result = sim::twilio_caller::run(io.io, std::move(options)).get();
  INFO(result.error);
  CHECK(result.ok());
  CHECK(result.streams == 3);
  CHECK(result.actions.size() == 2);
  CHECK(result.action_error.find("max_connect_actions") != std::string::npos);
  std::lock_guard lock(bridge.mutex);
  CHECK(bridge.actions.size() == 2);
  CHECK(bridge.upgrades == 3);
}

TEST_CASE("a stream dropped without a close follows the connect action when there is one",
          "[twilio_caller][connect_action]") {
  running_io io{2};
  fake_bridge bridge(io.io, bridge_script::drop_early);
  auto observed = bridge.stream->observed();
  SECTION("with an action: the call goes on as the action says") {
    bridge.twiml_override = connect_twiml(public_stream_url, {}, "/connect-action");
    bridge.action_twiml = net::hang_up_twiml();
    const auto result =
        sim::twilio_caller::run(io.io, bridge.caller_options({sim::speak(pattern(2400, 5))})).get();
    observed.get();
    INFO(result.error);
    CHECK(result.ok());
    CHECK(result.server_closed_first);
    REQUIRE(result.actions.size() == 1);
    CHECK(result.actions[0].outcome == sim::connect_action_outcome::hangup);
  }
  SECTION("without one: the lost connection is the call's error, as before") {
    const auto result =
        sim::twilio_caller::run(io.io, bridge.caller_options({sim::speak(pattern(2400, 5))})).get();
    observed.get();
    CHECK(result.error.find("media stream connection lost") != std::string::npos);
    CHECK(result.actions.empty());
    std::lock_guard lock(bridge.mutex);
    CHECK(bridge.actions.empty());
  }
}
