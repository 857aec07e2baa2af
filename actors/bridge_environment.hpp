#pragma once
// What every call on a node shares, handed to each call's actors at spawn (no globals): the
// model's session configuration, how to reach the model, where recordings go, the call-token
// issuer, and the registry of calls. Built once by the server (app/) or by a test.

#include "actors/admission.hpp"
#include "actors/call_directory.hpp"
#include "actors/call_guards.hpp"
#include "actors/call_handover.hpp"
#include "actors/call_status_book.hpp"
#include "actors/file_work.hpp"
#include "actors/interfaces.hpp"
#include "actors/model_link_watch.hpp"
#include "audio/prompts.hpp"
#include "metrics/bridge_metrics.hpp"
#include "net/call_token.hpp"
#include "net/realtime_messages.hpp"

#include <caf/typed_actor.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace switchboard::actors {

/// One connection to the model, seen from the openai_session actor.
class model_link {
 public:
  virtual ~model_link() = default;
  virtual void send(std::string text) = 0;
  virtual void close() = 0;
};

/// Opens model links. Frames and events arrive at `session` as realtime_frame /
/// realtime_link_event tagged with `link_id`. Production: a WebSocket to OPENAI_REALTIME_URL;
/// actor tests: an in-memory fake.
class model_link_factory {
 public:
  virtual ~model_link_factory() = default;
  virtual std::shared_ptr<model_link> open(openai_session_actor session, std::uint32_t link_id) = 0;
};

/// The outcome of one call, as written to call.json.
struct call_outcome {
  std::string call_sid;
  std::string stream_sid;
  std::string end_reason;
  bool refused = false;
  bool started = false;             // its stream started: it was counted as a call
  std::filesystem::path directory;  // empty when the call never started
  std::uint64_t duration_ms = 0;
  std::uint64_t barge_ins = 0;
  std::uint64_t truncations = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t malformed_frames = 0;
  std::uint64_t model_reconnects = 0;
  std::vector<std::string> problems;  // recording or model problems, in words
};

/// Live calls on this node and the outcomes of finished ones. Thread-safe: read by /readyz, the
/// demo and tests; written by supervisors.
class call_registry {
 public:
  /// A stream started: one more active call.
  void call_opened();
  /// A call ended (started or not); an active one is one fewer.
  void call_finished(call_outcome outcome);
  std::size_t active_calls() const;
  std::size_t finished_calls() const;
  /// Blocks until at least `count` calls have finished or `timeout` passes; returns them.
  std::vector<call_outcome> wait_for_finished(std::size_t count, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t active_ = 0;
  std::vector<call_outcome> finished_;
};

/// Per-call changes to the model session asked for by POST /calls ("instructions", "voice"),
/// left by the dialer under the dial id its TwiML carries, and taken once by that call's
/// session when the stream starts. Thread-safe; bounded (the oldest are forgotten).
class dial_overrides {
 public:
  struct overrides {
    std::optional<std::string> instructions;
    std::optional<std::string> voice;
    std::string metadata_json;  // "metadata" of POST /calls, for the call's tools; "" = none
  };
  void put(std::string dial_id, overrides changes);
  std::optional<overrides> take(std::string_view dial_id);

  static constexpr std::size_t max_pending = 10'000;

 private:
  std::mutex mutex_;
  std::map<std::string, overrides, std::less<>> pending_;
  std::deque<std::string> order_;  // oldest first, for the bound
};

/// What a call's actors ask of the world outside the node, through the io threads: the
/// user's tools over HTTP (TOOLS_FILE) and Twilio's REST API (transfers). Answers come back as
/// messages, exactly once. Production: app/; tests may fake it; null: no tools, no transfers.
class call_actions {
 public:
  virtual ~call_actions() = default;
  /// Runs the user tool `name` with the model's arguments; tool_result{call_id, ...} reaches
  /// `session` once (an error result on failure or timeout). False: no tool of that name.
  virtual bool run_tool(openai_session_actor session, const call_identity& call,
                        std::string_view metadata_json, std::string call_id, std::string name,
                        std::string arguments_json) = 0;
  /// Redirects the call to <Dial>to</Dial>; transfer_outcome reaches `supervisor` once. The
  /// destination is checked (E.164, ALLOWED_DESTINATIONS) before Twilio is asked.
  virtual void transfer(call_supervisor_actor supervisor, std::string tool_call_id,
                        std::string call_sid, std::string to) = 0;
};

/// Where a stream that lands on a node at MAX_CALLS has its call hosted (README "Cluster"):
/// a peer with room spawns the call's supervisor for the twilio_socket that stays here.
/// Production: the cluster node (app/); null without a cluster.
class remote_call_hosts {
 public:
  virtual ~remote_call_hosts() = default;
  /// Finds a peer that hosts the call of `twilio`; `done` once, on an io thread: the peer's
  /// name, or nullopt when none would (every peer full, draining, unreachable). Never blocks.
  virtual void host(twilio_socket_actor twilio,
                    std::function<void(std::optional<std::string> peer)> done) const = 0;
};

/// The open streams of this node whose calls peers host (their twilio_sockets). Thread-safe:
/// written by the streams' io threads, read by the drain.
class relayed_streams {
 public:
  void add(const twilio_socket_actor& socket) {
    std::lock_guard lock(mutex_);
    sockets_.push_back(socket);
  }
  void remove(const twilio_socket_actor& socket) {
    std::lock_guard lock(mutex_);
    std::erase(sockets_, socket);
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return sockets_.size();
  }
  std::vector<twilio_socket_actor> all() const {
    std::lock_guard lock(mutex_);
    return sockets_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<twilio_socket_actor> sockets_;
};

/// The Realtime API ends a session after 60 minutes (shared/reference/protocols.md §B6, GA). A
/// call that may outlast one (MAX_CALL_DURATION above the lifetime, or 0) opens the next
/// session `renew_before` the end, gives it the conversation and switches at a turn boundary.
struct model_session_limits {
  std::chrono::milliseconds lifetime{std::chrono::minutes(60)};
  std::chrono::milliseconds renew_before{std::chrono::minutes(5)};
  /// A next session that failed to open is tried again this much later (while there is time).
  std::chrono::milliseconds retry{std::chrono::seconds(30)};
};

struct reconnect_policy {
  unsigned max_attempts = 4;  // per outage, the first connection included
  std::chrono::milliseconds first_delay{250};
  std::chrono::milliseconds max_delay{4000};
  double jitter = 0.25;  // ±25 % so that many calls do not reconnect in lockstep
};

struct bridge_environment {
  net::realtime_session_config session;  // sent as session.update on every (re)connect
  std::shared_ptr<model_link_factory> model_links;
  std::filesystem::path recordings_dir;
  bool record_audio = true;  // RECORDINGS: false = the recorders discard the audio
  std::optional<net::call_token_issuer> call_tokens;  // nullopt: tokens not checked (insecure)
  /// Tokens that have opened a stream: each opens one (net/call_token.hpp).
  std::shared_ptr<net::call_token_ledger> spent_call_tokens =
      std::make_shared<net::call_token_ledger>();
  std::shared_ptr<call_registry> calls = std::make_shared<call_registry>();
  /// MAX_CALLS and the event-loop lag: whether a stream that starts is taken (default: always).
  std::shared_ptr<call_admission> admission = std::make_shared<call_admission>();
  /// START_TIMEOUT: a stream that has not sent `start` by then is closed; it never counted.
  std::chrono::milliseconds start_timeout{5000};
  std::shared_ptr<dial_overrides> dials = std::make_shared<dial_overrides>();
  /// Twilio's status of outbound calls (POST /call-status), and their call.json kept current.
  std::shared_ptr<call_status_book> statuses = std::make_shared<call_status_book>();
  /// The live and recently ended calls of this node (and, in a cluster, of its peers), for the
  /// call-control API.
  std::shared_ptr<call_directory> directory = std::make_shared<call_directory>();
  /// Where a stream claims a call token another node issued (the node actor); null without a
  /// cluster. call_tokens names this node as the issuer of its own tokens then.
  call_token_authority_actor token_authority;
  /// Writes the files of ended calls that the disk refused, once it takes them (null: they
  /// are lost, and logged).
  call_file_retrier_actor file_retrier;
  /// RECORDINGS_BUCKET_URL: uploads every ended call's directory (null: local only).
  recording_uploader_actor uploader;
  /// Where the calls' blocking file work runs (directories, recorder writes, call.json
  /// rewrites). The server gives it a thread of its own; by default (actor tests) each job runs
  /// at once where it is posted.
  std::shared_ptr<file_work> files = std::make_shared<inline_file_work>();
  /// Calls handed over to this node by a draining peer, waiting for their new stream.
  std::shared_ptr<handover_book> handovers = std::make_shared<handover_book>();
  /// Peers that host the calls of streams landing here while every place is taken (null: no
  /// cluster; such a stream is refused with 1013).
  std::shared_ptr<const remote_call_hosts> remote_hosts;
  /// Streams whose calls peers host, still open here: the drain waits for them as for calls,
  /// and at DRAIN_TIMEOUT tells them to end (their goodbye, by their hosts).
  std::shared_ptr<relayed_streams> relayed = std::make_shared<relayed_streams>();
  /// Tools and transfers (null: the model's tool calls get an error result).
  std::shared_ptr<call_actions> actions;
  /// TRANSFER_TO: where transfer_call goes when the model names no number; empty = nowhere.
  std::string transfer_to;
  /// GREETING: what the agent says when the stream starts; empty = the caller speaks first.
  std::string greeting;
  /// IDLE_TIMEOUT and MAX_CALL_DURATION.
  guard_settings guards;
  /// Keys pressed within this pause of each other are one keypad entry.
  std::chrono::milliseconds keypad_pause{1500};
  /// The node's metric families; the server shares them with /metrics.
  std::shared_ptr<metrics::bridge_metrics> metrics = std::make_shared<metrics::bridge_metrics>();
  reconnect_policy reconnect;
  model_session_limits model_session;
  /// MODEL_READY_TIMEOUT and MODEL_SILENCE_TIMEOUT: when a model link counts as lost.
  model_watch_settings model_watch;
  /// What the caller hears before the bridge hangs up because the model cannot be reached
  /// (μ-law 8 kHz, played like the agent's voice); empty: nothing, the call just ends.
  std::span<const std::uint8_t> unavailable_prompt = audio::model_unavailable_prompt();
  std::string unavailable_prompt_text = std::string(audio::model_unavailable_prompt_text());
  /// Caller audio kept while the model session is not ready (20 ms frames): 10 s.
  std::size_t max_buffered_caller_frames = 500;
  /// Wall clock for call.json and directory names; tests may pin it.
  std::function<std::chrono::system_clock::time_point()> wall_clock = [] {
    return std::chrono::system_clock::now();
  };
};

using bridge_environment_ptr = std::shared_ptr<const bridge_environment>;

}  // namespace switchboard::actors
