#pragma once
// Every message between the actors of a call, with its CAF `inspect` (so that the types can
// later cross the middleman between cluster nodes). Units are in the names: *_ms are
// milliseconds of the call's timeline, *_samples are μ-law samples (8 per ms).
//
// Audio stays base64 where it travels between the two sockets: Twilio's media payload and the
// Realtime API's audio are both base64 μ-law, so a caller frame is forwarded to the model, and
// an agent delta to Twilio, without being decoded and re-encoded.

#include <caf/meta/type_name.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace switchboard::actors {

// -- From the io threads (net/ handlers) --------------------------------------------------------

/// One text frame from Twilio's media-stream WebSocket.
struct twilio_frame {
  std::string text;
  bool is_text = true;           // false: a binary frame, which Twilio never sends
  std::int64_t received_ns = 0;  // steady clock, when the io thread read it (bridge latency)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, twilio_frame& x) {
  return f(caf::meta::type_name("twilio_frame"), x.text, x.is_text, x.received_ns);
}

/// The Twilio WebSocket is gone.
struct twilio_socket_closed {
  std::string reason;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, twilio_socket_closed& x) {
  return f(caf::meta::type_name("twilio_socket_closed"), x.reason);
}

/// One text frame from the Realtime API; `link_id` tells frames of an old connection apart.
struct realtime_frame {
  std::uint32_t link_id = 0;
  std::string text;
  std::int64_t received_ns = 0;  // steady clock, when the io thread read it (bridge latency)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, realtime_frame& x) {
  return f(caf::meta::type_name("realtime_frame"), x.link_id, x.text, x.received_ns);
}

/// What happened to the model connection.
struct realtime_link_event {
  enum class kind : std::uint8_t { opened, closed, connect_failed };
  std::uint32_t link_id = 0;
  kind what = kind::opened;
  std::string reason;
  std::uint32_t http_status = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, realtime_link_event& x) {
  return f(caf::meta::type_name("realtime_link_event"), x.link_id, x.what, x.reason, x.http_status);
}

// -- Twilio socket -> supervisor ------------------------------------------------------------------

struct call_identity {
  std::string call_sid;
  std::string stream_sid;
  std::string account_sid;
  std::string from;
  std::string to;
  std::string dial_id;  // outbound calls placed by POST /calls: the dial's id
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_identity& x) {
  return f(caf::meta::type_name("call_identity"), x.call_sid, x.stream_sid, x.account_sid, x.from,
           x.to, x.dial_id);
}

/// The stream's `start` arrived and its call token checked out.
/// What POST /calls asked of an outbound call's model session, as its TwiML parameters carried
/// it under the call token's MAC (net/call_token.hpp); each empty = not asked. It travels with
/// call_started, so a call hosted on another node (README "Cluster") gets it too.
struct call_overrides {
  std::string instructions;
  std::string voice;
  std::string metadata_json;  // "metadata" of POST /calls, for the call's tools
  bool empty() const { return instructions.empty() && voice.empty() && metadata_json.empty(); }
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_overrides& x) {
  return f(caf::meta::type_name("call_overrides"), x.instructions, x.voice, x.metadata_json);
}

struct call_started {
  call_identity identity;
  /// A call handed over from a draining node: the key its state waits under on this node
  /// (actors/call_handover.hpp); empty for a new call.
  std::string handover_key;
  call_overrides overrides;  // an outbound call's, from its `start`
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_started& x) {
  return f(caf::meta::type_name("call_started"), x.identity, x.handover_key, x.overrides);
}

/// The stream is over (Twilio `stop`, the socket closed, or the stream was refused).
struct call_stream_ended {
  std::string reason;
  bool refused = false;             // never started: bad token, or no `start`
  bool stopped = false;             // by Twilio's `stop` or by the bridge, not a lost socket
  std::uint64_t caller_end_ms = 0;  // end of the last caller frame on the call's timeline
  std::uint64_t frames_in = 0;      // media frames from Twilio
  std::uint64_t frames_out = 0;     // media frames to Twilio
  std::uint64_t malformed_frames = 0;
  std::uint64_t marks_echoed = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_stream_ended& x) {
  return f(caf::meta::type_name("call_stream_ended"), x.reason, x.refused, x.stopped,
           x.caller_end_ms, x.frames_in, x.frames_out, x.malformed_frames, x.marks_echoed);
}

// -- Caller audio: Twilio socket -> OpenAI session and caller recorder ------------------------

struct caller_audio {
  std::uint64_t timestamp_ms = 0;  // Twilio's media.timestamp: ms since the stream started
  std::string payload_base64;      // μ-law 8 kHz, as Twilio sent it
  // Steady clock, when Twilio's frame was read; 0 when it goes to another node, whose clock it
  // is not (a call hosted by a peer).
  std::int64_t received_ns = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller_audio& x) {
  return f(caf::meta::type_name("caller_audio"), x.timestamp_ms, x.payload_base64, x.received_ns);
}

/// Twilio socket -> caller recorder: the caller's frames, a few at a time. The recorder hands
/// its file 200 ms batches anyway; one message per frame would cost a mailbox, an allocation
/// and an activation 50 times a second for nothing (bench/README.md "bench/floor"). The last
/// frames go before call_stream_ended, so the recording is whole when the call finalises it.
struct caller_audio_batch {
  std::vector<caller_audio> frames;  // in the order Twilio sent them
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller_audio_batch& x) {
  return f(caf::meta::type_name("caller_audio_batch"), x.frames);
}

// -- Agent audio: OpenAI session -> silence clock -> Twilio socket -----------------------------

struct agent_audio {
  std::string response_id;
  std::string item_id;
  std::string payload_base64;    // μ-law 8 kHz, as the model sent it
  std::int64_t received_ns = 0;  // steady clock, when the model's delta was read
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_audio& x) {
  return f(caf::meta::type_name("agent_audio"), x.response_id, x.item_id, x.payload_base64,
           x.received_ns);
}

/// Silence clock -> Twilio socket: a `media` and its `mark`, written together.
struct play_to_caller {
  std::string payload_base64;
  std::string mark_name;
  std::int64_t received_ns = 0;  // steady clock, when the model's delta was read; 0 across nodes
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, play_to_caller& x) {
  return f(caf::meta::type_name("play_to_caller"), x.payload_base64, x.mark_name, x.received_ns);
}

/// Twilio socket -> silence clock: Twilio echoed a mark.
struct mark_echoed {
  std::string name;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mark_echoed& x) {
  return f(caf::meta::type_name("mark_echoed"), x.name);
}

/// Silence clock -> agent recorder: what the caller heard in one or more 20 ms ticks.
struct heard_audio {
  std::vector<std::uint8_t> mulaw;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, heard_audio& x) {
  return f(caf::meta::type_name("heard_audio"), x.mulaw);
}

/// Silence clock -> supervisor, the reply to cut_atom (see playout_timeline::cut).
struct playout_cut_result {
  bool had_unplayed = false;
  std::string item_id;
  std::uint64_t heard_ms = 0;
  std::uint64_t sent_ms = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, playout_cut_result& x) {
  return f(caf::meta::type_name("playout_cut_result"), x.had_unplayed, x.item_id, x.heard_ms,
           x.sent_ms);
}

/// Silence clock -> supervisor, the reply to stop_atom.
struct playout_totals {
  std::uint64_t ticks = 0;
  std::uint64_t agent_bytes_played = 0;
  std::uint64_t silence_ticks = 0;
  std::uint64_t marks_cleared = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, playout_totals& x) {
  return f(caf::meta::type_name("playout_totals"), x.ticks, x.agent_bytes_played, x.silence_ticks,
           x.marks_cleared);
}

// -- OpenAI session -> supervisor
// -------------------------------------------------------------------

struct caller_speech_started {
  std::string item_id;
  std::uint64_t audio_start_ms = 0;
  std::int64_t received_ns = 0;  // steady clock, when the model's event was read
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller_speech_started& x) {
  return f(caf::meta::type_name("caller_speech_started"), x.item_id, x.audio_start_ms,
           x.received_ns);
}

/// The caller started speaking over the agent: the session had the silence clock cut the
/// playout (in order with the agent audio it sends the clock, so a new answer that follows at
/// once is never what gets cut), sent Twilio's `clear` through it and truncated the model's
/// item at what was heard. For the call's record and metrics.
struct barge_in_made {
  std::string item_id;                  // the agent item cut ("" if none was playing)
  std::uint64_t heard_ms = 0;           // of it, what the caller heard
  std::uint64_t sent_ms = 0;            // of it, what had been sent to Twilio
  std::int64_t speech_received_ns = 0;  // steady clock, when speech_started was read
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, barge_in_made& x) {
  return f(caf::meta::type_name("barge_in_made"), x.item_id, x.heard_ms, x.sent_ms,
           x.speech_received_ns);
}

struct response_started {
  std::string response_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, response_started& x) {
  return f(caf::meta::type_name("response_started"), x.response_id);
}

struct token_usage {
  std::uint64_t input_tokens = 0;
  std::uint64_t output_tokens = 0;
  std::uint64_t input_audio_tokens = 0;
  std::uint64_t output_audio_tokens = 0;
  std::uint64_t cached_tokens = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_usage& x) {
  return f(caf::meta::type_name("token_usage"), x.input_tokens, x.output_tokens,
           x.input_audio_tokens, x.output_audio_tokens, x.cached_tokens);
}

/// response.done, or a response lost with its session (status "lost"), with the tag of the
/// say_request it answered (the supervisor waits for its goodbye's by that tag).
struct response_finished {
  std::string response_id;
  std::string status;  // completed | cancelled | failed | incomplete | lost
  token_usage usage;
  std::string tag;                        // the say_request's tag; empty for any other
  std::uint64_t late_deltas_dropped = 0;  // deltas that came after the caller interrupted it
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, response_finished& x) {
  return f(caf::meta::type_name("response_finished"), x.response_id, x.status, x.usage, x.tag,
           x.late_deltas_dropped);
}

/// A line of the call's transcript. The agent's lines are what the caller heard: a barge-in
/// cuts them, and the words generated but not heard are `unheard`. A later line for the same
/// agent item (it was cut after its transcript came) replaces the earlier one.
struct transcript_entry {
  std::string speaker;  // "caller" | "agent"
  std::string item_id;
  std::string text;
  std::uint64_t offset_ms = 0;  // on the call's timeline; the supervisor fills it for the agent
  std::string unheard;          // agent: the rest of the line, cut off by a barge-in
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transcript_entry& x) {
  return f(caf::meta::type_name("transcript_entry"), x.speaker, x.item_id, x.text, x.offset_ms,
           x.unheard);
}

struct model_status {
  enum class kind : std::uint8_t { connected, reconnecting, unavailable, error_event };
  kind what = kind::connected;
  std::string detail;  // the error code, or why the connection is down
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_status& x) {
  return f(caf::meta::type_name("model_status"), x.what, x.detail);
}

/// OpenAI session, to itself: a deadline of the model link's watchdog (model_link_watch) may
/// be due.
struct model_watch_check {
  std::uint64_t generation = 0;  // only the latest scheduled check counts
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_watch_check& x) {
  return f(caf::meta::type_name("model_watch_check"), x.generation);
}

/// OpenAI session, to itself: the current Realtime session nears the API's lifetime (60 min):
/// open the next one.
struct model_session_renewal {
  std::uint64_t generation = 0;  // only the latest scheduled renewal counts
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_session_renewal& x) {
  return f(caf::meta::type_name("model_session_renewal"), x.generation);
}

// -- Call control: the API (app/call_control), the agent's tools and the guards -> supervisor --

/// End the call from our side: the stream is closed, so Twilio goes on past <Connect> and,
/// with nothing after it, hangs up. `after_playout`: first let the caller hear all agent audio
/// already sent (the goodbye), as Twilio's mark echoes confirm.
struct hangup_request {
  std::string reason;
  bool after_playout = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hangup_request& x) {
  return f(caf::meta::type_name("hangup_request"), x.reason, x.after_playout);
}

/// Make the agent say `text` now (supervisor -> openai_session: response.create whose
/// instructions carry the text). Waits for the model's active response to finish.
struct say_request {
  std::string text;
  /// Comes back in the response_finished of the response that said it (empty: not needed).
  std::string tag;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, say_request& x) {
  return f(caf::meta::type_name("say_request"), x.text, x.tag);
}

/// The node's drain deadline (DRAIN_TIMEOUT) has come and the call is still live: the agent
/// says `goodbye` (a say_request), the caller hears it (playout_drained, bounded by
/// `goodbye_bound_ms`), then the bridge hangs up with the end reason "drained". The one message
/// app/node_drain decides to send at the deadline; a hand-over to a peer comes as its sibling.
struct drain_call {
  std::string goodbye;
  std::uint64_t goodbye_bound_ms = 10'000;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drain_call& x) {
  return f(caf::meta::type_name("drain_call"), x.goodbye, x.goodbye_bound_ms);
}

/// Twilio socket -> supervisor: the caller pressed a key (Twilio `dtmf`).
/// Supervisor → twilio_socket: close the stream before it counted as a call (no `start` in
/// time, or no room), with this WebSocket close code (net::close_code) and reason. The socket
/// closes where it is, which may be another node than the supervisor's.
struct close_stream {
  std::uint16_t code = 1000;
  std::string reason;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, close_stream& x) {
  return f(caf::meta::type_name("close_stream"), x.code, x.reason);
}

struct caller_keypress {
  char digit = '0';
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller_keypress& x) {
  return f(caf::meta::type_name("caller_keypress"), x.digit);
}

/// Supervisor -> openai_session: the digits the caller typed, gathered over a short pause; they
/// reach the model as a user message and a response is asked for.
struct caller_keypad_entry {
  std::string digits;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller_keypad_entry& x) {
  return f(caf::meta::type_name("caller_keypad_entry"), x.digits);
}

/// Silence clock -> supervisor: everything sent to the caller has played, Twilio's mark echoes
/// confirm it. Sent unasked (at most a few times a second) when the agent's audio has drained,
/// and as the answer to drained_atom once it has. The clock alone knows what is unplayed: agent
/// audio comes to it straight from the model session.
struct playout_drained {};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, playout_drained&) {
  return f(caf::meta::type_name("playout_drained"));
}

/// openai_session -> supervisor: the first audio of an agent item reached the playout (the
/// transcript line of the item is placed there on the call's timeline).
struct agent_item_started {
  std::string item_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_item_started& x) {
  return f(caf::meta::type_name("agent_item_started"), x.item_id);
}

/// openai_session -> supervisor: the model called a built-in tool (end_call, transfer_call).
struct agent_tool_call {
  std::string call_id;
  std::string name;
  std::string arguments_json;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agent_tool_call& x) {
  return f(caf::meta::type_name("agent_tool_call"), x.call_id, x.name, x.arguments_json);
}

/// To openai_session: a tool's answer (JSON), returned to the model as function_call_output,
/// then a response is asked for. From the io thread (user tools over HTTP) or the supervisor.
struct tool_result {
  std::string call_id;
  std::string output_json;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_result& x) {
  return f(caf::meta::type_name("tool_result"), x.call_id, x.output_json);
}

/// io thread -> supervisor: Twilio's answer to redirecting the call to <Dial> (transfer_call).
struct transfer_outcome {
  std::string tool_call_id;  // the model's call of transfer_call
  std::string to;
  std::string error;  // empty: Twilio took the redirect; the stream ends shortly
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_outcome& x) {
  return f(caf::meta::type_name("transfer_outcome"), x.tool_call_id, x.to, x.error);
}

/// Supervisor, to itself: the next deadline of a guard or of the keypad pause may be due.
struct guard_check {
  std::uint64_t generation = 0;  // only the latest scheduled check counts
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, guard_check& x) {
  return f(caf::meta::type_name("guard_check"), x.generation);
}

// -- Recorders
// --------------------------------------------------------------------------------------

/// Recorder -> supervisor: a write failed (disk full, permissions); the recorder stops writing
/// but the call goes on.
struct recording_problem {
  std::string track;  // "caller" | "agent"
  std::string message;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recording_problem& x) {
  return f(caf::meta::type_name("recording_problem"), x.track, x.message);
}

/// File thread -> supervisor: the call's directory, made with its marker (call_recovery.hpp).
/// Local to the node: a path never leaves it.
struct call_directory_made {
  std::string path;   // empty: it could not be made (`error` says why)
  std::string error;  // also set when only the marker could not be written
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_directory_made& x) {
  return f(caf::meta::type_name("call_directory_made"), x.path, x.error);
}

/// Supervisor -> recorder: the file to write.
struct recording_target {
  std::string track;  // "caller" | "agent"
  std::string path;
  std::string call_sid;  // for the recorder's log lines
  std::string stream_sid;
  bool discard = false;  // RECORDINGS=off: drop the audio, write nothing
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recording_target& x) {
  return f(caf::meta::type_name("recording_target"), x.track, x.path, x.call_sid, x.stream_sid,
           x.discard);
}

/// File thread -> recorder: a batch of its audio (or its close, `closed`) has been through the
/// disk. Local to the node.
struct track_write_done {
  std::uint64_t bytes_on_disk = 0;  // audio bytes in the file now
  std::string error;                // a write error, "" when none
  bool closed = false;              // the file is closed (its header final, synced)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, track_write_done& x) {
  return f(caf::meta::type_name("track_write_done"), x.bytes_on_disk, x.error, x.closed);
}

/// The reply to finalize_atom.
struct recording_summary {
  std::string track;
  std::string path;
  std::uint64_t samples = 0;
  std::uint64_t silence_samples = 0;  // written to fill gaps (caller) or quiet ticks (agent)
  std::string error;                  // empty when the file is complete and valid
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recording_summary& x) {
  return f(caf::meta::type_name("recording_summary"), x.track, x.path, x.samples, x.silence_samples,
           x.error);
}

/// The files of an ended call that the disk refused (full, a quota, an I/O error), handed by the
/// finaliser to the node's call_file_retrier to write once the disk takes them. Local only.
struct deferred_call_files {
  std::string call_sid;
  std::string stream_sid;
  /// Where they go; empty when the call never got a directory (the disk was full when it
  /// began): the retrier then makes one under `root`/`date`, as the supervisor would have.
  std::string directory;
  std::string root;
  std::string date;
  /// Name and content of each file still to write, call.json last (it lists the others).
  std::vector<std::pair<std::string, std::string>> files;
  /// The Twilio call status that call.json was rendered with ("" = none), so that the status
  /// book keeps it current once it is on disk.
  std::string twilio_status;
  std::uint32_t part = 1;  // of a handed-over call: names the directory made late
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, deferred_call_files& x) {
  return f(caf::meta::type_name("deferred_call_files"), x.call_sid, x.stream_sid, x.directory,
           x.root, x.date, x.files, x.twilio_status, x.part);
}

// -- Recordings in object storage (actors/recording_uploader.hpp). Local only. ----------------

/// A call's directory is complete: call.json written, `upload.pending` in it. From the call's
/// finaliser, and from the node's start-up scan for what an earlier process left.
struct upload_call {
  std::string call_sid;   // for the logs
  std::string directory;  // RECORDINGS_DIR/<date>/<CallSid>
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_call& x) {
  return f(caf::meta::type_name("upload_call"), x.call_sid, x.directory);
}

/// The status book rewrote call.json (a later twilio_status): its copy in the bucket is stale.
struct call_json_rewritten {
  std::string call_sid;
  std::string directory;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_json_rewritten& x) {
  return f(caf::meta::type_name("call_json_rewritten"), x.call_sid, x.directory);
}

/// The node's file thread: what is in a call's directory to upload (name, key, type, size per
/// file, call.json last); empty when it could not be listed.
struct upload_planned {
  std::string call_sid;
  std::string directory;
  std::vector<std::string> names;
  std::vector<std::string> keys;
  std::vector<std::string> content_types;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_planned& x) {
  return f(caf::meta::type_name("upload_planned"), x.call_sid, x.directory, x.names, x.keys,
           x.content_types);
}

/// An upload worker: one try at one file ended.
struct file_upload_done {
  std::string directory;
  std::string name;
  std::uint8_t outcome = 0;  // net::s3_outcome
  unsigned http_status = 0;  // 0: no response
  std::string reason;        // why it failed, for the log
  std::uint64_t bytes = 0;   // the file's size as sent
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_upload_done& x) {
  return f(caf::meta::type_name("file_upload_done"), x.directory, x.name, x.outcome, x.http_status,
           x.reason, x.bytes);
}

/// Self: a file's backoff has passed; try it again.
struct upload_retry_due {
  std::string directory;
  std::string name;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_retry_due& x) {
  return f(caf::meta::type_name("upload_retry_due"), x.directory, x.name);
}

/// The node's file thread: a step on a call's directory is done ("" or the error): call.json
/// now records the uploads, or (settled) the local copies and the marker are gone.
struct call_upload_step {
  enum class step : std::uint8_t { recorded, settled, marked_failed, marked_for_call_json };
  std::string directory;
  std::uint8_t what = 0;  // step
  std::string error;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_upload_step& x) {
  return f(caf::meta::type_name("call_upload_step"), x.directory, x.what, x.error);
}

/// What the uploader still has to do: files not yet confirmed, and the calls they belong to.
struct upload_backlog {
  std::uint64_t files = 0;
  std::uint64_t calls = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, upload_backlog& x) {
  return f(caf::meta::type_name("upload_backlog"), x.files, x.calls);
}

// -- Between cluster nodes (each registered in cluster_message_types.cpp) ----------------------
// What crosses nodes carries no steady_clock time point and no file path: neither means
// anything on another node.

/// What a node tells every peer about once a second (node_actor).
struct node_heartbeat {
  std::string node_name;             // NODE_NAME (or the host name)
  std::string state;                 // "joining", "ready" or "draining"
  std::uint32_t active_calls = 0;    // calls live on that node now
  std::uint32_t promised_calls = 0;  // places promised to streams that have not started yet
  std::uint32_t capacity = 0;        // MAX_CALLS, 0 = unlimited
  double load = 0;                   // CPU in cores used over the last second
  std::string stream_url;            // NODE_STREAM_URL, empty = none
  std::string cluster_address;       // host:port its node actor is published on
  std::vector<std::string> linked;   // cluster_address of every peer it is linked to now
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_heartbeat& x) {
  return f(caf::meta::type_name("node_heartbeat"), x.node_name, x.state, x.active_calls,
           x.promised_calls, x.capacity, x.load, x.stream_url, x.cluster_address, x.linked);
}

/// One call as the node it runs on describes it to the others (call_announcement, call_snapshot,
/// remote_call_answer). Times are system_clock milliseconds since the epoch; no recordings
/// directory (a path of that node).
struct shared_call_view {
  call_identity identity;
  std::string direction;  // "inbound" | "outbound"
  std::string state;      // "live", "ending" or "ended"
  std::int64_t started_at_ms = 0;
  std::int64_t ended_at_ms = 0;  // 0 until ended
  std::uint64_t barge_ins = 0;
  std::string end_reason;
  std::vector<std::string> files;            // ended: the file names written
  std::vector<transcript_entry> transcript;  // only in remote_call_answer (show)
  std::uint64_t revision = 0;                // per call, grows with every change its node announces
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_call_view& x) {
  return f(caf::meta::type_name("shared_call_view"), x.identity, x.direction, x.state,
           x.started_at_ms, x.ended_at_ms, x.barge_ins, x.end_reason, x.files, x.transcript,
           x.revision);
}

/// A node to its peers: one of its calls started, changed (state, end reason, barge-ins) or
/// ended. Idempotent: the receiver keeps the highest revision of each call.
struct call_announcement {
  std::string node_name;
  shared_call_view call;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_announcement& x) {
  return f(caf::meta::type_name("call_announcement"), x.node_name, x.call);
}

/// A node to a peer it has just linked to: every call live on it now (the peer then knows the
/// calls that started before it joined, not only later changes).
struct call_snapshot {
  std::string node_name;
  std::vector<shared_call_view> calls;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_snapshot& x) {
  return f(caf::meta::type_name("call_snapshot"), x.node_name, x.calls);
}

/// The call-control API of one node asks the node that runs a call (through both node actors).
struct remote_call_request {
  enum class action : std::uint8_t { show, hangup, say, check_steerable };
  action what = action::show;
  std::string node_id;  // the call's node (the local node actor forwards it there)
  std::string call_sid;
  std::string text;  // say: what the agent says
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_call_request& x) {
  return f(caf::meta::type_name("remote_call_request"), x.what, x.node_id, x.call_sid, x.text);
}

/// The call's node answers: an HTTP status for the API (200 show / check_steerable, 202 hangup
/// and say, 404 unknown there, 409 ending or ended) and, for show, the call with its transcript.
struct remote_call_answer {
  std::uint16_t status = 0;
  std::string error;  // when status is not 2xx
  shared_call_view call;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remote_call_answer& x) {
  return f(caf::meta::type_name("remote_call_answer"), x.status, x.error, x.call);
}

/// GET /calls/{sid}/recordings/{file} on a node that did not record the call: it reads the file
/// from the node that did, one bounded chunk per request (never a whole file in one message),
/// through both node actors; the recording node reads it on a thread of its own, not an io
/// thread.
struct recording_chunk_request {
  std::string node_id;  // the recording node (the local node actor forwards it there)
  std::string call_sid;
  std::string file;  // one of the API's names: caller.wav, agent.wav, ..., call.json
  std::uint64_t offset = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recording_chunk_request& x) {
  return f(caf::meta::type_name("recording_chunk_request"), x.node_id, x.call_sid, x.file,
           x.offset);
}

/// The most a recording_chunk carries.
inline constexpr std::size_t recording_chunk_bytes = 64 * 1024;

/// 200 with up to recording_chunk_bytes from the offset (fewer only at the end); 404 no such
/// call or file there (a file uploaded and deleted there: the bucket has it); 409 the call is
/// live; 416 an offset past the end; 500 unreadable; 400 not a request the node takes.
struct recording_chunk {
  std::uint16_t status = 0;
  std::string error;
  std::uint64_t total = 0;  // the file's size
  std::string bytes;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recording_chunk& x) {
  return f(caf::meta::type_name("recording_chunk"), x.status, x.error, x.total, x.bytes);
}

/// A stream's node claims its call token at the node that issued it (whose ledger is the one
/// authority, net/call_token.hpp), before the call starts.
struct call_token_claim {
  std::string token;
  std::string issuer;             // node id the token names (checked by its MAC)
  std::int64_t expires_at_s = 0;  // the token's expiry, unix seconds
  /// The call's admission key (its CallSid, or "dial:<dial id>"; covered by the token's MAC):
  /// the issuer promised this call a place when it answered the webhook, and the stream is
  /// elsewhere, so a granted claim frees that place.
  std::string admission_key;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_token_claim& x) {
  return f(caf::meta::type_name("call_token_claim"), x.token, x.issuer, x.expires_at_s,
           x.admission_key);
}

struct call_token_verdict {
  bool granted = false;
  std::string why;  // when refused
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_token_verdict& x) {
  return f(caf::meta::type_name("call_token_verdict"), x.granted, x.why);
}

/// Placement (README "Cluster"): the node that answers a new call asks the node it chose to
/// promise the call a place (its admission, MAX_CALLS) before its TwiML names that node's
/// stream, so that two nodes answering webhooks in the same second cannot both hand out the
/// chosen node's last place. hold_s 0 gives the place back (the dial failed).
struct place_request {
  std::string node_id;        // the chosen node (the local node actor forwards it there)
  std::string admission_key;  // the call's CallSid, or "dial:<dial id>" (call_admission_key)
  std::uint32_t hold_s = 0;   // how long the place waits for the stream; 0: release it
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, place_request& x) {
  return f(caf::meta::type_name("place_request"), x.node_id, x.admission_key, x.hold_s);
}

struct place_verdict {
  bool granted = false;
  std::string why;  // when refused: full, overloaded, draining, not linked
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, place_verdict& x) {
  return f(caf::meta::type_name("place_verdict"), x.granted, x.why);
}

/// CALLS_PER_MINUTE for the whole cluster: POST /calls on any node takes one dial from the
/// budget kept by one node, the live node with the lowest id (app/placement.hpp); answered with
/// a place_verdict (granted: dial; else the minute's dials are spent).
struct dial_budget_request {
  std::string node_id;  // the node that keeps the budget (the local node actor forwards it)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dial_budget_request& x) {
  return f(caf::meta::type_name("dial_budget_request"), x.node_id);
}

}  // namespace switchboard::actors
