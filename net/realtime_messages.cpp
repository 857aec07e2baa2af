#include "net/realtime_messages.hpp"

#include "net/wire_json.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include <type_traits>

namespace switchboard::net {

namespace {

using wire_json::reader;
using wire_json::writer;
using server_result = boost::system::result<realtime_server_event, wire_error>;
using client_result = boost::system::result<realtime_client_event, wire_error>;

// Holds the DOM of a typical audio delta (a few KiB of base64) without touching the heap; larger
// events spill over to the default resource. Parsers run on actor or I/O threads with MiB-sized
// stacks.
constexpr std::size_t parse_buffer_bytes = 16 * 1024;

template <class Result, class Event>
Result finish(Event event, const std::optional<wire_error>& error) {
  if (error)
    return *error;
  return Result(std::move(event));
}

std::string read_event_id(const reader& top) {
  return top.optional_string("event_id").value_or(std::string{});
}

std::string optional_or_empty(const reader& object, std::string_view key) {
  return object.optional_string(key).value_or(std::string{});
}

void begin_event(writer& json, std::string_view type, std::string_view event_id) {
  json.begin_object().string_field("type", type).nonempty_string_field("event_id", event_id);
}

// A GA voice is a name ("marin") or a custom voice object ({"id":"voice_..."}, §B3).
std::optional<std::string> read_voice(const reader& parent, std::string_view key) {
  const auto* value = parent.find(key);
  if (value == nullptr || value->is_null())
    return std::nullopt;
  if (const auto* name = value->if_string())
    return std::string(name->data(), name->size());
  if (value->is_object())
    return parent.child(key).string("id");
  parent.fail(wire_errc::wrong_type, key,
              "expected a string or an object, got " + std::string(wire_json::kind_name(*value)));
  return std::nullopt;
}

// ---- session.update ---------------------------------------------------------------------------

std::optional<realtime_turn_detection> read_turn_detection(const reader& input) {
  const auto* value = input.find("turn_detection");
  if (value == nullptr)
    return std::nullopt;
  if (value->is_null())
    return realtime_no_turn_detection{};
  const auto detection = input.child("turn_detection");
  const auto type = detection.string("type");
  if (type == "server_vad") {
    realtime_server_vad vad;
    vad.threshold = detection.optional_number("threshold").value_or(vad.threshold);
    vad.prefix_padding_ms =
        detection.optional_uint64("prefix_padding_ms").value_or(vad.prefix_padding_ms);
    vad.silence_duration_ms =
        detection.optional_uint64("silence_duration_ms").value_or(vad.silence_duration_ms);
    vad.create_response =
        detection.optional_boolean("create_response").value_or(vad.create_response);
    vad.interrupt_response =
        detection.optional_boolean("interrupt_response").value_or(vad.interrupt_response);
    vad.idle_timeout_ms = detection.optional_uint64("idle_timeout_ms");
    return vad;
  }
  if (type == "semantic_vad") {
    realtime_semantic_vad vad;
    vad.eagerness = detection.optional_string("eagerness").value_or(vad.eagerness);
    vad.create_response =
        detection.optional_boolean("create_response").value_or(vad.create_response);
    vad.interrupt_response =
        detection.optional_boolean("interrupt_response").value_or(vad.interrupt_response);
    return vad;
  }
  if (!detection.error()) {
    detection.fail(wire_errc::bad_value, "type",
                   "expected server_vad or semantic_vad, got " + wire_json::quote_for_detail(type));
  }
  return std::nullopt;
}

std::optional<std::vector<realtime_function_tool>> read_tools(const reader& session) {
  if (!session.has("tools") || session.is_null("tools"))
    return std::nullopt;
  std::vector<realtime_function_tool> tools;
  for (const auto& entry : session.object_array("tools")) {
    const auto type = entry.string("type");
    if (!entry.error() && type != "function") {
      entry.fail(wire_errc::bad_value, "type",
                 "only function tools are supported, got " + wire_json::quote_for_detail(type));
    }
    realtime_function_tool tool;
    tool.name = entry.string("name");
    tool.description = optional_or_empty(entry, "description");
    if (const auto* parameters = entry.find("parameters")) {
      // Copy into default storage: the parsed DOM lives in a stack buffer.
      tool.parameters = boost::json::value(*parameters, boost::json::storage_ptr());
    }
    tools.push_back(std::move(tool));
  }
  return tools;
}

realtime_session_update read_session_update(const reader& top) {
  realtime_session_update update;
  update.event_id = read_event_id(top);
  const auto session = top.child("session");
  update.session_type = session.optional_string("type");
  update.model = session.optional_string("model");
  if (session.has("output_modalities") && !session.is_null("output_modalities")) {
    update.output_modalities = session.string_array("output_modalities");
  }
  update.instructions = session.optional_string("instructions");
  if (const auto audio = session.optional_child("audio")) {
    if (const auto input = audio->optional_child("input")) {
      if (const auto format = input->optional_child("format")) {
        update.input_format = format->string("type");
      }
      update.turn_detection = read_turn_detection(*input);
      if (const auto transcription = input->optional_child("transcription")) {
        update.transcription = realtime_transcription{optional_or_empty(*transcription, "model"),
                                                      transcription->optional_string("language")};
      }
    }
    if (const auto output = audio->optional_child("output")) {
      if (const auto format = output->optional_child("format")) {
        update.output_format = format->string("type");
      }
      update.voice = read_voice(*output, "voice");
    }
  }
  update.tools = read_tools(session);
  update.tool_choice = session.optional_string("tool_choice");
  return update;
}

void write_turn_detection(writer& json, const realtime_turn_detection& detection) {
  json.key("turn_detection");
  std::visit(
      [&](const auto& d) {
        using detection_type = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<detection_type, realtime_server_vad>) {
          json.begin_object()
              .string_field("type", "server_vad")
              .number_field("threshold", d.threshold)
              .uint64_field("prefix_padding_ms", d.prefix_padding_ms)
              .uint64_field("silence_duration_ms", d.silence_duration_ms)
              .boolean_field("create_response", d.create_response)
              .boolean_field("interrupt_response", d.interrupt_response);
          if (d.idle_timeout_ms)
            json.uint64_field("idle_timeout_ms", *d.idle_timeout_ms);
          json.end_object();
        } else if constexpr (std::is_same_v<detection_type, realtime_semantic_vad>) {
          json.begin_object()
              .string_field("type", "semantic_vad")
              .string_field("eagerness", d.eagerness)
              .boolean_field("create_response", d.create_response)
              .boolean_field("interrupt_response", d.interrupt_response)
              .end_object();
        } else {
          json.null();
        }
      },
      detection);
}

void write_session_update(std::string& out, const realtime_session_update& update) {
  writer json(out);
  begin_event(json, "session.update", update.event_id);
  json.key("session").begin_object();
  if (update.session_type)
    json.string_field("type", *update.session_type);
  if (update.model)
    json.string_field("model", *update.model);
  if (update.output_modalities) {
    json.key("output_modalities").begin_array();
    for (const auto& modality : *update.output_modalities)
      json.string(modality);
    json.end_array();
  }
  if (update.instructions)
    json.string_field("instructions", *update.instructions);

  const bool has_input = update.input_format || update.turn_detection || update.transcription;
  const bool has_output = update.output_format || update.voice;
  if (has_input || has_output) {
    json.key("audio").begin_object();
    if (has_input) {
      json.key("input").begin_object();
      if (update.input_format) {
        json.key("format").begin_object().string_field("type", *update.input_format).end_object();
      }
      if (update.turn_detection)
        write_turn_detection(json, *update.turn_detection);
      if (update.transcription) {
        json.key("transcription").begin_object();
        json.nonempty_string_field("model", update.transcription->model);
        if (update.transcription->language) {
          json.string_field("language", *update.transcription->language);
        }
        json.end_object();
      }
      json.end_object();
    }
    if (has_output) {
      json.key("output").begin_object();
      if (update.output_format) {
        json.key("format").begin_object().string_field("type", *update.output_format).end_object();
      }
      if (update.voice)
        json.string_field("voice", *update.voice);
      json.end_object();
    }
    json.end_object();
  }

  if (update.tools) {
    json.key("tools").begin_array();
    for (const auto& tool : *update.tools) {
      json.begin_object()
          .string_field("type", "function")
          .string_field("name", tool.name)
          .string_field("description", tool.description);
      if (!tool.parameters.is_null()) {
        json.key("parameters").value(tool.parameters);
      }
      json.end_object();
    }
    json.end_array();
  }
  if (update.tool_choice)
    json.string_field("tool_choice", *update.tool_choice);
  json.end_object().end_object();
}

// ---- other client events ----------------------------------------------------------------------

// A message's text is the concatenation of its text parts; audio parts are not text.
std::string read_message_text(const reader& item) {
  std::string text;
  for (const auto& part : item.object_array("content")) {
    const auto type = part.string("type");
    if (type == "input_text" || type == "text" || type == "output_text") {
      text += part.string("text");
    }
  }
  return text;
}

client_result read_item_create(const reader& top, const std::optional<wire_error>& error) {
  const auto item = top.child("item");
  const auto type = item.string("type");
  if (error)
    return *error;
  if (type == "message") {
    realtime_create_message message{read_event_id(top), item.string("role"), {}};
    message.text = read_message_text(item);
    return finish<client_result>(std::move(message), error);
  }
  if (type == "function_call") {
    realtime_create_function_call call{read_event_id(top), item.string("call_id"),
                                       item.string("name"), item.string("arguments")};
    return finish<client_result>(std::move(call), error);
  }
  if (type == "function_call_output") {
    realtime_create_function_output output{read_event_id(top), item.string("call_id"),
                                           item.string("output")};
    return finish<client_result>(std::move(output), error);
  }
  return wire_error{wire_errc::bad_value,
                    "item.type: expected message, function_call or function_call_output, got " +
                        wire_json::quote_for_detail(type)};
}

void write_user_message(std::string& out, std::string_view role, std::string_view text,
                        std::string_view event_id) {
  writer json(out);
  begin_event(json, "conversation.item.create", event_id);
  json.key("item")
      .begin_object()
      .string_field("type", "message")
      .string_field("role", role)
      .key("content")
      .begin_array()
      .begin_object()
      // GA: the assistant's content is output_text; user and system content is input_text.
      .string_field("type", role == "assistant" ? "output_text" : "input_text")
      .string_field("text", text)
      .end_object()
      .end_array()
      .end_object()
      .end_object();
}

// ---- server events ----------------------------------------------------------------------------

realtime_session_info read_session_info(const reader& top) {
  realtime_session_info info;
  const auto session = top.child("session");
  info.id = optional_or_empty(session, "id");
  info.model = optional_or_empty(session, "model");
  info.instructions = optional_or_empty(session, "instructions");
  if (const auto audio = session.optional_child("audio")) {
    if (const auto input = audio->optional_child("input")) {
      if (const auto format = input->optional_child("format")) {
        info.input_format = optional_or_empty(*format, "type");
      }
      if (const auto detection = input->optional_child("turn_detection")) {
        info.turn_detection_type = optional_or_empty(*detection, "type");
      }
    }
    if (const auto output = audio->optional_child("output")) {
      if (const auto format = output->optional_child("format")) {
        info.output_format = optional_or_empty(*format, "type");
      }
      info.voice = read_voice(*output, "voice").value_or(std::string{});
    }
  }
  return info;
}

void write_session_info(writer& json, const realtime_session_info& info) {
  json.key("session")
      .begin_object()
      .string_field("object", "realtime.session")
      .string_field("type", "realtime")
      .string_field("id", info.id)
      .string_field("model", info.model)
      .string_field("instructions", info.instructions)
      .key("audio")
      .begin_object()
      .key("input")
      .begin_object()
      .key("format")
      .begin_object()
      .string_field("type", info.input_format)
      .end_object()
      .key("turn_detection");
  if (info.turn_detection_type.empty()) {
    json.null();
  } else {
    json.begin_object().string_field("type", info.turn_detection_type).end_object();
  }
  json.end_object()
      .key("output")
      .begin_object()
      .key("format")
      .begin_object()
      .string_field("type", info.output_format)
      .end_object()
      .string_field("voice", info.voice)
      .end_object()
      .end_object()
      .end_object();
}

// The ids every audio/transcript delta and done event carries (§B5).
template <class Event>
void read_content_ids(const reader& top, Event& event) {
  event.event_id = read_event_id(top);
  event.response_id = top.string("response_id");
  event.item_id = top.string("item_id");
  event.output_index = top.uint64("output_index");
  event.content_index = top.uint64("content_index");
}

template <class Event>
void write_content_ids(writer& json, const Event& event) {
  json.string_field("response_id", event.response_id)
      .string_field("item_id", event.item_id)
      .uint64_field("output_index", event.output_index)
      .uint64_field("content_index", event.content_index);
}

realtime_audio_delta read_audio_delta(const reader& top) {
  realtime_audio_delta delta;
  read_content_ids(top, delta);
  delta.delta_base64 = top.base64("delta");
  return delta;
}

realtime_output_item_done read_output_item_done(const reader& top) {
  realtime_output_item_done done;
  done.event_id = read_event_id(top);
  done.response_id = top.string("response_id");
  done.output_index = top.uint64("output_index");
  const auto item = top.child("item");
  done.item_id = optional_or_empty(item, "id");
  done.item_type = item.string("type");
  done.item_status = optional_or_empty(item, "status");
  if (done.item_type == "function_call") {
    done.name = item.string("name");
    done.call_id = item.string("call_id");
    done.arguments = item.string("arguments");
  }
  return done;
}

realtime_response_done read_response_done(const reader& top) {
  realtime_response_done done;
  done.event_id = read_event_id(top);
  const auto response = top.child("response");
  done.response_id = response.string("id");
  done.status = response.string("status");
  if (const auto details = response.optional_child("status_details")) {
    done.status_reason = optional_or_empty(*details, "reason");
  }
  if (const auto usage = response.optional_child("usage")) {
    realtime_usage counts;
    counts.total_tokens = usage->optional_uint64("total_tokens").value_or(0);
    counts.input_tokens = usage->optional_uint64("input_tokens").value_or(0);
    counts.output_tokens = usage->optional_uint64("output_tokens").value_or(0);
    if (const auto input = usage->optional_child("input_token_details")) {
      counts.input_text_tokens = input->optional_uint64("text_tokens").value_or(0);
      counts.input_audio_tokens = input->optional_uint64("audio_tokens").value_or(0);
      counts.input_cached_tokens = input->optional_uint64("cached_tokens").value_or(0);
    }
    if (const auto output = usage->optional_child("output_token_details")) {
      counts.output_text_tokens = output->optional_uint64("text_tokens").value_or(0);
      counts.output_audio_tokens = output->optional_uint64("audio_tokens").value_or(0);
    }
    done.usage = counts;
  }
  return done;
}

realtime_rate_limits_updated read_rate_limits(const reader& top) {
  realtime_rate_limits_updated updated;
  updated.event_id = read_event_id(top);
  for (const auto& entry : top.object_array("rate_limits")) {
    updated.rate_limits.push_back({entry.string("name"), entry.uint64("limit"),
                                   entry.uint64("remaining"), entry.number("reset_seconds")});
  }
  return updated;
}

realtime_error read_error(const reader& top) {
  realtime_error error;
  error.event_id = read_event_id(top);
  const auto body = top.child("error");
  error.type = body.string("type");
  error.code = body.optional_string("code");
  error.message = body.string("message");
  error.param = body.optional_string("param");
  error.client_event_id = body.optional_string("event_id");
  return error;
}

void write_server_event(writer& json, const realtime_server_event& event) {
  std::visit(
      [&](const auto& e) {
        using event_type = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<event_type, realtime_session_created>) {
          begin_event(json, "session.created", e.event_id);
          write_session_info(json, e.session);
        } else if constexpr (std::is_same_v<event_type, realtime_session_updated>) {
          begin_event(json, "session.updated", e.event_id);
          write_session_info(json, e.session);
        } else if constexpr (std::is_same_v<event_type, realtime_speech_started>) {
          begin_event(json, "input_audio_buffer.speech_started", e.event_id);
          json.string_field("item_id", e.item_id).uint64_field("audio_start_ms", e.audio_start_ms);
        } else if constexpr (std::is_same_v<event_type, realtime_speech_stopped>) {
          begin_event(json, "input_audio_buffer.speech_stopped", e.event_id);
          json.string_field("item_id", e.item_id).uint64_field("audio_end_ms", e.audio_end_ms);
        } else if constexpr (std::is_same_v<event_type, realtime_audio_committed>) {
          begin_event(json, "input_audio_buffer.committed", e.event_id);
          json.string_field("item_id", e.item_id)
              .nullable_string_field("previous_item_id", e.previous_item_id);
        } else if constexpr (std::is_same_v<event_type, realtime_response_created>) {
          begin_event(json, "response.created", e.event_id);
          json.key("response")
              .begin_object()
              .string_field("object", "realtime.response")
              .string_field("id", e.response_id)
              .nonempty_string_field("status", e.status)
              .end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_audio_delta>) {
          begin_event(json, "response.output_audio.delta", e.event_id);
          write_content_ids(json, e);
          json.string_field("delta", e.delta_base64);
        } else if constexpr (std::is_same_v<event_type, realtime_audio_done>) {
          begin_event(json, "response.output_audio.done", e.event_id);
          write_content_ids(json, e);
        } else if constexpr (std::is_same_v<event_type, realtime_transcript_delta>) {
          begin_event(json, "response.output_audio_transcript.delta", e.event_id);
          write_content_ids(json, e);
          json.string_field("delta", e.delta);
        } else if constexpr (std::is_same_v<event_type, realtime_transcript_done>) {
          begin_event(json, "response.output_audio_transcript.done", e.event_id);
          write_content_ids(json, e);
          json.string_field("transcript", e.transcript);
        } else if constexpr (std::is_same_v<event_type, realtime_input_transcript>) {
          begin_event(json, "conversation.item.input_audio_transcription.completed", e.event_id);
          json.string_field("item_id", e.item_id)
              .uint64_field("content_index", e.content_index)
              .string_field("transcript", e.transcript);
        } else if constexpr (std::is_same_v<event_type, realtime_output_item_done>) {
          begin_event(json, "response.output_item.done", e.event_id);
          json.string_field("response_id", e.response_id)
              .uint64_field("output_index", e.output_index)
              .key("item")
              .begin_object()
              .string_field("id", e.item_id)
              .string_field("type", e.item_type)
              .nonempty_string_field("status", e.item_status);
          if (e.item_type == "function_call") {
            json.string_field("name", e.name)
                .string_field("call_id", e.call_id)
                .string_field("arguments", e.arguments);
          }
          json.end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_function_call_done>) {
          begin_event(json, "response.function_call_arguments.done", e.event_id);
          json.string_field("response_id", e.response_id)
              .string_field("item_id", e.item_id)
              .uint64_field("output_index", e.output_index)
              .string_field("call_id", e.call_id)
              .nonempty_string_field("name", e.name)
              .string_field("arguments", e.arguments);
        } else if constexpr (std::is_same_v<event_type, realtime_response_done>) {
          begin_event(json, "response.done", e.event_id);
          json.key("response")
              .begin_object()
              .string_field("object", "realtime.response")
              .string_field("id", e.response_id)
              .string_field("status", e.status)
              .key("status_details");
          if (e.status_reason.empty()) {
            json.null();
          } else {
            json.begin_object()
                .string_field("type", e.status)
                .string_field("reason", e.status_reason)
                .end_object();
          }
          json.key("output").begin_array().end_array().key("usage");
          if (!e.usage) {
            json.null();
          } else {
            const auto& u = *e.usage;
            json.begin_object()
                .uint64_field("total_tokens", u.total_tokens)
                .uint64_field("input_tokens", u.input_tokens)
                .uint64_field("output_tokens", u.output_tokens)
                .key("input_token_details")
                .begin_object()
                .uint64_field("text_tokens", u.input_text_tokens)
                .uint64_field("audio_tokens", u.input_audio_tokens)
                .uint64_field("cached_tokens", u.input_cached_tokens)
                .end_object()
                .key("output_token_details")
                .begin_object()
                .uint64_field("text_tokens", u.output_text_tokens)
                .uint64_field("audio_tokens", u.output_audio_tokens)
                .end_object()
                .end_object();
          }
          json.end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_rate_limits_updated>) {
          begin_event(json, "rate_limits.updated", e.event_id);
          json.key("rate_limits").begin_array();
          for (const auto& limit : e.rate_limits) {
            json.begin_object()
                .string_field("name", limit.name)
                .uint64_field("limit", limit.limit)
                .uint64_field("remaining", limit.remaining)
                .number_field("reset_seconds", limit.reset_seconds)
                .end_object();
          }
          json.end_array();
        } else if constexpr (std::is_same_v<event_type, realtime_error>) {
          begin_event(json, "error", e.event_id);
          json.key("error")
              .begin_object()
              .string_field("type", e.type)
              .nullable_string_field("code", e.code)
              .string_field("message", e.message)
              .nullable_string_field("param", e.param)
              .nullable_string_field("event_id", e.client_event_id)
              .end_object();
        } else {
          static_assert(std::is_same_v<event_type, realtime_other_event>);
          begin_event(json, e.type, e.event_id);
        }
        json.end_object();
      },
      event);
}

}  // namespace

// ---- client events: bridge side -------------------------------------------------------------

void append_realtime_session_update(std::string& out, const realtime_session_config& config,
                                    std::string_view event_id) {
  // The config is the whole session; as an update every field is present.
  realtime_session_update update;
  update.event_id = std::string(event_id);
  update.session_type = "realtime";
  update.model = config.model;
  // GA allows audio or text output, not both; audio output comes with its transcript (§B3).
  update.output_modalities = std::vector<std::string>{"audio"};
  update.instructions = config.instructions;
  update.input_format = std::string(realtime_pcmu_format);
  update.output_format = std::string(realtime_pcmu_format);
  update.voice = config.voice;
  update.turn_detection = config.turn_detection;
  update.transcription = config.transcription;
  update.tools = config.tools;
  update.tool_choice = config.tool_choice;
  write_session_update(out, update);
}

void append_realtime_audio_append(std::string& out, std::string_view audio_base64,
                                  std::string_view event_id) {
  writer json(out);
  begin_event(json, "input_audio_buffer.append", event_id);
  // Checked base64 needs no escaping: the common case costs one scan, no copy.
  json.key("audio").base64_text(audio_base64).end_object();
}

void append_realtime_audio_append(std::string& out, std::span<const std::uint8_t> audio,
                                  std::string_view event_id) {
  writer json(out);
  begin_event(json, "input_audio_buffer.append", event_id);
  json.key("audio").base64_string(audio).end_object();
}

void append_realtime_user_text(std::string& out, std::string_view text, std::string_view event_id) {
  write_user_message(out, "user", text, event_id);
}

void append_realtime_assistant_text(std::string& out, std::string_view text,
                                    std::string_view event_id) {
  write_user_message(out, "assistant", text, event_id);
}

void append_realtime_system_text(std::string& out, std::string_view text,
                                 std::string_view event_id) {
  write_user_message(out, "system", text, event_id);
}

void append_realtime_function_call_item(std::string& out, std::string_view call_id,
                                        std::string_view name, std::string_view arguments,
                                        std::string_view event_id) {
  writer json(out);
  begin_event(json, "conversation.item.create", event_id);
  json.key("item")
      .begin_object()
      .string_field("type", "function_call")
      .string_field("call_id", call_id)
      .string_field("name", name)
      .string_field("arguments", arguments)
      .end_object()
      .end_object();
}

void append_realtime_function_output(std::string& out, std::string_view call_id,
                                     std::string_view output, std::string_view event_id) {
  writer json(out);
  begin_event(json, "conversation.item.create", event_id);
  json.key("item")
      .begin_object()
      .string_field("type", "function_call_output")
      .string_field("call_id", call_id)
      .string_field("output", output)
      .end_object()
      .end_object();
}

void append_realtime_response_create(std::string& out, std::string_view instructions,
                                     std::string_view event_id) {
  writer json(out);
  begin_event(json, "response.create", event_id);
  if (!instructions.empty()) {
    json.key("response").begin_object().string_field("instructions", instructions).end_object();
  }
  json.end_object();
}

void append_realtime_response_cancel(std::string& out, std::string_view response_id,
                                     std::string_view event_id) {
  writer json(out);
  begin_event(json, "response.cancel", event_id);
  json.nonempty_string_field("response_id", response_id).end_object();
}

void append_realtime_truncate(std::string& out, std::string_view item_id,
                              std::uint64_t audio_end_ms, std::string_view event_id) {
  writer json(out);
  begin_event(json, "conversation.item.truncate", event_id);
  // Audio is always the first (only) content part of an assistant audio item.
  json.string_field("item_id", item_id)
      .uint64_field("content_index", 0)
      .uint64_field("audio_end_ms", audio_end_ms)
      .end_object();
}

// ---- client events: server side -------------------------------------------------------------

client_result parse_realtime_client_event(std::string_view text) {
  unsigned char buffer[parse_buffer_bytes];
  boost::json::monotonic_resource storage(buffer, sizeof buffer);
  auto root = wire_json::parse_object(text, max_realtime_event_bytes, "realtime", &storage);
  if (!root)
    return root.error();

  std::optional<wire_error> error;
  const reader top(root->get_object(), error);
  const auto type = top.string("type");
  if (error)
    return *error;

  if (type == "input_audio_buffer.append") {
    realtime_audio_append append{read_event_id(top), top.base64("audio")};
    return finish<client_result>(std::move(append), error);
  }
  if (type == "session.update")
    return finish<client_result>(read_session_update(top), error);
  if (type == "conversation.item.create")
    return read_item_create(top, error);
  if (type == "conversation.item.truncate") {
    realtime_truncate truncate{read_event_id(top), top.string("item_id"),
                               top.uint64("content_index"), top.uint64("audio_end_ms")};
    return finish<client_result>(std::move(truncate), error);
  }
  if (type == "response.create") {
    realtime_response_create create{read_event_id(top), std::nullopt};
    if (const auto response = top.optional_child("response")) {
      create.instructions = response->optional_string("instructions");
    }
    return finish<client_result>(std::move(create), error);
  }
  if (type == "response.cancel") {
    realtime_response_cancel cancel{read_event_id(top), top.optional_string("response_id")};
    return finish<client_result>(std::move(cancel), error);
  }
  return finish<client_result>(realtime_other_client_event{read_event_id(top), type}, error);
}

void append_realtime_client_event(std::string& out, const realtime_client_event& event) {
  std::visit(
      [&](const auto& e) {
        using event_type = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<event_type, realtime_session_update>) {
          write_session_update(out, e);
        } else if constexpr (std::is_same_v<event_type, realtime_audio_append>) {
          // Not necessarily base64 when it came from a fuzzer or a test: escape it.
          writer json(out);
          begin_event(json, "input_audio_buffer.append", e.event_id);
          json.string_field("audio", e.audio_base64).end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_create_message>) {
          write_user_message(out, e.role, e.text, e.event_id);
        } else if constexpr (std::is_same_v<event_type, realtime_create_function_call>) {
          append_realtime_function_call_item(out, e.call_id, e.name, e.arguments, e.event_id);
        } else if constexpr (std::is_same_v<event_type, realtime_create_function_output>) {
          append_realtime_function_output(out, e.call_id, e.output, e.event_id);
        } else if constexpr (std::is_same_v<event_type, realtime_response_create>) {
          writer json(out);
          begin_event(json, "response.create", e.event_id);
          if (e.instructions) {
            json.key("response")
                .begin_object()
                .string_field("instructions", *e.instructions)
                .end_object();
          }
          json.end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_response_cancel>) {
          writer json(out);
          begin_event(json, "response.cancel", e.event_id);
          if (e.response_id)
            json.string_field("response_id", *e.response_id);
          json.end_object();
        } else if constexpr (std::is_same_v<event_type, realtime_truncate>) {
          writer json(out);
          begin_event(json, "conversation.item.truncate", e.event_id);
          json.string_field("item_id", e.item_id)
              .uint64_field("content_index", e.content_index)
              .uint64_field("audio_end_ms", e.audio_end_ms)
              .end_object();
        } else {
          static_assert(std::is_same_v<event_type, realtime_other_client_event>);
          writer json(out);
          begin_event(json, e.type, e.event_id);
          json.end_object();
        }
      },
      event);
}

// ---- server events: bridge side -------------------------------------------------------------

server_result parse_realtime_event(std::string_view text) {
  unsigned char buffer[parse_buffer_bytes];
  boost::json::monotonic_resource storage(buffer, sizeof buffer);
  auto root = wire_json::parse_object(text, max_realtime_event_bytes, "realtime", &storage);
  if (!root)
    return root.error();

  std::optional<wire_error> error;
  const reader top(root->get_object(), error);
  const auto type = top.string("type");
  if (error)
    return *error;

  // Audio deltas and their transcript deltas are most of the traffic: test them first.
  if (type == "response.output_audio.delta" || type == "response.audio.delta") {
    return finish<server_result>(read_audio_delta(top), error);
  }
  if (type == "response.output_audio_transcript.delta" ||
      type == "response.audio_transcript.delta") {
    realtime_transcript_delta delta;
    read_content_ids(top, delta);
    delta.delta = top.string("delta");
    return finish<server_result>(std::move(delta), error);
  }
  if (type == "response.output_audio.done" || type == "response.audio.done") {
    realtime_audio_done done;
    read_content_ids(top, done);
    return finish<server_result>(std::move(done), error);
  }
  if (type == "response.output_audio_transcript.done" || type == "response.audio_transcript.done") {
    realtime_transcript_done done;
    read_content_ids(top, done);
    done.transcript = top.string("transcript");
    return finish<server_result>(std::move(done), error);
  }
  if (type == "input_audio_buffer.speech_started") {
    realtime_speech_started started{read_event_id(top), top.string("item_id"),
                                    top.uint64("audio_start_ms")};
    return finish<server_result>(std::move(started), error);
  }
  if (type == "input_audio_buffer.speech_stopped") {
    realtime_speech_stopped stopped{read_event_id(top), top.string("item_id"),
                                    top.uint64("audio_end_ms")};
    return finish<server_result>(std::move(stopped), error);
  }
  if (type == "input_audio_buffer.committed") {
    realtime_audio_committed committed{read_event_id(top), top.string("item_id"),
                                       top.optional_string("previous_item_id")};
    return finish<server_result>(std::move(committed), error);
  }
  if (type == "response.created") {
    const auto response = top.child("response");
    realtime_response_created created{read_event_id(top), response.string("id"),
                                      optional_or_empty(response, "status")};
    return finish<server_result>(std::move(created), error);
  }
  if (type == "response.done")
    return finish<server_result>(read_response_done(top), error);
  if (type == "response.output_item.done") {
    return finish<server_result>(read_output_item_done(top), error);
  }
  if (type == "response.function_call_arguments.done") {
    realtime_function_call_done done;
    done.event_id = read_event_id(top);
    done.response_id = optional_or_empty(top, "response_id");
    done.item_id = optional_or_empty(top, "item_id");
    done.output_index = top.optional_uint64("output_index").value_or(0);
    done.call_id = top.string("call_id");
    done.name = optional_or_empty(top, "name");
    done.arguments = top.string("arguments");
    return finish<server_result>(std::move(done), error);
  }
  if (type == "conversation.item.input_audio_transcription.completed") {
    realtime_input_transcript transcript{read_event_id(top), top.string("item_id"),
                                         top.optional_uint64("content_index").value_or(0),
                                         top.string("transcript")};
    return finish<server_result>(std::move(transcript), error);
  }
  if (type == "rate_limits.updated")
    return finish<server_result>(read_rate_limits(top), error);
  if (type == "error")
    return finish<server_result>(read_error(top), error);
  if (type == "session.created") {
    realtime_session_created created{read_event_id(top), read_session_info(top)};
    return finish<server_result>(std::move(created), error);
  }
  if (type == "session.updated") {
    realtime_session_updated updated{read_event_id(top), read_session_info(top)};
    return finish<server_result>(std::move(updated), error);
  }
  return finish<server_result>(realtime_other_event{read_event_id(top), type}, error);
}

// ---- server events: server side -------------------------------------------------------------

void append_realtime_server_event(std::string& out, const realtime_server_event& event) {
  writer json(out);
  write_server_event(json, event);
}

}  // namespace switchboard::net
