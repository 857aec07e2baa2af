#include "metrics/bridge_metrics.hpp"

#include "metrics/process_metrics.hpp"

#include <prometheus/text_serializer.h>

namespace switchboard::metrics {

namespace {

using prometheus::Histogram;

// Bucket bounds, in the unit of each family (seconds, or messages).
const Histogram::BucketBoundaries frame_latency_buckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                        0.05,   0.1,   0.25,  0.5,   1.0};
const Histogram::BucketBoundaries first_audio_buckets{0.1, 0.2, 0.3, 0.5, 0.75, 1.0,
                                                      1.5, 2.0, 3.0, 5.0, 10.0};
const Histogram::BucketBoundaries connect_buckets{0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0};
const Histogram::BucketBoundaries clear_buckets{0.0005, 0.001, 0.002, 0.005, 0.01,
                                                0.02,   0.05,  0.1,   0.25,  0.5};
const Histogram::BucketBoundaries mark_echo_buckets{0.02, 0.05, 0.1, 0.2,  0.5,
                                                    1.0,  2.0,  5.0, 10.0, 30.0};
const Histogram::BucketBoundaries upload_buckets{0.05, 0.1,  0.25, 0.5,  1.0,  2.5,
                                                 5.0,  10.0, 30.0, 60.0, 120.0};
const Histogram::BucketBoundaries call_duration_buckets{5,   15,  30,   60,   120,
                                                        300, 600, 1200, 1800, 3600};
const Histogram::BucketBoundaries handler_buckets{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4,
                                                  1e-3, 5e-3, 0.01, 0.05, 0.1};
// Event-loop lag: under a millisecond when idle, tens of ms when the io threads queue work.
const Histogram::BucketBoundaries loop_lag_buckets{0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
                                                   0.05,   0.1,   0.25,  0.5,   1.0,  2.5};
const Histogram::BucketBoundaries mailbox_buckets{0, 1, 2, 4, 8, 16, 32, 64, 128, 256};

constexpr std::array<std::string_view, 12> model_error_codes{
    "invalid_request_error",
    "invalid_api_key",
    "insufficient_quota",
    "rate_limit_exceeded",
    "server_error",
    "session_expired",
    "invalid_value",
    "conversation_already_has_active_response",
    "response_cancel_not_active",
    "input_audio_buffer_commit_empty",
    "item_truncate_invalid_item_id",
    "decimal_above_max_value",
};

constexpr std::array<unsigned, 9> webhook_statuses{200, 400, 403, 404, 405, 413, 500, 502, 503};

}  // namespace

std::string_view to_string(actor_kind kind) {
  switch (kind) {
    case actor_kind::call_supervisor:
      return "call_supervisor";
    case actor_kind::twilio_socket:
      return "twilio_socket";
    case actor_kind::openai_session:
      return "openai_session";
    case actor_kind::recorder:
      return "recorder";
    case actor_kind::silence_clock:
      return "silence_clock";
  }
  return "unknown";
}

std::string_view to_string(call_end outcome) {
  switch (outcome) {
    case call_end::completed:
      return "completed";
    case call_end::caller_disconnected:
      return "caller_disconnected";
    case call_end::model_unavailable:
      return "model_unavailable";
    case call_end::refused:
      return "refused";
    case call_end::drained:
      return "drained";
  }
  return "unknown";
}

std::string_view to_string(placement_where where) {
  switch (where) {
    case placement_where::local:
      return "local";
    case placement_where::peer:
      return "peer";
    case placement_where::refused_full:
      return "refused_full";
    case placement_where::remote_spawn:
      return "remote_spawn";
  }
  return "unknown";
}

std::string_view to_string(upload_result result) {
  switch (result) {
    case upload_result::ok:
      return "ok";
    case upload_result::retried:
      return "retried";
    case upload_result::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view to_string(connect_action_result result) {
  switch (result) {
    case connect_action_result::hung_up:
      return "hung_up";
    case connect_action_result::continued:
      return "continued";
    case connect_action_result::refused:
      return "refused";
  }
  return "unknown";
}

std::string_view to_string(handover_result result) {
  switch (result) {
    case handover_result::goodbye:
      return "goodbye";
    case handover_result::handed_over:
      return "handed_over";
    case handover_result::failed:
      return "failed";
    case handover_result::no_peer:
      return "no_peer";
  }
  return "unknown";
}

std::string_view to_string(model_link_failure failure) {
  switch (failure) {
    case model_link_failure::refused:
      return "refused";
    case model_link_failure::unreachable:
      return "unreachable";
    case model_link_failure::closed:
      return "closed";
    case model_link_failure::ready_timeout:
      return "ready_timeout";
    case model_link_failure::silent:
      return "silent";
  }
  return "unknown";
}

std::string_view to_string(model_outage_result result) {
  switch (result) {
    case model_outage_result::recovered:
      return "recovered";
    case model_outage_result::gave_up:
      return "gave_up";
  }
  return "unknown";
}

double seconds_between(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e9;
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const std::array<std::string_view, 12>& bridge_metrics::known_model_error_codes() {
  return model_error_codes;
}

prometheus::Family<prometheus::Counter>& bridge_metrics::counter_family(const std::string& name,
                                                                        const std::string& help) {
  return prometheus::BuildCounter()
      .Name(name)
      .Help(help)
      .Labels({{"node", node_}})
      .Register(*registry_);
}

prometheus::Family<prometheus::Gauge>& bridge_metrics::gauge_family(const std::string& name,
                                                                    const std::string& help) {
  return prometheus::BuildGauge()
      .Name(name)
      .Help(help)
      .Labels({{"node", node_}})
      .Register(*registry_);
}

prometheus::Family<prometheus::Histogram>& bridge_metrics::histogram_family(
    const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Labels({{"node", node_}})
      .Register(*registry_);
}

bridge_metrics::bridge_metrics(std::string node)
    : node_(std::move(node)), registry_(std::make_shared<prometheus::Registry>()) {
  gauge_family("switchboard_build_info", "Always 1; the version in a label.")
      .Add({{"version", SWITCHBOARD_VERSION}})
      .Set(1);

  auto& running = gauge_family("switchboard_actors_running", "Actors alive, by actor type.");
  auto& messages =
      counter_family("switchboard_actor_messages_total", "Messages handled, by actor type.");
  auto& handler = histogram_family("switchboard_actor_handler_seconds",
                                   "Time an actor spent handling one message (the first and "
                                   "then one in " +
                                       std::to_string(actor_metrics::sample_one_in) +
                                       " of each io thread's messages per actor type).");
  auto& failures = counter_family("switchboard_actor_failures_total",
                                  "Actors that ended with an error, by actor type.");
  auto& mailbox =
      histogram_family("switchboard_actor_mailbox_depth",
                       "Messages waiting in the actor's mailbox when it handles one (fetched "
                       "part of the mailbox: a lower bound; sampled like the handler time).");
  auto& request_errors =
      counter_family("switchboard_actor_request_errors_total",
                     "Requests to an actor answered with an error (it was gone or did not "
                     "answer in time), by the actor asked.");
  for (std::size_t i = 0; i < actor_kind_count; ++i) {
    const prometheus::Labels labels{{"actor", std::string(to_string(static_cast<actor_kind>(i)))}};
    actors_[i] = {.kind = static_cast<actor_kind>(i),
                  .running = &running.Add(labels),
                  .messages = &messages.Add(labels),
                  .handler_seconds = &handler.Add(labels, handler_buckets),
                  .failures = &failures.Add(labels),
                  .mailbox_depth = &mailbox.Add(labels, mailbox_buckets),
                  .request_errors = &request_errors.Add(labels)};
  }

  active_calls_ = &gauge_family("switchboard_active_calls",
                                "Calls with an open media stream on this node (autoscaling "
                                "signal).")
                       .Add({});
  calls_started_ =
      &counter_family("switchboard_calls_started_total", "Media streams accepted.").Add({});
  auto& ended = counter_family("switchboard_calls_total", "Calls ended, by outcome.");
  for (std::size_t i = 0; i < calls_ended_.size(); ++i) {
    calls_ended_[i] = &ended.Add({{"outcome", std::string(to_string(static_cast<call_end>(i)))}});
  }
  call_duration_ = &histogram_family("switchboard_call_duration_seconds",
                                     "Length of ended calls, from stream start.")
                        .Add({}, call_duration_buckets);
  auto& webhooks = counter_family("switchboard_webhooks_total",
                                  "Incoming-call webhooks answered, by HTTP status code.");
  for (const unsigned status : webhook_statuses) {
    const auto code = std::to_string(status);
    webhooks_.emplace(code, &webhooks.Add({{"code", code}}));
  }
  webhooks_.emplace("other", &webhooks.Add({{"code", "other"}}));

  auto& refused = counter_family("switchboard_calls_refused_total",
                                 "Calls refused by admission control, by reason (full: "
                                 "MAX_CALLS; overloaded: event-loop lag) and source (webhook, "
                                 "api, stream, placement: a peer asked for a place here).");
  constexpr std::array<const char*, 2> reasons{"full", "overloaded"};
  constexpr std::array<const char*, 4> sources{"webhook", "api", "stream", "placement"};
  for (std::size_t r = 0; r < reasons.size(); ++r) {
    for (std::size_t s = 0; s < sources.size(); ++s)
      calls_refused_[r][s] = &refused.Add({{"reason", reasons[r]}, {"source", sources[s]}});
  }
  stream_start_timeouts_ = &counter_family("switchboard_stream_start_timeouts_total",
                                           "Media streams closed because they sent no `start` "
                                           "within START_TIMEOUT.")
                                .Add({});
  loop_lag_ = &histogram_family("switchboard_loop_lag_seconds",
                                "How late a periodic timer ran on the io threads (which run the "
                                "actors too): the event-loop lag.")
                   .Add({}, loop_lag_buckets);
  admitting_ = &gauge_family("switchboard_admitting",
                             "1 while a new call would be admitted, 0 while full or overloaded.")
                    .Add({});
  admitting_->Set(1);
  max_calls_ =
      &gauge_family("switchboard_max_calls", "MAX_CALLS of this node (0: no fixed limit).").Add({});
  draining_ = &gauge_family("switchboard_draining",
                            "1 while this node drains (SIGTERM or POST /drain): /readyz answers "
                            "503, new calls go to a ready peer, live calls run on.")
                   .Add({});
  auto& handed_over = counter_family(
      "switchboard_calls_handed_over_total",
      "Calls still live at the drain deadline (DRAIN_TIMEOUT), by result (goodbye: the agent "
      "said DRAIN_MESSAGE and hung up).");
  for (std::size_t i = 0; i < calls_handed_over_.size(); ++i) {
    calls_handed_over_[i] =
        &handed_over.Add({{"result", std::string(to_string(static_cast<handover_result>(i)))}});
  }
  handovers_unclaimed_ =
      &counter_family("switchboard_handovers_unclaimed_total",
                      "Calls a draining peer handed to this node whose new stream never came "
                      "within 60 s: the caller hung up during the hand-over, or Twilio could not "
                      "reach this node's NODE_STREAM_URL.")
           .Add({});
  auto& connect_actions = counter_family(
      "switchboard_connect_actions_total",
      "Twilio's <Connect action> requests this node answered (a call's media stream ended), by "
      "result: hung_up (ended on purpose), continued (the stream was lost, the call goes on as "
      "its next part), refused (lost, and no node had room).");
  for (std::size_t i = 0; i < connect_actions_.size(); ++i) {
    connect_actions_[i] = &connect_actions.Add(
        {{"result", std::string(to_string(static_cast<connect_action_result>(i)))}});
  }

  auto& placed = counter_family(
      "switchboard_calls_placed_total",
      "New calls (webhook, POST /calls) this node answered, by where it placed them: local "
      "(here), peer (a peer's NODE_STREAM_URL, its place reserved there), refused_full (every "
      "node full: FULL_MESSAGE, or 503 for POST /calls); and remote_spawn: streams that landed "
      "here with every place taken, whose calls a peer hosts (its actors there, the socket "
      "here).");
  for (std::size_t i = 0; i < calls_placed_.size(); ++i) {
    calls_placed_[i] =
        &placed.Add({{"where", std::string(to_string(static_cast<placement_where>(i)))}});
  }

  auto& frames = counter_family("switchboard_media_frames_total",
                                "Twilio media frames: inbound from the caller, outbound to them.");
  media_frames_ = {&frames.Add({{"direction", "inbound"}}),
                   &frames.Add({{"direction", "outbound"}})};
  auto& latency = histogram_family(
      "switchboard_bridge_latency_seconds",
      "Time for a frame to cross the bridge: received on one socket to written to the other.");
  latency_to_model_ = &latency.Add({{"direction", "to_model"}}, frame_latency_buckets);
  latency_to_caller_ = &latency.Add({{"direction", "to_caller"}}, frame_latency_buckets);
  auto& malformed = counter_family("switchboard_malformed_frames_total",
                                   "Frames dropped because they could not be understood.");
  malformed_twilio_ = &malformed.Add({{"source", "twilio"}});
  malformed_model_ = &malformed.Add({{"source", "model"}});
  auto& connections = counter_family("switchboard_websocket_connections_total",
                                     "WebSocket connections by peer and outcome.");
  auto& open = gauge_family("switchboard_websocket_connections_open",
                            "WebSocket connections open now, by peer.");
  constexpr std::array<const char*, 2> peers{"twilio", "model"};
  constexpr std::array<const char*, 3> outcomes{"opened", "refused", "failed"};
  for (std::size_t p = 0; p < peers.size(); ++p) {
    for (std::size_t o = 0; o < outcomes.size(); ++o)
      websocket_connections_[p][o] =
          &connections.Add({{"peer", peers[p]}, {"outcome", outcomes[o]}});
    websockets_open_[p] = &open.Add({{"peer", peers[p]}});
  }

  model_connect_ = &histogram_family("switchboard_model_connect_seconds",
                                     "Time to open the model's WebSocket (TLS included).")
                        .Add({}, connect_buckets);
  first_audio_latency_ =
      &histogram_family("switchboard_first_audio_latency_seconds",
                        "From the model hearing the caller stop speaking to its first audio.")
           .Add({}, first_audio_buckets);
  auto& errors = counter_family("switchboard_model_errors_total",
                                "Error events from the model, by code (unknown codes: other).");
  for (const auto code : model_error_codes)
    model_errors_.emplace(std::string(code), &errors.Add({{"code", std::string(code)}}));
  model_errors_.emplace("other", &errors.Add({{"code", "other"}}));
  model_reconnects_ = &counter_family("switchboard_model_reconnects_total",
                                      "Model connections re-established after a loss.")
                           .Add({});
  auto& link_failures =
      counter_family("switchboard_model_link_failures_total",
                     "Model links that failed, by reason: refused, unreachable, closed, "
                     "ready_timeout (no session.updated in time), silent (quiet while the caller "
                     "talked).");
  for (std::size_t i = 0; i < model_link_failures_.size(); ++i) {
    model_link_failures_[i] = &link_failures.Add(
        {{"reason", std::string(to_string(static_cast<model_link_failure>(i)))}});
  }
  auto& outages = counter_family("switchboard_model_outages_total",
                                 "Outages of a call's model link, by how they ended: recovered "
                                 "(a new link became ready) or gave_up (the call was ended).");
  for (std::size_t i = 0; i < model_outages_.size(); ++i) {
    model_outages_[i] =
        &outages.Add({{"result", std::string(to_string(static_cast<model_outage_result>(i)))}});
  }
  auto& tokens = counter_family("switchboard_model_tokens_total",
                                "Model token usage by kind (from response.done), for cost.");
  tokens_input_ = &tokens.Add({{"kind", "input"}});
  tokens_output_ = &tokens.Add({{"kind", "output"}});
  tokens_input_audio_ = &tokens.Add({{"kind", "input_audio"}});
  tokens_output_audio_ = &tokens.Add({{"kind", "output_audio"}});
  tokens_cached_ = &tokens.Add({{"kind", "cached"}});

  barge_ins_ = &counter_family("switchboard_barge_ins_total",
                               "Times the caller spoke over agent audio that was still playing.")
                    .Add({});
  auto& truncations = counter_family("switchboard_truncations_total",
                                     "conversation.item.truncate sent, and confirmed by the "
                                     "model.");
  truncations_sent_ = &truncations.Add({{"result", "sent"}});
  truncations_confirmed_ = &truncations.Add({{"result", "confirmed"}});
  barge_in_clear_ = &histogram_family("switchboard_barge_in_clear_seconds",
                                      "From the model's speech_started to Twilio `clear` sent.")
                         .Add({}, clear_buckets);
  mark_echo_delay_ =
      &histogram_family("switchboard_mark_echo_delay_seconds",
                        "From a mark sent to Twilio to its echo: how far playout lags.")
           .Add({}, mark_echo_buckets);
  silence_frames_ = &counter_family("switchboard_silence_frames_total",
                                    "20 ms frames of silence written to the agent track.")
                         .Add({});
  auto& bytes = counter_family("switchboard_recording_bytes_total",
                               "Audio bytes that reached the recordings on disk, by track.");
  auto& recording_errors =
      counter_family("switchboard_recording_errors_total", "Recordings that failed, by track.");
  recording_bytes_ = {&bytes.Add({{"track", "caller"}}), &bytes.Add({{"track", "agent"}})};
  recording_errors_ = {&recording_errors.Add({{"track", "caller"}}),
                       &recording_errors.Add({{"track", "agent"}})};
  call_file_errors_ =
      &counter_family("switchboard_call_file_errors_total",
                      "Files of ended calls (mixes, transcript.jsonl, call.json) not written.")
           .Add({});
  call_files_pending_ =
      &gauge_family("switchboard_call_files_pending",
                    "Ended calls whose transcript.jsonl or call.json waits for room on the disk "
                    "(retried with backoff while the node runs).")
           .Add({});
  auto& deferred = counter_family(
      "switchboard_call_files_deferred_total",
      "Calls whose transcript.jsonl/call.json the disk first refused: written later, or lost "
      "(the node stopped, or the retry queue was full).");
  call_files_written_late_ = &deferred.Add({{"result", "written"}});
  call_files_lost_ = &deferred.Add({{"result", "lost"}});
  caller_timestamp_clamps_ =
      &counter_family("switchboard_caller_timestamp_clamps_total",
                      "Caller media frames stamped ahead of the call's clock, clamped to it.")
           .Add({});
  auto& uploads = counter_family(
      "switchboard_uploads_total",
      "Files of ended calls uploaded to object storage, by result: ok, retried (a failed try "
      "repeated after a backoff), failed (given up; the files stay local, marked).");
  for (std::size_t i = 0; i < upload_result_count; ++i) {
    uploads_[i] = &uploads.Add({{"result", std::string(to_string(static_cast<upload_result>(i)))}});
  }
  upload_bytes_ = &counter_family("switchboard_upload_bytes_total",
                                  "Bytes of call files confirmed in object storage.")
                       .Add({});
  upload_queue_ = &gauge_family("switchboard_upload_queue",
                                "Files of ended calls not yet confirmed in object storage "
                                "(queued, uploading or waiting to retry).")
                       .Add({});
  upload_seconds_ = &histogram_family("switchboard_upload_seconds",
                                      "Time of one try at uploading one file, whatever its result.")
                         .Add({}, upload_buckets);

  auto& actions = counter_family("switchboard_call_actions_total",
                                 "What steered calls besides speech: the call-control API, the "
                                 "model's end_call and transfer_call, keypad entries, greetings "
                                 "and guards, by action.");
  for (std::size_t i = 0; i < call_actions_.size(); ++i) {
    call_actions_[i] =
        &actions.Add({{"action", std::string(to_string(static_cast<call_action>(i)))}});
  }
  auto& tools = counter_family("switchboard_tool_calls_total",
                               "Calls of the user's tools (TOOLS_FILE) over HTTP, by outcome.");
  for (const auto* outcome :
       {"answered", "http_error", "timed_out", "unreachable", "invalid_arguments", "other"})
    tool_calls_.emplace(outcome, &tools.Add({{"outcome", outcome}}));
  auto& callbacks = counter_family("switchboard_status_callbacks_total",
                                   "Twilio status callbacks (POST /call-status), by result.");
  for (const auto* result : {"accepted", "stale", "unknown_call", "refused", "malformed", "other"})
    status_callbacks_.emplace(result, &callbacks.Add({{"result", result}}));
  auto& nodes = gauge_family("switchboard_cluster_nodes",
                             "Nodes of the cluster as this node sees them, itself included, by "
                             "state.");
  for (const auto* state : {"joining", "ready", "draining", "down"})
    cluster_nodes_.emplace(state, &nodes.Add({{"state", state}}));
  auto& links = counter_family("switchboard_cluster_link_events_total",
                               "Events of the links to peer nodes: joined, ready, rejoined, lost "
                               "(link dropped), silent (no heartbeat), connect_failed.");
  for (const auto* event :
       {"joined", "ready", "rejoined", "lost", "silent", "connect_failed", "other"})
    cluster_link_events_.emplace(event, &links.Add({{"event", event}}));
}

std::string_view to_string(call_action action) {
  static constexpr std::array<std::string_view, call_action_count> names{
      "api_hangup",    "api_say",          "api_transfer",       "end_call",
      "transfer_call", "transfer_refused", "keypad_entry",       "greeting",
      "idle_question", "idle_hangup",      "time_limit_warning", "time_limit_hangup"};
  return names[static_cast<std::size_t>(action)];
}

namespace {

/// The counter of a known label value, else the one labelled "other": labels stay bounded.
prometheus::Counter& labelled_or_other(
    const std::map<std::string, prometheus::Counter*, std::less<>>& counters,
    std::string_view value) {
  if (const auto found = counters.find(value); found != counters.end())
    return *found->second;
  return *counters.at("other");
}

}  // namespace

prometheus::Counter& bridge_metrics::tool_calls(std::string_view outcome) {
  return labelled_or_other(tool_calls_, outcome);
}

prometheus::Counter& bridge_metrics::status_callbacks(std::string_view result) {
  return labelled_or_other(status_callbacks_, result);
}

prometheus::Gauge* bridge_metrics::cluster_nodes(std::string_view state) {
  auto it = cluster_nodes_.find(state);
  return it == cluster_nodes_.end() ? nullptr : it->second;
}

prometheus::Counter& bridge_metrics::cluster_link_events(std::string_view event) {
  return labelled_or_other(cluster_link_events_, event);
}

prometheus::Counter& bridge_metrics::webhooks(unsigned status) {
  return labelled_or_other(webhooks_, std::to_string(status));
}

prometheus::Counter& bridge_metrics::model_errors(std::string_view code) {
  return labelled_or_other(model_errors_, code);
}

std::string bridge_metrics::scrape() const {
  auto families = registry_->Collect();
  auto process = process_metrics().Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace switchboard::metrics
