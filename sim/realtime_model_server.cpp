#include "sim/realtime_model_server.hpp"

#include "net/base64.hpp"
#include "net/http_server.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string_view>
#include <unordered_map>
#include <variant>

namespace switchboard::sim {

namespace asio = boost::asio;
namespace json = boost::json;

// One connection's session; defined below, registered in the state so that stop() reaches it.
class model_session;

struct realtime_model_server::state {
  state(asio::io_context& context, model_options server_options)
      : io(context), options(std::move(server_options)) {
    // Ids carry a per-server tag so that two stand-ins (a reconnect test) never share an id.
    std::random_device seed;
    char tag[9];
    std::snprintf(tag, sizeof tag, "%08x", static_cast<unsigned>(seed()));
    id_tag = tag;
  }

  /// "item_1a2b3c4d000042": unique per server, like the API's opaque ids.
  std::string make_id(std::string_view prefix) {
    char counter[16];
    std::snprintf(counter, sizeof counter, "%06llu",
                  static_cast<unsigned long long>(next_id.fetch_add(1)));
    std::string id;
    id.reserve(prefix.size() + id_tag.size() + 6);
    id.append(prefix).append(id_tag).append(counter);
    return id;
  }

  template <class Change>
  void update(Change&& change) {
    std::lock_guard lock(mutex);
    change(stats);
  }

  asio::io_context& io;
  const model_options options;
  std::string id_tag;
  std::atomic<std::uint64_t> next_id{1};

  // The counters of every frame, kept out of the mutex (read into stats() with the rest).
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> append_bytes{0};
  std::atomic<std::uint64_t> audio_deltas_sent{0};
  std::atomic<std::uint64_t> audio_bytes_sent{0};

  mutable std::mutex mutex;
  model_stats stats;                                   // guarded by mutex
  std::uint64_t connections_accepted = 0;              // guarded by mutex
  std::size_t mute_next_connections = 0;               // guarded by mutex (mute_sessions)
  std::vector<std::weak_ptr<model_session>> sessions;  // guarded by mutex
};

namespace {

// ---- the GA session shape (§B3) -------------------------------------------------------------

// Members a GA session.update may carry; anything else is answered the way api.openai.com
// answers the beta flat fields: `Unknown parameter: 'session.input_audio_format'.` (§B3, §B6).
constexpr std::array<std::string_view, 14> ga_session_keys = {"type",
                                                              "model",
                                                              "output_modalities",
                                                              "instructions",
                                                              "audio",
                                                              "tools",
                                                              "tool_choice",
                                                              "max_output_tokens",
                                                              "include",
                                                              "prompt",
                                                              "tracing",
                                                              "truncation",
                                                              "reasoning",
                                                              "parallel_tool_calls"};
constexpr std::array<std::string_view, 2> ga_audio_keys = {"input", "output"};
constexpr std::array<std::string_view, 4> ga_audio_input_keys = {
    "format", "transcription", "noise_reduction", "turn_detection"};
constexpr std::array<std::string_view, 3> ga_audio_output_keys = {"format", "voice", "speed"};
constexpr std::array<std::string_view, 3> ga_audio_formats = {"audio/pcm", "audio/pcmu",
                                                              "audio/pcma"};

template <std::size_t size>
bool contains(const std::array<std::string_view, size>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

template <std::size_t size>
std::optional<std::string> unknown_member(const json::object& object,
                                          const std::array<std::string_view, size>& allowed,
                                          std::string_view path) {
  for (const auto& member : object) {
    if (!contains(allowed, member.key())) {
      return std::string(path) + "." + std::string(member.key());
    }
  }
  return std::nullopt;
}

// The first member of a session.update's session that the GA API does not know, as a path.
std::optional<std::string> first_unknown_parameter(const json::object& session) {
  if (auto unknown = unknown_member(session, ga_session_keys, "session"))
    return unknown;
  const auto* audio = session.if_contains("audio");
  if (audio == nullptr || !audio->is_object())
    return std::nullopt;
  if (auto unknown = unknown_member(audio->get_object(), ga_audio_keys, "session.audio")) {
    return unknown;
  }
  if (const auto* input = audio->get_object().if_contains("input"); input && input->is_object()) {
    if (auto unknown =
            unknown_member(input->get_object(), ga_audio_input_keys, "session.audio.input")) {
      return unknown;
    }
  }
  if (const auto* output = audio->get_object().if_contains("output");
      output && output->is_object()) {
    return unknown_member(output->get_object(), ga_audio_output_keys, "session.audio.output");
  }
  return std::nullopt;
}

struct turn_flags {
  bool detect = false;
  bool create_response = false;
  bool interrupt_response = false;
};

turn_flags flags_of(const net::realtime_turn_detection& detection) {
  if (const auto* vad = std::get_if<net::realtime_server_vad>(&detection)) {
    return {true, vad->create_response, vad->interrupt_response};
  }
  if (const auto* vad = std::get_if<net::realtime_semantic_vad>(&detection)) {
    return {true, vad->create_response, vad->interrupt_response};
  }
  return {};
}

std::string turn_detection_type(const net::realtime_turn_detection& detection) {
  if (std::holds_alternative<net::realtime_server_vad>(detection))
    return "server_vad";
  if (std::holds_alternative<net::realtime_semantic_vad>(detection))
    return "semantic_vad";
  return "none";
}

json::value turn_detection_json(const net::realtime_turn_detection& detection) {
  if (const auto* vad = std::get_if<net::realtime_server_vad>(&detection)) {
    json::object object{{"type", "server_vad"},
                        {"threshold", vad->threshold},
                        {"prefix_padding_ms", vad->prefix_padding_ms},
                        {"silence_duration_ms", vad->silence_duration_ms},
                        {"create_response", vad->create_response},
                        {"interrupt_response", vad->interrupt_response}};
    object["idle_timeout_ms"] =
        vad->idle_timeout_ms ? json::value(*vad->idle_timeout_ms) : json::value(nullptr);
    return object;
  }
  if (const auto* vad = std::get_if<net::realtime_semantic_vad>(&detection)) {
    return json::object{{"type", "semantic_vad"},
                        {"eagerness", vad->eagerness},
                        {"create_response", vad->create_response},
                        {"interrupt_response", vad->interrupt_response}};
  }
  return nullptr;
}

json::object format_json(std::string_view type) {
  json::object format{{"type", type}};
  // PCM is 24 kHz only in GA; G.711 formats carry no rate (§B3).
  if (type == "audio/pcm")
    format["rate"] = 24000;
  return format;
}

json::value nullable(const std::optional<std::string>& value) {
  return value ? json::value(*value) : json::value(nullptr);
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find(' ', start), text.size());
    if (end > start)
      words.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

std::optional<std::string> event_id_of(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object())
    return std::nullopt;
  if (const auto* id = value.get_object().if_contains("event_id"); id && id->is_string()) {
    return std::string(id->get_string());
  }
  return std::nullopt;
}

// The error code the API uses for each kind of unreadable client event.
std::string_view error_code_for(net::wire_errc code) {
  switch (code) {
    case net::wire_errc::not_json:
    case net::wire_errc::not_object:
    case net::wire_errc::oversized:
      return "invalid_json";
    case net::wire_errc::missing_field:
      return "missing_required_parameter";
    case net::wire_errc::wrong_type:
      return "invalid_type";
    case net::wire_errc::bad_value:
    case net::wire_errc::unknown_event:
      return "invalid_value";
  }
  return "invalid_value";
}

constexpr std::string_view supported_client_events =
    "'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', "
    "'input_audio_buffer.clear', 'conversation.item.create', 'conversation.item.truncate', "
    "'conversation.item.delete', 'conversation.item.retrieve', 'response.create' and "
    "'response.cancel'";

}  // namespace

// ---- one connection ---------------------------------------------------------------------------

// States: open ─(beta header)→ rejecting ─→ closed; open ─(socket ends | close | drop)→ closed.
// While open, a response is idle or streaming (response_ set); VAD is quiet or speaking.
class model_session final : public net::websocket_handler,
                            public std::enable_shared_from_this<model_session> {
 public:
  struct setup {
    std::string model;
    bool beta = false;             // the client sent OpenAI-Beta: realtime=v1
    bool drop = false;             // this connection is one drop_after cuts
    bool mute = false;             // this connection never sends anything (mute_first_connections)
    std::uint64_t connection = 0;  // 1-based, in the order connections were accepted
  };

  model_session(std::shared_ptr<realtime_model_server::state> shared, setup how)
      : shared_(std::move(shared)),
        options_(shared_->options),
        strand_(asio::make_strand(shared_->io)),
        response_timer_(strand_),
        drop_timer_(strand_),
        lifetime_timer_(strand_),
        beta_(how.beta),
        drop_(how.drop),
        mute_(how.mute),
        connection_number_(how.connection),
        vad_(options_.vad),
        tool_call_made_(options_.tool_calls.size(), false) {
    session_.id = shared_->make_id("sess_");
    session_.model = std::move(how.model);
    conversation_id_ = shared_->make_id("conv_");
    configure_vad();
  }

  // websocket_handler: called on the connection's strand; everything moves to ours, so that
  // handlers and timers never run at the same time. Posting from one strand keeps the order.
  // With single_threaded_io they run inline: nothing else can run meanwhile.
  void on_open(std::shared_ptr<net::websocket_connection> connection) override {
    if (options_.single_threaded_io)
      return opened(connection);
    asio::post(strand_, [self = shared_from_this(), connection = std::move(connection)] {
      self->opened(connection);
    });
  }
  void on_message(std::string message, bool is_text) override {
    if (options_.single_threaded_io)
      return received(message, is_text);
    asio::post(strand_, [self = shared_from_this(), message = std::move(message), is_text] {
      self->received(message, is_text);
    });
  }
  void on_close(net::websocket_closed) override {
    if (options_.single_threaded_io)
      return closed();
    asio::post(strand_, [self = shared_from_this()] { self->closed(); });
  }

  /// From any thread: the session sends nothing more, ever (it reads on).
  void mute() {
    asio::post(strand_, [self = shared_from_this()] { self->go_mute(); });
  }

  /// From any thread: ends the session from the server side.
  void close(net::close_code code, std::string reason) {
    asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
      self->close_now(code, reason);
    });
  }

 private:
  struct session_config {
    std::string id;
    std::string model;
    std::string instructions;
    std::string voice = "marin";
    // The API's defaults before any session.update: 24 kHz PCM both ways (§B3).
    std::string input_format = "audio/pcm";
    std::string output_format = "audio/pcm";
    std::vector<std::string> output_modalities{"audio"};
    net::realtime_turn_detection turn_detection = net::realtime_server_vad{};
    std::optional<net::realtime_transcription> transcription;
    std::vector<net::realtime_function_tool> tools;
    std::string tool_choice = "auto";
  };

  struct conversation_item {
    std::string role;               // user | assistant | system | tool
    bool assistant_audio = false;   // only these can be truncated (§B4)
    std::uint64_t audio_bytes = 0;  // μ-law generated so far (8 bytes per ms)
  };

  struct active_response {
    std::string id;
    std::string item_id;  // the assistant audio item; empty when the response does not speak
    bool echo = false;
    bool speaks = true;                      // false: only a function call, no audio
    std::optional<scripted_tool_call> call;  // made after the audio, if the response completes
    std::span<const std::uint8_t> audio;     // the fixture being spoken (empty when echoing)
    conversation_item* item = nullptr;       // items_[item_id], once audio was sent
    std::vector<std::string_view> words;     // its transcript, spoken along with the audio
    std::size_t sent_bytes = 0;
    std::size_t words_sent = 0;
    std::string transcript_sent;
  };

  // ---- lifecycle

  void go_mute() {
    if (mute_ || closed_)
      return;
    mute_ = true;
    shared_->update([](model_stats& stats) { ++stats.sessions_muted; });
  }

  void opened(const std::shared_ptr<net::websocket_connection>& connection) {
    connection_ = connection;
    {
      std::lock_guard lock(shared_->mutex);
      ++shared_->stats.sessions_opened;
      if (mute_)
        ++shared_->stats.sessions_muted;
      auto& sessions = shared_->sessions;
      sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                    [](const auto& session) { return session.expired(); }),
                     sessions.end());
      sessions.push_back(weak_from_this());
    }
    if (beta_)
      return reject_beta();
    send_session_event("session.created");
    json::object conversation = event("conversation.created");
    conversation["conversation"] = {{"id", conversation_id_}, {"object", "realtime.conversation"}};
    send_json(conversation);
    if (drop_) {
      drop_timer_.expires_after(options_.drop_after);
      drop_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec)
          self->drop();
      });
    }
    if (options_.session_lifetime.count() > 0) {
      lifetime_timer_.expires_after(options_.session_lifetime);
      lifetime_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec)
          self->expire();
      });
    }
  }

  // The GA server ends a session at its maximum duration with this error (§B6), then closes.
  void expire() {
    if (closed_ || closing_)
      return;
    shared_->update([](model_stats& stats) { ++stats.sessions_expired; });
    const auto minutes = std::chrono::duration<double, std::ratio<60>>(options_.session_lifetime);
    char message[96];
    std::snprintf(message, sizeof message, "Your session hit the maximum duration of %g minutes.",
                  minutes.count());
    send_error("invalid_request_error", "session_expired", message, std::nullopt, std::nullopt);
    close_now(net::close_code::going_away, "session_expired");
  }

  // After the beta shutdown the GA server answers a beta client with this error and close code
  // 4000 (§B6, §B8).
  void reject_beta() {
    shared_->update([](model_stats& stats) { ++stats.beta_rejected; });
    send_error("invalid_request_error", "beta_api_shape_disabled",
               "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA "
               "API.",
               std::nullopt, std::nullopt);
    close_now(static_cast<net::close_code>(4000), "beta_api_shape_disabled");
  }

  void drop() {
    if (closed_ || closing_)
      return;
    shared_->update([](model_stats& stats) { ++stats.connections_dropped; });
    // A network failure: the TCP connection goes away with no closing handshake.
    closing_ = true;
    stop_streaming();
    drop_timer_.cancel();
    lifetime_timer_.cancel();
    if (auto connection = connection_.lock())
      connection->abort();
  }

  void close_now(net::close_code code, const std::string& reason) {
    if (closed_ || closing_)
      return;
    closing_ = true;
    stop_streaming();
    drop_timer_.cancel();
    lifetime_timer_.cancel();
    if (auto connection = connection_.lock())
      connection->close(code, reason);
  }

  void closed() {
    if (closed_)
      return;
    closed_ = true;
    stop_streaming();
    drop_timer_.cancel();
    lifetime_timer_.cancel();
    shared_->update([](model_stats& stats) { ++stats.sessions_closed; });
  }

  void stop_streaming() {
    response_.reset();
    response_timer_.cancel();
  }

  // ---- sending

  json::object event(std::string_view type) {
    return json::object{{"type", type}, {"event_id", shared_->make_id("event_")}};
  }

  void send(std::string text) {
    if (closed_ || mute_)
      return;
    if (auto connection = connection_.lock())
      connection->send_text(std::move(text));
  }

  void send_json(const json::object& object) { send(json::serialize(object)); }

  /// A finished output item: response.output_item.done, then conversation.item.done.
  void send_item_done(const std::string& response_id, std::size_t output_index,
                      const json::object& item) {
    json::object item_done = event("response.output_item.done");
    item_done["response_id"] = response_id;
    item_done["output_index"] = output_index;
    item_done["item"] = item;
    send_json(item_done);
    json::object conversation_done = event("conversation.item.done");
    conversation_done["item"] = item;
    send_json(conversation_done);
  }

  template <class Event>
  void send_event(Event event_value) {
    event_value.event_id = shared_->make_id("event_");
    out_.clear();
    net::append_realtime_server_event(out_, net::realtime_server_event(std::move(event_value)));
    send(out_);
  }

  void send_error(std::string type, std::optional<std::string> code, std::string message,
                  std::optional<std::string> param, std::optional<std::string> client_event_id) {
    shared_->update([](model_stats& stats) { ++stats.errors_sent; });
    send_event(net::realtime_error{{},
                                   std::move(type),
                                   std::move(code),
                                   std::move(message),
                                   std::move(param),
                                   std::move(client_event_id)});
  }

  void send_invalid(std::string code, std::string message, std::optional<std::string> param,
                    const std::string& client_event_id) {
    send_error("invalid_request_error", std::move(code), std::move(message), std::move(param),
               client_event_id.empty() ? std::nullopt : std::optional(client_event_id));
  }

  json::object session_json() const {
    json::array tools;
    for (const auto& tool : session_.tools) {
      tools.push_back(json::object{{"type", "function"},
                                   {"name", tool.name},
                                   {"description", tool.description},
                                   {"parameters", tool.parameters}});
    }
    json::array modalities;
    for (const auto& modality : session_.output_modalities)
      modalities.push_back(json::value(modality));
    json::value transcription = nullptr;
    if (session_.transcription) {
      transcription = json::object{{"model", session_.transcription->model},
                                   {"language", nullable(session_.transcription->language)}};
    }
    const auto expires_at =
        std::chrono::duration_cast<std::chrono::seconds>(
            (std::chrono::system_clock::now() + std::chrono::hours(1)).time_since_epoch())
            .count();
    return json::object{{"object", "realtime.session"},
                        {"type", "realtime"},
                        {"id", session_.id},
                        {"model", session_.model},
                        {"output_modalities", std::move(modalities)},
                        {"instructions", session_.instructions},
                        {"tools", std::move(tools)},
                        {"tool_choice", session_.tool_choice},
                        {"max_output_tokens", "inf"},
                        {"tracing", nullptr},
                        {"truncation", "auto"},
                        {"prompt", nullptr},
                        // GA sessions last at most 60 minutes (§B6).
                        {"expires_at", expires_at},
                        {"include", nullptr},
                        {"audio",
                         {{"input",
                           {{"format", format_json(session_.input_format)},
                            {"transcription", std::move(transcription)},
                            {"noise_reduction", nullptr},
                            {"turn_detection", turn_detection_json(session_.turn_detection)}}},
                          {"output",
                           {{"format", format_json(session_.output_format)},
                            {"voice", session_.voice},
                            {"speed", 1.0}}}}}};
  }

  void send_session_event(std::string_view type) {
    json::object message = event(type);
    message["session"] = session_json();
    send_json(message);
  }

  // ---- receiving

  void received(const std::string& text, bool is_text) {
    if (closed_ || closing_)
      return;
    if (!is_text) {
      shared_->update([](model_stats& stats) { ++stats.malformed_events; });
      return send_invalid("invalid_value",
                          "Binary frames are not supported: send each client event as a JSON "
                          "text frame.",
                          std::nullopt, {});
    }
    auto parsed = net::parse_realtime_client_event(text);
    if (!parsed) {
      shared_->update([](model_stats& stats) { ++stats.malformed_events; });
      const auto& error = parsed.error();
      std::string message = error.code == net::wire_errc::not_json
                                ? "The client event could not be parsed as JSON: " + error.detail
                                : "Invalid client event: " + error.detail;
      return send_error("invalid_request_error", std::string(error_code_for(error.code)),
                        std::move(message), std::nullopt, event_id_of(text));
    }
    auto& client_event = *parsed;
    if (auto* update = std::get_if<net::realtime_session_update>(&client_event)) {
      return session_update(*update, text);
    }
    if (auto* append = std::get_if<net::realtime_audio_append>(&client_event)) {
      return audio_append(append->audio_base64, append->event_id);
    }
    if (auto* message = std::get_if<net::realtime_create_message>(&client_event)) {
      record_item("message", message->role, message->text, {});
      if (message->role == "user") {
        shared_->update([&](model_stats& stats) { stats.user_texts.push_back(message->text); });
      }
      json::object item{
          {"type", "message"},
          {"role", message->role},
          {"content", json::array{json::object{
                          {"type", message->role == "assistant" ? "output_text" : "input_text"},
                          {"text", message->text}}}}};
      return add_client_item(std::move(item), message->role);
    }
    if (auto* call = std::get_if<net::realtime_create_function_call>(&client_event)) {
      // A call made in an earlier session, replayed: its output may follow in this one.
      record_item("function_call", "", call->name + call->arguments, call->call_id);
      call_ids_.insert(call->call_id);
      json::object item{{"type", "function_call"},
                        {"call_id", call->call_id},
                        {"name", call->name},
                        {"arguments", call->arguments}};
      return add_client_item(std::move(item), "function_call");
    }
    if (auto* output = std::get_if<net::realtime_create_function_output>(&client_event)) {
      record_item("function_call_output", "", output->output, output->call_id);
      const bool known = call_ids_.contains(output->call_id);
      shared_->update([&](model_stats& stats) {
        stats.function_outputs.push_back({output->call_id, output->output, known});
      });
      json::object item{{"type", "function_call_output"},
                        {"call_id", output->call_id},
                        {"output", output->output}};
      return add_client_item(std::move(item), "tool");
    }
    if (auto* create = std::get_if<net::realtime_response_create>(&client_event)) {
      ++client_response_creates_;
      shared_->update([&](model_stats& stats) {
        ++stats.response_creates;
        if (create->instructions)
          stats.response_instructions.push_back(*create->instructions);
      });
      return start_response(create->event_id, true);
    }
    if (auto* cancel = std::get_if<net::realtime_response_cancel>(&client_event)) {
      return response_cancel(*cancel);
    }
    if (auto* truncate = std::get_if<net::realtime_truncate>(&client_event)) {
      return item_truncate(*truncate);
    }
    other_event(std::get<net::realtime_other_client_event>(client_event));
  }

  void record_item(std::string type, std::string role, std::string text, std::string call_id) {
    shared_->update([&](model_stats& stats) {
      stats.items_received.push_back({connection_number_, std::move(type), std::move(role),
                                      std::move(text), std::move(call_id), appends_received_,
                                      commits_});
    });
  }

  void other_event(const net::realtime_other_client_event& other) {
    if (other.type == "input_audio_buffer.commit")
      return commit_buffer(other.event_id);
    if (other.type == "input_audio_buffer.clear") {
      buffered_bytes_ = 0;
      send_json(event("input_audio_buffer.cleared"));
      return;
    }
    if (other.type == "output_audio_buffer.clear") {
      return send_invalid("invalid_value",
                          "output_audio_buffer.clear is only supported for WebRTC and SIP "
                          "connections, not over WebSocket.",
                          "type", other.event_id);
    }
    if (other.type == "conversation.item.delete" || other.type == "conversation.item.retrieve") {
      return send_invalid("unsupported_by_stand_in",
                          "The model stand-in does not implement '" + other.type + "'.", "type",
                          other.event_id);
    }
    shared_->update([](model_stats& stats) { ++stats.malformed_events; });
    send_invalid("invalid_value",
                 "Invalid value: '" + other.type +
                     "'. Supported values are: " + std::string(supported_client_events) + ".",
                 "type", other.event_id);
  }

  // ---- session.update

  void session_update(const net::realtime_session_update& update, std::string_view text) {
    shared_->update([](model_stats& stats) { ++stats.session_updates; });
    auto reject = [&](std::string code, std::string message, std::string param) {
      shared_->update([](model_stats& stats) { ++stats.session_updates_rejected; });
      send_invalid(std::move(code), std::move(message), std::move(param), update.event_id);
    };

    boost::system::error_code ec;
    const auto raw = json::parse(text, ec);
    if (!ec && raw.is_object()) {
      if (const auto* session = raw.get_object().if_contains("session");
          session && session->is_object()) {
        if (auto unknown = first_unknown_parameter(session->get_object())) {
          return reject("unknown_parameter", "Unknown parameter: '" + *unknown + "'.", *unknown);
        }
      }
    }
    if (!update.session_type) {
      return reject("missing_required_parameter", "Missing required parameter: 'session.type'.",
                    "session.type");
    }
    if (*update.session_type != "realtime") {
      return reject("invalid_value",
                    "Invalid value: '" + *update.session_type +
                        "'. The model stand-in serves only 'realtime' sessions.",
                    "session.type");
    }
    for (const auto& [format, param] :
         {std::pair{update.input_format, "session.audio.input.format.type"},
          std::pair{update.output_format, "session.audio.output.format.type"}}) {
      if (format && !contains(ga_audio_formats, *format)) {
        return reject("invalid_value",
                      "Invalid value: '" + *format +
                          "'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'.",
                      param);
      }
    }
    if (update.output_modalities &&
        (update.output_modalities->size() != 1 ||
         ((*update.output_modalities)[0] != "audio" && (*update.output_modalities)[0] != "text"))) {
      return reject("invalid_value",
                    "session.output_modalities must be [\"audio\"] or [\"text\"]: both at once "
                    "is not supported.",
                    "session.output_modalities");
    }
    if (update.voice && *update.voice != session_.voice && assistant_audio_sent_) {
      return reject("cannot_update_voice",
                    "Cannot update a conversation's voice if assistant audio is present.",
                    "session.audio.output.voice");
    }

    if (update.model)
      session_.model = *update.model;
    if (update.instructions)
      session_.instructions = *update.instructions;
    if (update.output_modalities)
      session_.output_modalities = *update.output_modalities;
    if (update.input_format)
      session_.input_format = *update.input_format;
    if (update.output_format)
      session_.output_format = *update.output_format;
    if (update.voice)
      session_.voice = *update.voice;
    if (update.turn_detection)
      session_.turn_detection = *update.turn_detection;
    if (update.transcription)
      session_.transcription = *update.transcription;
    if (update.tools)
      session_.tools = *update.tools;
    if (update.tool_choice)
      session_.tool_choice = *update.tool_choice;
    configure_vad();

    // Counted before the answer goes out, so that whoever reads the answer sees the count.
    shared_->update([this, &update](model_stats& stats) {
      stats.last_session = summary();
      if (update.instructions)
        stats.session_instructions.push_back(*update.instructions);
    });
    send_session_event("session.updated");
    if (options_.error_after_session_update) {
      send_error("server_error", std::nullopt,
                 "The server had an error while processing your request (simulated fault: "
                 "error_after_session_update).",
                 std::nullopt, std::nullopt);
    }
  }

  model_session_summary summary() const {
    model_session_summary result{"realtime",
                                 session_.model,
                                 session_.instructions,
                                 session_.voice,
                                 session_.input_format,
                                 session_.output_format,
                                 turn_detection_type(session_.turn_detection),
                                 session_.transcription ? session_.transcription->model : "",
                                 {}};
    for (const auto& tool : session_.tools)
      result.tool_names.push_back(tool.name);
    return result;
  }

  void configure_vad() {
    auto vad_options = options_.vad;
    if (const auto* vad = std::get_if<net::realtime_server_vad>(&session_.turn_detection)) {
      vad_options.prefix_padding_ms = vad->prefix_padding_ms;
      vad_options.silence_duration_ms = vad->silence_duration_ms;
    }
    vad_.set_options(vad_options);
  }

  // ---- caller audio and turns

  void audio_append(std::string_view audio_base64, const std::string& event_id) {
    decoded_.clear();
    if (!net::append_decoded_base64(audio_base64, decoded_)) {
      shared_->update([](model_stats& stats) { ++stats.malformed_events; });
      return send_invalid("invalid_value", "Invalid 'audio'. Expected base64-encoded audio data.",
                          "audio", event_id);
    }
    shared_->appends.fetch_add(1);
    ++appends_received_;
    shared_->append_bytes.fetch_add(decoded_.size());
    if (options_.on_audio_appended)
      options_.on_audio_appended(decoded_);
    if (options_.echo)
      return echo(audio_base64);
    buffered_bytes_ += decoded_.size();
    // The VAD hears all audio, so positions count every ms appended (§B5); its events only
    // matter while turn detection is on.
    vad_events_.clear();
    vad_.append(decoded_, vad_events_);
    if (!flags_of(session_.turn_detection).detect)
      return;
    for (const auto& vad_event : vad_events_) {
      if (closed_ || closing_)
        return;
      if (vad_event.kind == vad_event_kind::speech_started) {
        speech_started(vad_event.audio_ms);
      } else {
        speech_stopped(vad_event.audio_ms);
      }
    }
  }

  void speech_started(std::uint64_t audio_start_ms) {
    speech_item_id_ = shared_->make_id("item_");
    speech_start_ms_ = audio_start_ms;
    shared_->update([](model_stats& stats) { ++stats.speech_started; });
    send_event(net::realtime_speech_started{{}, speech_item_id_, audio_start_ms});
    // Barge-in: with interrupt_response the server cancels what it is saying (§B4).
    if (response_ && flags_of(session_.turn_detection).interrupt_response) {
      finish_response("cancelled", "turn_detected");
    }
  }

  void speech_stopped(std::uint64_t audio_end_ms) {
    if (speech_item_id_.empty())
      return;  // turn detection was switched on mid-speech
    const auto item_id = std::exchange(speech_item_id_, std::string{});
    ++caller_turns_;
    shared_->update([](model_stats& stats) { ++stats.speech_turns; });
    send_event(net::realtime_speech_stopped{{}, item_id, audio_end_ms});
    commit_user_audio(item_id, audio_end_ms - speech_start_ms_);
    if (flags_of(session_.turn_detection).create_response)
      start_response({}, false);
  }

  void commit_buffer(const std::string& client_event_id) {
    // The API refuses to commit less than 100 ms (800 bytes of μ-law).
    if (buffered_bytes_ < 800) {
      char message[160];
      std::snprintf(message, sizeof message,
                    "Error committing input audio buffer: buffer too small. Expected at least "
                    "100ms of audio, but buffer only has %.2fms of audio.",
                    static_cast<double>(buffered_bytes_) / 8.0);
      return send_invalid("input_audio_buffer_commit_empty", message, std::nullopt,
                          client_event_id);
    }
    const auto item_id = speech_item_id_.empty() ? shared_->make_id("item_")
                                                 : std::exchange(speech_item_id_, std::string{});
    commit_user_audio(item_id, buffered_bytes_ / 8);
  }

  void commit_user_audio(const std::string& item_id, std::uint64_t spoken_ms) {
    buffered_bytes_ = 0;
    heard_ms_ += spoken_ms;
    ++commits_;
    shared_->update([](model_stats& stats) { ++stats.commits; });
    send_event(net::realtime_audio_committed{{}, item_id, last_item_id_});
    json::object item{
        {"id", item_id},
        {"object", "realtime.item"},
        {"type", "message"},
        {"status", "completed"},
        {"role", "user"},
        {"content", json::array{json::object{{"type", "input_audio"}, {"transcript", nullptr}}}}};
    announce_item(item, "conversation.item.added");
    announce_item(item, "conversation.item.done");
    items_[item_id] = {"user", false, 0};
    last_item_id_ = item_id;
    // Transcription only runs when the session asks for it; the stand-in cannot transcribe, so
    // it reports the length of the turn.
    if (session_.transcription) {
      char transcript[64];
      std::snprintf(transcript, sizeof transcript, "(caller spoke for %.1f s)",
                    static_cast<double>(spoken_ms) / 1000.0);
      send_event(net::realtime_input_transcript{{}, item_id, 0, transcript});
    }
  }

  void announce_item(const json::object& item, std::string_view type) {
    json::object message = event(type);
    message["previous_item_id"] = nullable(last_item_id_);
    message["item"] = item;
    send_json(message);
  }

  void add_client_item(json::object item, std::string role) {
    const auto item_id = shared_->make_id("item_");
    json::object full{{"id", item_id}, {"object", "realtime.item"}};
    for (const auto& member : item)
      full.emplace(member.key(), member.value());
    full["status"] = "completed";
    announce_item(full, "conversation.item.added");
    announce_item(full, "conversation.item.done");
    items_[item_id] = {std::move(role), false, 0};
    last_item_id_ = item_id;
  }

  // ---- responses

  void start_response(const std::string& client_event_id, bool requested_by_client) {
    if (response_) {
      if (requested_by_client) {
        send_invalid("conversation_already_has_active_response",
                     "Conversation already has an active response in progress: " + response_->id +
                         ". Wait until the response is finished before creating a new one.",
                     std::nullopt, client_event_id);
      }
      return;
    }
    open_response(false, scripted_call_for(requested_by_client));
    response_timer_.expires_after(options_.response_delay);
    wait_for_next_delta();
  }

  // The scripted function call this new response makes, if any: the first one not yet made in
  // this session whose turn is this response's (0 = the client's first response.create).
  std::optional<scripted_tool_call> scripted_call_for(bool requested_by_client) {
    const std::uint64_t turn = requested_by_client ? 0 : caller_turns_;
    if (requested_by_client && client_response_creates_ != 1)
      return std::nullopt;
    for (std::size_t index = 0; index < options_.tool_calls.size(); ++index) {
      const auto& call = options_.tool_calls[index];
      if (tool_call_made_[index] || call.turn != turn)
        continue;
      tool_call_made_[index] = true;
      const bool declared = std::any_of(
          session_.tools.begin(), session_.tools.end(),
          [&](const net::realtime_function_tool& tool) { return tool.name == call.name; });
      if (!declared) {
        // The real model only calls the functions the session declares.
        shared_->update([](model_stats& stats) { ++stats.function_calls_undeclared; });
        return std::nullopt;
      }
      return call;
    }
    return std::nullopt;
  }

  // Announces a new response and, when it speaks, its assistant audio item (§B5:
  // response.created, output_item.added, conversation.item.added, content_part.added). A
  // call-only response has no item until its function call is made, when it completes.
  void open_response(bool echo, std::optional<scripted_tool_call> call = std::nullopt) {
    response_.emplace();
    auto& response = *response_;
    response.id = shared_->make_id("resp_");
    response.echo = echo;
    response.speaks = !call || call->speak_first;
    response.call = std::move(call);
    shared_->update([](model_stats& stats) { ++stats.responses_started; });
    json::object created = event("response.created");
    created["response"] = response_json("in_progress", {}, json::array{}, nullptr);
    send_json(created);
    // Output tokens are reserved at the start of each response (§B5).
    send_event(net::realtime_rate_limits_updated{
        {}, {{"requests", 5000, 4999, 0.012}, {"tokens", 40000, 36000, 6.0}}});
    if (response.speaks)
      open_audio_item();
  }

  // The assistant message whose audio the response speaks, at output_index 0.
  void open_audio_item() {
    auto& response = *response_;
    response.item_id = shared_->make_id("item_");
    if (!response.echo) {
      const auto fixture =
          answers_++ == 0 ? speech_fixture::agent_greeting : speech_fixture::agent_answer;
      response.audio = fixture_audio(fixture);
      response.words = split_words(fixture_text(fixture));
    }
    items_[response.item_id] = {"assistant", true, 0};
    json::object added = event("response.output_item.added");
    added["response_id"] = response.id;
    added["output_index"] = 0;
    added["item"] = assistant_item("in_progress", nullptr);
    send_json(added);
    announce_item(assistant_item("in_progress", nullptr), "conversation.item.added");
    last_item_id_ = response.item_id;
    json::object part = event("response.content_part.added");
    part["response_id"] = response.id;
    part["item_id"] = response.item_id;
    part["output_index"] = 0;
    part["content_index"] = 0;
    part["part"] = {{"type", "output_audio"}, {"transcript", ""}};
    send_json(part);
  }

  json::object assistant_item(std::string_view status, json::value transcript) const {
    json::array content;
    if (!transcript.is_null()) {
      content.push_back(json::object{{"type", "output_audio"}, {"transcript", transcript}});
    }
    return json::object{{"id", response_->item_id}, {"object", "realtime.item"},
                        {"type", "message"},        {"status", status},
                        {"role", "assistant"},      {"content", std::move(content)}};
  }

  json::object response_json(std::string_view status, std::string_view reason, json::array output,
                             json::value usage) const {
    json::value details = nullptr;
    if (!reason.empty())
      details = json::object{{"type", status}, {"reason", reason}};
    return json::object{
        {"object", "realtime.response"},
        {"id", response_->id},
        {"status", status},
        {"status_details", std::move(details)},
        {"output", std::move(output)},
        {"conversation_id", conversation_id_},
        {"output_modalities", json::array{"audio"}},
        {"max_output_tokens", "inf"},
        {"audio",
         {{"output",
           {{"format", format_json(session_.output_format)}, {"voice", session_.voice}}}}},
        {"usage", std::move(usage)},
        {"metadata", nullptr}};
  }

  void wait_for_next_delta() {
    // The timer runs on the session's strand (its executor), like every other handler here.
    response_timer_.async_wait(
        [self = shared_from_this(), id = response_->id](boost::system::error_code ec) {
          // A cancelled response's wait may already be queued: check it is still the same one.
          if (ec || !self->response_ || self->response_->id != id || self->closed_)
            return;
          if (!self->response_->speaks)
            return self->finish_response("completed", {});
          self->send_next_delta();
        });
  }

  void send_next_delta() {
    auto& response = *response_;
    const std::size_t delta_bytes = std::size_t{options_.delta_audio_ms} * 8;
    const auto chunk = response.audio.subspan(
        response.sent_bytes, std::min(delta_bytes, response.audio.size() - response.sent_bytes));
    send_audio_delta(net::encode_base64(chunk), chunk.size());

    // The transcript keeps pace with the audio: as many words as the share of audio sent.
    const std::size_t words_due =
        (response.words.size() * response.sent_bytes + response.audio.size() - 1) /
        response.audio.size();
    if (words_due > response.words_sent) {
      std::string delta;
      for (auto index = response.words_sent; index < words_due; ++index) {
        if (index > 0)
          delta += ' ';
        delta.append(response.words[index]);
      }
      response.words_sent = words_due;
      response.transcript_sent += delta;
      send_event(net::realtime_transcript_delta{{}, response.id, response.item_id, 0, 0, delta});
    }

    if (response.sent_bytes == response.audio.size())
      return finish_response("completed", {});
    response_timer_.expires_after(options_.delta_interval);
    wait_for_next_delta();
  }

  void send_audio_delta(std::string_view delta_base64, std::size_t bytes) {
    auto& response = *response_;
    response.sent_bytes += bytes;
    if (response.item == nullptr)
      response.item = &items_[response.item_id];  // elements of an unordered_map stay put
    response.item->audio_bytes += bytes;
    assistant_audio_sent_ = true;
    shared_->audio_deltas_sent.fetch_add(1);
    shared_->audio_bytes_sent.fetch_add(bytes);
    send_event(net::realtime_audio_delta{
        {}, response.id, response.item_id, 0, 0, std::string(delta_base64)});
  }

  // Echo mode: the caller's audio comes straight back in one long-lived response.
  void echo(std::string_view audio_base64) {
    if (!response_)
      open_response(true);
    if (options_.on_echo_sent)
      options_.on_echo_sent(decoded_);
    send_audio_delta(audio_base64, decoded_.size());
  }

  // Ends the active response: the .done events, then response.done (§B5). A cancelled response
  // ends the same way with its item incomplete (§B4: output_audio.done is also sent on cancel).
  // A completed response with a scripted call makes it last, after its audio (a goodbye first).
  void finish_response(std::string_view status, std::string_view reason) {
    response_timer_.cancel();
    auto& response = *response_;
    const bool completed = status == "completed";
    json::array output;
    if (response.speaks)
      output.push_back(finish_audio_item(completed));
    if (completed && response.call)
      output.push_back(make_function_call(*response.call, output.size()));

    shared_->update([completed, reason](model_stats& stats) {
      if (completed) {
        ++stats.responses_completed;
      } else {
        ++stats.responses_cancelled;
        if (reason == "turn_detected")
          ++stats.responses_interrupted;
      }
    });
    json::object done = event("response.done");
    done["response"] = response_json(status, reason, std::move(output), usage_json(response));
    send_json(done);
    response_.reset();
  }

  // The .done events of the response's audio item; returns the item as response.done lists it.
  json::object finish_audio_item(bool completed) {
    auto& response = *response_;
    send_event(net::realtime_audio_done{{}, response.id, response.item_id, 0, 0});
    send_event(net::realtime_transcript_done{
        {}, response.id, response.item_id, 0, 0, response.transcript_sent});
    json::object part = event("response.content_part.done");
    part["response_id"] = response.id;
    part["item_id"] = response.item_id;
    part["output_index"] = 0;
    part["content_index"] = 0;
    part["part"] = {{"type", "output_audio"}, {"transcript", response.transcript_sent}};
    send_json(part);

    auto item = assistant_item(completed ? "completed" : "incomplete",
                               json::value(response.transcript_sent));
    send_item_done(response.id, 0, item);
    return item;
  }

  // A function_call output item, streamed as the GA server does (§B5): output_item.added with
  // empty arguments, the arguments in deltas, function_call_arguments.done (with the name, GA),
  // output_item.done. Returns the item as response.done lists it.
  json::object make_function_call(const scripted_tool_call& call, std::size_t output_index) {
    const auto& response = *response_;
    const auto item_id = shared_->make_id("item_");
    const auto call_id = shared_->make_id("call_");
    call_ids_.insert(call_id);
    auto item = [&](std::string_view status, std::string_view arguments) {
      return json::object{{"id", item_id},           {"object", "realtime.item"},
                          {"type", "function_call"}, {"status", status},
                          {"name", call.name},       {"call_id", call_id},
                          {"arguments", arguments}};
    };
    json::object added = event("response.output_item.added");
    added["response_id"] = response.id;
    added["output_index"] = output_index;
    added["item"] = item("in_progress", "");
    send_json(added);
    announce_item(item("in_progress", ""), "conversation.item.added");
    last_item_id_ = item_id;
    items_[item_id] = {"function_call", false, 0};

    // Two deltas, as the model streams its arguments in pieces.
    const auto half = call.arguments.size() / 2;
    for (const auto piece : {std::string_view(call.arguments).substr(0, half),
                             std::string_view(call.arguments).substr(half)}) {
      if (piece.empty())
        continue;
      json::object delta = event("response.function_call_arguments.delta");
      delta["response_id"] = response.id;
      delta["item_id"] = item_id;
      delta["output_index"] = output_index;
      delta["call_id"] = call_id;
      delta["delta"] = piece;
      send_json(delta);
    }
    send_event(net::realtime_function_call_done{
        {}, response.id, item_id, output_index, call_id, call.name, call.arguments});
    shared_->update([&](model_stats& stats) {
      stats.function_calls.push_back({response.id, item_id, call_id, call.name, call.arguments});
    });

    const auto done_item = item("completed", call.arguments);
    send_item_done(response.id, output_index, done_item);
    return done_item;
  }

  // Plausible usage: audio is ~10 tokens/s in and ~20 tokens/s out, text ~4 characters a token;
  // the model re-reads the whole conversation for each response.
  json::object usage_json(const active_response& response) const {
    const std::uint64_t input_audio = heard_ms_ / 100;
    const std::uint64_t input_text = 8 + session_.instructions.size() / 4;
    const std::uint64_t output_audio = response.sent_bytes / 8 / 50;
    const std::uint64_t output_text = (response.transcript_sent.size() + 3) / 4;
    const std::uint64_t input = input_audio + input_text;
    const std::uint64_t output = output_audio + output_text;
    return json::object{
        {"total_tokens", input + output},
        {"input_tokens", input},
        {"output_tokens", output},
        {"input_token_details",
         {{"text_tokens", input_text},
          {"audio_tokens", input_audio},
          {"image_tokens", 0},
          {"cached_tokens", 0},
          {"cached_tokens_details",
           {{"text_tokens", 0}, {"audio_tokens", 0}, {"image_tokens", 0}}}}},
        {"output_token_details", {{"text_tokens", output_text}, {"audio_tokens", output_audio}}}};
  }

  void response_cancel(const net::realtime_response_cancel& cancel) {
    shared_->update([](model_stats& stats) { ++stats.cancels_received; });
    if (!response_ || (cancel.response_id && *cancel.response_id != response_->id)) {
      return send_invalid("response_cancel_not_active",
                          "Cancellation failed: no active response found", std::nullopt,
                          cancel.event_id);
    }
    finish_response("cancelled", "client_cancelled");
  }

  // ---- truncation (§B4)

  void item_truncate(const net::realtime_truncate& truncate) {
    auto record = [&](bool accepted) {
      shared_->update([&](model_stats& stats) {
        stats.truncates.push_back({truncate.item_id, truncate.audio_end_ms, accepted});
        if (!accepted)
          ++stats.truncates_rejected;
      });
    };
    auto reject = [&](std::string message, std::string param) {
      record(false);
      send_invalid("invalid_value", std::move(message), std::move(param), truncate.event_id);
    };
    const auto found = items_.find(truncate.item_id);
    if (found == items_.end()) {
      return reject("conversation.item.truncate: no item with id '" + truncate.item_id +
                        "' in this conversation.",
                    "item_id");
    }
    auto& item = found->second;
    if (!item.assistant_audio) {
      return reject(
          "conversation.item.truncate: only assistant audio messages can be truncated; "
          "item '" +
              truncate.item_id + "' is a " + item.role + " item.",
          "item_id");
    }
    if (truncate.content_index != 0) {
      return reject("conversation.item.truncate: item '" + truncate.item_id +
                        "' has no content part " + std::to_string(truncate.content_index) +
                        " (its audio is content_index 0).",
                    "content_index");
    }
    const std::uint64_t item_ms = item.audio_bytes / 8;
    if (truncate.audio_end_ms > item_ms) {
      return reject("conversation.item.truncate: audio_end_ms " +
                        std::to_string(truncate.audio_end_ms) + " is beyond the audio of item '" +
                        truncate.item_id + "', which has " + std::to_string(item_ms) + " ms.",
                    "audio_end_ms");
    }
    item.audio_bytes = truncate.audio_end_ms * 8;
    record(true);
    json::object truncated = event("conversation.item.truncated");
    truncated["item_id"] = truncate.item_id;
    truncated["content_index"] = truncate.content_index;
    truncated["audio_end_ms"] = truncate.audio_end_ms;
    send_json(truncated);
  }

  std::shared_ptr<realtime_model_server::state> shared_;
  const model_options& options_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer response_timer_;
  asio::steady_timer drop_timer_;
  asio::steady_timer lifetime_timer_;
  std::weak_ptr<net::websocket_connection> connection_;
  const bool beta_;
  const bool drop_;
  bool mute_;  // sends nothing (a hung model); set at the upgrade or by mute()
  const std::uint64_t connection_number_;
  std::uint64_t appends_received_ = 0;  // input_audio_buffer.append in this session
  std::uint64_t commits_ = 0;           // user audio items committed in this session
  bool closing_ = false;                // we started closing; ignore what still arrives
  bool closed_ = false;                 // the socket is gone
  std::string out_;                     // reused for every serialised net event

  session_config session_;
  std::string conversation_id_;
  energy_vad vad_;
  std::vector<vad_event> vad_events_;
  std::vector<std::uint8_t> decoded_;

  std::unordered_map<std::string, conversation_item> items_;
  std::optional<std::string> last_item_id_;
  std::string speech_item_id_;  // the user item being spoken, between started and stopped
  std::uint64_t speech_start_ms_ = 0;
  std::uint64_t buffered_bytes_ = 0;  // appended audio not yet committed
  std::uint64_t heard_ms_ = 0;        // committed caller audio, for usage
  std::uint64_t answers_ = 0;
  std::uint64_t caller_turns_ = 0;             // speech_stopped so far: the turn a response answers
  std::uint64_t client_response_creates_ = 0;  // response.create received
  std::vector<bool> tool_call_made_;           // per model_options::tool_calls entry
  std::set<std::string> call_ids_;             // the function calls made in this session
  bool assistant_audio_sent_ = false;          // the voice is fixed from then on (§B2)
  std::optional<active_response> response_;
};

namespace {

net::http_response refusal(unsigned status, std::string_view type, std::string_view code,
                           std::string_view message) {
  const json::object body{
      {"error", {{"message", message}, {"type", type}, {"code", code}, {"param", nullptr}}}};
  return net::http_response::json(status, json::serialize(body));
}

std::string model_from_target(std::string_view target, const std::string& fallback) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url)
    return fallback;
  const auto params = url->params();
  const auto found = params.find("model");
  if (found == params.end() || !(*found).has_value)
    return fallback;
  return std::string((*found).value);
}

net::websocket_upgrade_decision decide_upgrade(
    const std::shared_ptr<realtime_model_server::state>& shared, const net::http_request& request) {
  const auto& options = shared->options;
  auto refuse = [&](unsigned status, std::string_view type, std::string_view code,
                    std::string_view message) {
    shared->update([status](model_stats& stats) {
      ++stats.upgrades_refused;
      if (status == 401)
        ++stats.unauthorized;
    });
    return net::websocket_upgrade_decision::refused(refusal(status, type, code, message));
  };
  if (options.refuse_status != 0) {
    return refuse(options.refuse_status, "server_error", "simulated_refusal",
                  "The model stand-in refuses every connection (refuse_status).");
  }
  if (!options.path.empty() && request.path() != options.path) {
    return refuse(404, "invalid_request_error", "not_found",
                  "No Realtime endpoint at this path; use " + options.path + ".");
  }
  if (!options.expected_api_key.empty()) {
    const auto authorization = request.header("authorization");
    if (authorization.empty()) {
      return refuse(401, "invalid_request_error", "missing_api_key",
                    "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
    }
    if (authorization != "Bearer " + options.expected_api_key) {
      return refuse(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.");
    }
  }
  model_session::setup how;
  how.model = model_from_target(request.target, options.model);
  how.beta = request.header("openai-beta").find("realtime=v1") != std::string_view::npos;
  {
    std::lock_guard lock(shared->mutex);
    const auto index = shared->connections_accepted++;
    how.connection = index + 1;
    how.drop = options.drop_after.count() > 0 && index < options.drop_first_connections;
    how.mute = index < options.mute_first_connections;
    if (!how.mute && shared->mute_next_connections > 0) {
      how.mute = true;
      --shared->mute_next_connections;
    }
  }
  return net::websocket_upgrade_decision::accepted(
      std::make_shared<model_session>(shared, std::move(how)));
}

}  // namespace

boost::system::result<std::unique_ptr<realtime_model_server>, std::string>
realtime_model_server::start(boost::asio::io_context& io, model_options options) {
  if (options.delta_audio_ms == 0)
    return std::string("model_options.delta_audio_ms must be > 0");
  auto shared = std::make_shared<state>(io, std::move(options));
  const auto& settings = shared->options;
  net::http_server_options http_options;
  http_options.bind_address = settings.bind_address;
  http_options.port = settings.port;
  http_options.websocket = settings.limits;
  // The routes hold the state, not the server: no cycle between state and its http_server.
  net::http_routes routes;
  routes.on_upgrade = [shared](const net::http_request& request) {
    return decide_upgrade(shared, request);
  };
  auto http = net::http_server::start(io, std::move(http_options), std::move(routes), settings.tls);
  if (!http)
    return "model stand-in: " + http.error();
  return std::unique_ptr<realtime_model_server>(
      new realtime_model_server(std::move(shared), std::move(*http)));
}

realtime_model_server::realtime_model_server(std::shared_ptr<state> shared,
                                             std::unique_ptr<net::http_server> http)
    : state_(std::move(shared)), http_(std::move(http)), port_(http_->port()) {}

realtime_model_server::~realtime_model_server() {
  stop();
}

std::uint16_t realtime_model_server::port() const {
  return port_;
}

std::string realtime_model_server::url() const {
  std::string host = state_->options.bind_address;
  if (host == "0.0.0.0" || host.empty())
    host = "127.0.0.1";
  if (host == "::")
    host = "::1";
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  const std::string path = state_->options.path.empty() ? "/" : state_->options.path;
  return (state_->options.tls ? "wss://" : "ws://") + host + ":" + std::to_string(port_) + path;
}

void realtime_model_server::stop() {
  http_->stop();
  close_sessions(net::close_code::going_away, "server stopping");
}

void realtime_model_server::close_sessions(net::close_code code, std::string reason) {
  std::vector<std::shared_ptr<model_session>> open;
  {
    std::lock_guard lock(state_->mutex);
    for (const auto& session : state_->sessions) {
      if (auto alive = session.lock())
        open.push_back(std::move(alive));
    }
  }
  for (const auto& session : open)
    session->close(code, reason);
}

void realtime_model_server::mute_sessions(std::size_t also_next_connections) {
  std::vector<std::shared_ptr<model_session>> open;
  {
    std::lock_guard lock(state_->mutex);
    state_->mute_next_connections = also_next_connections;
    for (const auto& session : state_->sessions) {
      if (auto alive = session.lock())
        open.push_back(std::move(alive));
    }
  }
  for (const auto& session : open)
    session->mute();
}

model_stats realtime_model_server::stats() const {
  std::lock_guard lock(state_->mutex);
  model_stats stats = state_->stats;
  stats.appends = state_->appends.load();
  stats.append_bytes = state_->append_bytes.load();
  stats.audio_deltas_sent = state_->audio_deltas_sent.load();
  stats.audio_bytes_sent = state_->audio_bytes_sent.load();
  return stats;
}

}  // namespace switchboard::sim
