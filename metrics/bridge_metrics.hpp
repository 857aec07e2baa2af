#pragma once
// The node's Prometheus metrics. Every family is registered once, here, at construction; the
// hot path only increments handles it was given (atomic counters, no lookups, no allocation).
// Labels are bounded — node, actor, direction, outcome, code, peer, source, track, kind,
// result, reason — and never carry a call id: the per-call view lives in logs and call.json.
//
// The names are a contract with the dashboards, the alert rules and the autoscaler
// (k8s/observability/): rename nothing without changing them too.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::metrics {

/// The actor types of a call; later the cluster's actors join them.
enum class actor_kind : std::uint8_t {
  call_supervisor,
  twilio_socket,
  openai_session,
  recorder,
  silence_clock,
};
inline constexpr std::size_t actor_kind_count = 5;
std::string_view to_string(actor_kind kind);

/// What one actor type reports: how many run, what they handle, how long it takes.
struct actor_metrics {
  /// Of the messages each io thread handles for one actor type, the first and then one in
  /// this many are timed and their mailbox sampled (the two histograms); every message is
  /// counted. Two clock reads and two histograms shared by the threads cost about as much as
  /// a small handler itself; a sample of one in eight keeps the shape of both distributions.
  static constexpr std::uint32_t sample_one_in = 8;

  actor_kind kind = actor_kind::call_supervisor;
  prometheus::Gauge* running = nullptr;
  prometheus::Counter* messages = nullptr;
  prometheus::Histogram* handler_seconds = nullptr;
  prometheus::Counter* failures = nullptr;
  prometheus::Histogram* mailbox_depth = nullptr;
  prometheus::Counter* request_errors = nullptr;  // requests to it answered with an error
};

/// How a call ended; `drained`: the node's DRAIN_TIMEOUT passed and the agent said goodbye.
enum class call_end : std::uint8_t {
  completed,
  caller_disconnected,
  model_unavailable,
  refused,
  drained,
};
inline constexpr std::size_t call_end_count = 5;
std::string_view to_string(call_end outcome);

/// How one try at uploading a file ended, the `result` of switchboard_uploads_total.
enum class upload_result : std::uint8_t { ok, retried, failed };
inline constexpr std::size_t upload_result_count = 3;
std::string_view to_string(upload_result result);

/// What became of a call still live at the drain deadline (DRAIN_TIMEOUT), the `result` of
/// switchboard_calls_handed_over_total: `handed_over` (a peer took the call's state and Twilio
/// streams the call there), `failed` (the peer or Twilio refused: the call got the goodbye),
/// `no_peer` (Twilio could be asked, but no peer was ready: the goodbye), `goodbye` (no Twilio
/// credentials to update calls with: the agent says DRAIN_MESSAGE and the call ends).
enum class handover_result : std::uint8_t { goodbye, handed_over, failed, no_peer };
inline constexpr std::size_t handover_result_count = 4;
std::string_view to_string(handover_result result);

/// This node's answers to Twilio's <Connect action> (a stream ended), the `result` of
/// switchboard_connect_actions_total: `hung_up` (the call was ended on purpose, or is over),
/// `continued` (the stream was lost: the call goes on as its next part on a ready node),
/// `refused` (lost, but no node could take it: the caller hears FULL_MESSAGE).
enum class connect_action_result : std::uint8_t { hung_up, continued, refused };
inline constexpr std::size_t connect_action_result_count = 3;
std::string_view to_string(connect_action_result result);

/// Where the node that answered a new call (webhook or POST /calls) placed it, the `where` of
/// switchboard_calls_placed_total: here, on a peer (its NODE_STREAM_URL), or nowhere because
/// every node was full (the caller heard FULL_MESSAGE; POST /calls answered 503).
/// remote_spawn (a call's actors spawned on another node) is later work.
enum class placement_where : std::uint8_t { local, peer, refused_full, remote_spawn };
inline constexpr std::size_t placement_where_count = 4;
std::string_view to_string(placement_where where);

/// Why a call was refused (admission control), and where.
enum class refusal_reason : std::uint8_t { full, overloaded };
enum class refusal_source : std::uint8_t { webhook, api, stream, placement };

enum class frame_direction : std::uint8_t { inbound, outbound };
enum class websocket_peer : std::uint8_t { twilio, model };
enum class websocket_outcome : std::uint8_t { opened, refused, failed };
enum class recording_track : std::uint8_t { caller, agent };

/// What steered a call besides the caller and the model's speech.
enum class call_action : std::uint8_t {
  api_hangup,          // POST /calls/{sid}/hangup
  api_say,             // POST /calls/{sid}/say
  api_transfer,        // POST /calls/{sid}/transfer, taken by Twilio
  end_call,            // the model's end_call
  transfer_call,       // the model's transfer_call, taken by Twilio
  transfer_refused,    // a transfer the checks or Twilio refused
  keypad_entry,        // DTMF digits passed to the model
  greeting,            // GREETING said
  idle_question,       // IDLE_TIMEOUT: "are you still there?"
  idle_hangup,         // IDLE_TIMEOUT: the end
  time_limit_warning,  // MAX_CALL_DURATION: the warning
  time_limit_hangup,   // MAX_CALL_DURATION: the end
};
inline constexpr std::size_t call_action_count = 12;
std::string_view to_string(call_action action);

/// Why a model link failed (one count per failed connection or attempt).
enum class model_link_failure : std::uint8_t {
  refused,        // the upgrade was answered with an HTTP error (429 quota, 401 key, 503)
  unreachable,    // no answer: DNS, TCP, TLS or handshake failure
  closed,         // the link closed or broke after it opened
  ready_timeout,  // open, but session.updated did not come within MODEL_READY_TIMEOUT
  silent,         // quiet for MODEL_SILENCE_TIMEOUT while the caller talked, probe unanswered
};
inline constexpr std::size_t model_link_failure_count = 5;
std::string_view to_string(model_link_failure failure);

/// How an outage of a call's model link (from its first failure) ended.
enum class model_outage_result : std::uint8_t {
  recovered,  // a new link became ready
  gave_up,    // reconnect attempts exhausted: the caller hears the prompt, the call ends
};
std::string_view to_string(model_outage_result result);

/// Seconds between two steady-clock readings in nanoseconds since the clock's epoch (the unit
/// messages carry their receive times in).
double seconds_between(std::int64_t from_ns, std::int64_t to_ns);
std::int64_t steady_now_ns();

class bridge_metrics {
 public:
  /// `node` is the value of the constant `node` label (NODE_NAME, the host name by default).
  explicit bridge_metrics(std::string node = "local");
  bridge_metrics(const bridge_metrics&) = delete;
  bridge_metrics& operator=(const bridge_metrics&) = delete;

  /// The text exposition format (0.0.4) of every family, process metrics included.
  std::string scrape() const;

  const std::string& node() const { return node_; }

  // -- per actor type ---------------------------------------------------------------------------
  const actor_metrics& actor(actor_kind kind) const {
    return actors_[static_cast<std::size_t>(kind)];
  }

  // -- calls ------------------------------------------------------------------------------------
  prometheus::Gauge& active_calls() { return *active_calls_; }
  prometheus::Counter& calls_started() { return *calls_started_; }
  prometheus::Counter& calls_ended(call_end outcome) {
    return *calls_ended_[static_cast<std::size_t>(outcome)];
  }
  prometheus::Histogram& call_duration() { return *call_duration_; }
  /// Incoming-call webhooks answered, by HTTP status (known statuses, else "other").
  prometheus::Counter& webhooks(unsigned status);

  // -- admission --------------------------------------------------------------------------------
  /// Calls refused by admission control: `full` (MAX_CALLS) or `overloaded` (event-loop lag),
  /// at the webhook, POST /calls, a stream's `start`, or a peer's placement request.
  prometheus::Counter& calls_refused(refusal_reason reason, refusal_source source) {
    return *calls_refused_[static_cast<std::size_t>(reason)][static_cast<std::size_t>(source)];
  }
  /// Media streams closed because no `start` came within START_TIMEOUT.
  prometheus::Counter& stream_start_timeouts() { return *stream_start_timeouts_; }
  /// The io threads' event-loop lag: how late a periodic timer's handler ran.
  prometheus::Histogram& loop_lag() { return *loop_lag_; }
  /// 1 while a new call would be admitted, 0 while the node is full or overloaded.
  prometheus::Gauge& admitting() { return *admitting_; }
  /// MAX_CALLS (0: no fixed limit).
  prometheus::Gauge& max_calls() { return *max_calls_; }

  // -- drain ------------------------------------------------------------------------------------
  /// 1 from SIGTERM (or POST /drain) until the process exits.
  prometheus::Gauge& draining() { return *draining_; }
  /// Calls still live at the drain deadline, by what became of them.
  prometheus::Counter& calls_handed_over(handover_result result) {
    return *calls_handed_over_[static_cast<std::size_t>(result)];
  }
  /// Calls a draining peer handed to this node whose stream never came.
  prometheus::Counter& handovers_unclaimed() { return *handovers_unclaimed_; }
  prometheus::Counter& connect_actions(connect_action_result result) {
    return *connect_actions_[static_cast<std::size_t>(result)];
  }

  // -- placement (README "Cluster") ------------------------------------------------------------
  /// New calls this node answered, by where it placed them.
  prometheus::Counter& calls_placed(placement_where where) {
    return *calls_placed_[static_cast<std::size_t>(where)];
  }

  // -- media ------------------------------------------------------------------------------------
  prometheus::Counter& media_frames(frame_direction direction) {
    return *media_frames_[static_cast<std::size_t>(direction)];
  }
  /// Time for a frame to cross the bridge: Twilio → model, model → Twilio.
  prometheus::Histogram& latency_to_model() { return *latency_to_model_; }
  prometheus::Histogram& latency_to_caller() { return *latency_to_caller_; }
  prometheus::Counter& malformed_twilio_frames() { return *malformed_twilio_; }
  prometheus::Counter& malformed_model_events() { return *malformed_model_; }
  prometheus::Counter& websocket_connections(websocket_peer peer, websocket_outcome outcome) {
    return *websocket_connections_[static_cast<std::size_t>(peer)]
                                  [static_cast<std::size_t>(outcome)];
  }
  prometheus::Gauge& websockets_open(websocket_peer peer) {
    return *websockets_open_[static_cast<std::size_t>(peer)];
  }

  // -- model ------------------------------------------------------------------------------------
  prometheus::Histogram& model_connect() { return *model_connect_; }
  prometheus::Histogram& first_audio_latency() { return *first_audio_latency_; }
  /// Model error events by code: the known codes, else "other".
  prometheus::Counter& model_errors(std::string_view code);
  prometheus::Counter& model_reconnects() { return *model_reconnects_; }
  prometheus::Counter& model_link_failures(model_link_failure reason) {
    return *model_link_failures_[static_cast<std::size_t>(reason)];
  }
  prometheus::Counter& model_outages(model_outage_result result) {
    return *model_outages_[static_cast<std::size_t>(result)];
  }
  prometheus::Counter& input_tokens() { return *tokens_input_; }
  prometheus::Counter& output_tokens() { return *tokens_output_; }
  prometheus::Counter& input_audio_tokens() { return *tokens_input_audio_; }
  prometheus::Counter& output_audio_tokens() { return *tokens_output_audio_; }
  prometheus::Counter& cached_tokens() { return *tokens_cached_; }

  // -- barge-in and playout ---------------------------------------------------------------------
  prometheus::Counter& barge_ins() { return *barge_ins_; }
  prometheus::Counter& truncations_sent() { return *truncations_sent_; }
  prometheus::Counter& truncations_confirmed() { return *truncations_confirmed_; }
  prometheus::Histogram& barge_in_clear() { return *barge_in_clear_; }
  prometheus::Histogram& mark_echo_delay() { return *mark_echo_delay_; }
  prometheus::Counter& silence_frames() { return *silence_frames_; }

  // -- recordings -------------------------------------------------------------------------------
  prometheus::Counter& recording_bytes(recording_track track) {
    return *recording_bytes_[static_cast<std::size_t>(track)];
  }
  prometheus::Counter& recording_errors(recording_track track) {
    return *recording_errors_[static_cast<std::size_t>(track)];
  }
  /// A call's files written when it ends (mixes, transcript.jsonl, call.json) that could not be.
  prometheus::Counter& call_file_errors() { return *call_file_errors_; }
  /// Ended calls whose files (transcript.jsonl, call.json) wait for room on the disk.
  prometheus::Gauge& call_files_pending() { return *call_files_pending_; }
  /// Deferred call files that reached the disk late (`written`) or never (`lost`).
  prometheus::Counter& call_files_deferred(bool written) {
    return *(written ? call_files_written_late_ : call_files_lost_);
  }
  /// Caller frames stamped further ahead than the call has lasted, placed at the clock instead.
  prometheus::Counter& caller_timestamp_clamps() { return *caller_timestamp_clamps_; }

  // -- recordings in object storage (RECORDINGS_BUCKET_URL) --------------------------------------
  /// Files uploaded, by result: `ok` (confirmed in the bucket), `retried` (a try that failed and
  /// will be repeated after a backoff), `failed` (given up: a permanent refusal, or retries
  /// exhausted; the call's files stay local, marked for the next start).
  prometheus::Counter& uploads(upload_result result) {
    return *uploads_[static_cast<std::size_t>(result)];
  }
  /// Bytes of the files confirmed in the bucket.
  prometheus::Counter& upload_bytes() { return *upload_bytes_; }
  /// Files of ended calls not yet confirmed in the bucket: queued, uploading or waiting to retry.
  prometheus::Gauge& upload_queue() { return *upload_queue_; }
  /// Time of one file's upload (one try), whatever its result.
  prometheus::Histogram& upload_seconds() { return *upload_seconds_; }

  // -- call control, tools, status callbacks ----------------------------------------------------
  /// What steered a call, by action (call_action: the API, the model's built-in tools, guards).
  prometheus::Counter& call_actions(call_action action) {
    return *call_actions_[static_cast<std::size_t>(action)];
  }
  /// The user's tools (TOOLS_FILE) called over HTTP, by outcome; unknown outcomes: "other".
  prometheus::Counter& tool_calls(std::string_view outcome);
  /// Twilio status callbacks, by result (accepted, stale, unknown_call, refused, malformed).
  prometheus::Counter& status_callbacks(std::string_view result);
  // -- cluster ----------------------------------------------------------------------------------
  /// Nodes of the cluster this node sees, itself included, by state (joining, ready, draining,
  /// down); unknown states: nullptr. All 0 on a node without CLUSTER_PORT.
  prometheus::Gauge* cluster_nodes(std::string_view state);
  /// Links to peers, by event (joined, ready, rejoined, lost, silent, connect_failed); unknown
  /// events: "other".
  prometheus::Counter& cluster_link_events(std::string_view event);

  /// The model error codes that get their own label value.
  static const std::array<std::string_view, 12>& known_model_error_codes();

 private:
  prometheus::Family<prometheus::Counter>& counter_family(const std::string& name,
                                                          const std::string& help);
  prometheus::Family<prometheus::Gauge>& gauge_family(const std::string& name,
                                                      const std::string& help);
  prometheus::Family<prometheus::Histogram>& histogram_family(const std::string& name,
                                                              const std::string& help);

  std::string node_;
  std::shared_ptr<prometheus::Registry> registry_;

  std::array<actor_metrics, actor_kind_count> actors_;
  prometheus::Gauge* active_calls_;
  prometheus::Counter* calls_started_;
  std::array<prometheus::Counter*, call_end_count> calls_ended_;
  prometheus::Histogram* call_duration_;
  std::map<std::string, prometheus::Counter*, std::less<>> webhooks_;
  std::array<std::array<prometheus::Counter*, 4>, 2> calls_refused_;
  prometheus::Counter* stream_start_timeouts_;
  prometheus::Histogram* loop_lag_;
  prometheus::Gauge* admitting_;
  prometheus::Gauge* max_calls_;
  prometheus::Gauge* draining_;
  std::array<prometheus::Counter*, handover_result_count> calls_handed_over_;
  prometheus::Counter* handovers_unclaimed_ = nullptr;
  std::array<prometheus::Counter*, connect_action_result_count> connect_actions_;
  std::array<prometheus::Counter*, placement_where_count> calls_placed_;
  std::array<prometheus::Counter*, 2> media_frames_;
  prometheus::Histogram* latency_to_model_;
  prometheus::Histogram* latency_to_caller_;
  prometheus::Counter* malformed_twilio_;
  prometheus::Counter* malformed_model_;
  std::array<std::array<prometheus::Counter*, 3>, 2> websocket_connections_;
  std::array<prometheus::Gauge*, 2> websockets_open_;
  prometheus::Histogram* model_connect_;
  prometheus::Histogram* first_audio_latency_;
  std::map<std::string, prometheus::Counter*, std::less<>> model_errors_;
  std::array<prometheus::Counter*, call_action_count> call_actions_;
  std::map<std::string, prometheus::Counter*, std::less<>> tool_calls_;
  std::map<std::string, prometheus::Counter*, std::less<>> status_callbacks_;
  std::map<std::string, prometheus::Gauge*, std::less<>> cluster_nodes_;
  std::map<std::string, prometheus::Counter*, std::less<>> cluster_link_events_;
  prometheus::Counter* model_reconnects_;
  std::array<prometheus::Counter*, model_link_failure_count> model_link_failures_;
  std::array<prometheus::Counter*, 2> model_outages_;
  prometheus::Counter* tokens_input_;
  prometheus::Counter* tokens_output_;
  prometheus::Counter* tokens_input_audio_;
  prometheus::Counter* tokens_output_audio_;
  prometheus::Counter* tokens_cached_;
  prometheus::Counter* barge_ins_;
  prometheus::Counter* truncations_sent_;
  prometheus::Counter* truncations_confirmed_;
  prometheus::Histogram* barge_in_clear_;
  prometheus::Histogram* mark_echo_delay_;
  prometheus::Counter* silence_frames_;
  std::array<prometheus::Counter*, 2> recording_bytes_;
  std::array<prometheus::Counter*, 2> recording_errors_;
  prometheus::Counter* call_file_errors_;
  prometheus::Gauge* call_files_pending_;
  prometheus::Counter* call_files_written_late_;
  prometheus::Counter* call_files_lost_;
  prometheus::Counter* caller_timestamp_clamps_;
  std::array<prometheus::Counter*, upload_result_count> uploads_;
  prometheus::Counter* upload_bytes_;
  prometheus::Gauge* upload_queue_;
  prometheus::Histogram* upload_seconds_;
};

}  // namespace switchboard::metrics
