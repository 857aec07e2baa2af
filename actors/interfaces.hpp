#pragma once
// The protocol of one call, as typed actor interfaces (CAF 0.17.6). One call is a supervisor
// and the five actors it spawns:
//
//   Twilio WS ──twilio_frame──▶ twilio_socket ──caller_audio──▶ openai_session ──▶ Realtime WS
//                                   │  └──caller_audio_batch (every 5 frames)──▶ recorder (caller)
//                                   └─call_started / call_stream_ended─▶ call_supervisor
//   Realtime WS ──realtime_frame──▶ openai_session ──agent_audio, cut (barge-in)──▶ silence_clock
//   silence_clock ──play_to_caller, clear──▶ twilio_socket ──▶ Twilio WS
//        └── every 100 ms: heard_audio (what the caller heard, by 20 ms slot) ──▶ recorder (agent)
//   openai_session ──speech, barge-ins, responses, transcripts, agent_item_started──▶ supervisor
//   call-control API (app/) ──hangup_request, say_request──▶ supervisor ──▶ the children
//   the node's drain (app/) ──drain_call──▶ supervisor (goodbye, then hang-up)
//   recorders, supervisor ──jobs──▶ the node's file thread (file_work.hpp) ──track_write_done,
//                                   call_directory_made──▶ back: no io thread waits on the disk
//   the node's drain (app/) ──handover_atom──▶ supervisor ──handover_atom──▶ openai_session:
//     the call's state for a peer (actors/call_handover.hpp); then handed_atom: Twilio's `stop`
//     that follows ends this part as "handed over"
//   a handed-over call's new stream: supervisor ──session_handover──▶ openai_session (the
//     conversation to replay, the session's overrides) before call_started
//
//   the call's finaliser (after call.json) ──upload_call──▶ the node's recording_uploader ──▶
//     the bucket (RECORDINGS_BUCKET_URL), on upload threads of its own
//
// A frame from Twilio thus travels: io thread → twilio_socket → openai_session → model.
//
// A call hosted by a peer (a stream that landed on a full node): the twilio_socket stays with
// its socket, the supervisor and the four other actors run on the peer (host_call_request).
// Every message between the two sides is registered for the cluster
// (actors/cluster_message_types.cpp); steady-clock stamps (received_ns) go across as 0.

#include "actors/atoms.hpp"
#include "actors/call_handover.hpp"
#include "actors/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace switchboard::actors {

struct call_peers;

/// The call: its identity and state, the decisions that span actors (hang-ups, guards), and
/// the end of the call (recordings finalised, mixes, transcript and call.json written).
using call_supervisor_actor = caf::typed_actor<
    // twilio_socket: the stream started and its call token checked out.
    caf::reacts_to<call_started>,
    // twilio_socket: Twilio `stop`, the socket closed, or the stream was refused.
    caf::reacts_to<call_stream_ended>,
    // openai_session: the caller started speaking; a barge-in it made (the playout cut).
    caf::reacts_to<caller_speech_started>, caf::reacts_to<barge_in_made>,
    // openai_session: the first audio of an agent item went to the playout.
    caf::reacts_to<agent_item_started>,
    // openai_session: response.created / response.done.
    caf::reacts_to<response_started>, caf::reacts_to<response_finished>,
    // openai_session: a finished transcript line.
    caf::reacts_to<transcript_entry>,
    // openai_session: connected, reconnecting, unavailable (the call then ends), error event.
    caf::reacts_to<model_status>,
    // recorder: a write failed; the bridge goes on without that track.
    caf::reacts_to<recording_problem>,
    // the call-control API, tools and guards: end the call / make the agent say something.
    caf::reacts_to<hangup_request>, caf::reacts_to<say_request>,
    // the node's drain (app/bridge_server): DRAIN_TIMEOUT passed, say goodbye and hang up.
    caf::reacts_to<drain_call>,
    // the node's drain: the call's state for the peer that is to continue it (the model
    // session's conversation included); then, once Twilio took the call update, handed_atom.
    caf::replies_to<handover_atom>::with<call_handover_state>, caf::reacts_to<handed_atom>,
    // twilio_socket: a key the caller pressed (gathered into digits over a short pause).
    caf::reacts_to<caller_keypress>,
    // silence_clock: everything sent to the caller has played (marks confirm it).
    caf::reacts_to<playout_drained>,
    // openai_session: the model called end_call or transfer_call.
    caf::reacts_to<agent_tool_call>,
    // io thread: Twilio's answer to a transfer.
    caf::reacts_to<transfer_outcome>,
    // self: a guard or keypad deadline may be due.
    caf::reacts_to<guard_check>,
    // self: START_TIMEOUT after the stream opened; closes it if it has not started.
    caf::reacts_to<no_start_atom>,
    // the node's file thread: the call's directory exists (or could not be made).
    caf::reacts_to<call_directory_made>>;

/// Twilio's side of the call: parses every frame, checks the stream's call token, forwards
/// caller audio, writes agent audio and marks, and closes the socket at the end.
using twilio_socket_actor = caf::typed_actor<
    // supervisor, first message: who the other actors of the call are.
    caf::reacts_to<call_peers>,
    // io thread: a frame arrived / the socket is gone.
    caf::reacts_to<twilio_frame>, caf::reacts_to<twilio_socket_closed>,
    // silence_clock: send a `media` and its `mark` (one write).
    caf::reacts_to<play_to_caller>,
    // silence_clock: barge-in, send `clear`.
    caf::reacts_to<clear_atom>,
    // supervisor: end the call from our side (close the socket).
    caf::reacts_to<hangup_atom>,
    // supervisor: close a stream that never counted as a call (no `start` in time, no room).
    caf::reacts_to<close_stream>,
    // the node's drain, for a call a peer hosts: passed on to its supervisor there.
    caf::reacts_to<drain_call>>;

/// The Realtime session: connects (and reconnects), configures the session, forwards caller
/// audio (buffered until the session is ready), and turns server events into messages.
using openai_session_actor = caf::typed_actor<
    // supervisor, first message: who the other actors of the call are.
    caf::reacts_to<call_peers>,
    // twilio_socket: caller audio, in order.
    caf::reacts_to<caller_audio>,
    // io thread: a frame / a connection event from the model link.
    caf::reacts_to<realtime_frame>, caf::reacts_to<realtime_link_event>,
    // supervisor: the stream started — connect now (the call is known).
    caf::reacts_to<call_started>,
    // supervisor, before call_started: the call comes from another node — its conversation
    // (replayed into the first session) and the session it had.
    caf::reacts_to<session_handover>,
    // supervisor: the conversation and session as they are, for a hand-over.
    caf::replies_to<handover_atom>::with<session_handover>,
    // self: reconnect after a backoff.
    caf::reacts_to<connect_atom>,
    // self: the link's watchdog — not configured in time, or quiet while the caller talks.
    caf::reacts_to<model_watch_check>,
    // self: the session nears the API's 60-minute lifetime; open the next one.
    caf::reacts_to<model_session_renewal>,
    // supervisor: the agent says something now (API, greeting, guards); keypad digits.
    caf::reacts_to<say_request>, caf::reacts_to<caller_keypad_entry>,
    // io thread (user tools) or supervisor (built-ins): a tool's answer for the model.
    caf::reacts_to<tool_result>,
    // supervisor: the call is over, close the session.
    caf::reacts_to<close_atom>>;

/// One track of the recording (caller or agent), a μ-law WAV written as the call goes.
using recorder_actor = caf::typed_actor<
    // supervisor, first message: who the other actors of the call are.
    caf::reacts_to<call_peers>,
    // twilio_socket (caller track): frames at their Twilio timestamps; gaps become silence.
    caf::reacts_to<caller_audio_batch>,
    // silence_clock (agent track): what the caller heard, tick after tick.
    caf::reacts_to<heard_audio>,
    // supervisor: where to write and which track this is (audio before it is buffered).
    caf::reacts_to<recording_target>,
    // node file thread: a batch of this track's audio, or its close, went through the disk.
    caf::reacts_to<track_write_done>,
    // supervisor: pad with silence to the call's length in samples, close, report (once the
    // close has been through the disk).
    caf::replies_to<finalize_atom, std::uint64_t>::with<recording_summary>>;

/// The 20 ms playout clock: owns the playout_timeline (what was sent to Twilio and not yet
/// heard), forwards agent audio to Twilio with marks, and writes what the caller hears to the
/// agent recorder every tick.
using silence_clock_actor = caf::typed_actor<
    // supervisor, first message: who the other actors of the call are.
    caf::reacts_to<call_peers>,
    // supervisor: the stream started: tick from now on (the agent track's time zero).
    caf::reacts_to<call_started>,
    // openai_session: agent audio to play (the supervisor: the apology when the model is gone).
    caf::reacts_to<agent_audio>,
    // twilio_socket: Twilio echoed a mark.
    caf::reacts_to<mark_echoed>,
    // openai_session: barge-in — send Twilio `clear`, drop the unplayed audio, report what was
    // heard.
    caf::replies_to<cut_atom>::with<playout_cut_result>,
    // supervisor: answer once everything sent to the caller has played (a goodbye was heard).
    caf::replies_to<drained_atom>::with<playout_drained>,
    // self: the next tick is due.
    caf::reacts_to<caf::tick_atom>,
    // supervisor: the call is over; report totals and stop ticking.
    caf::replies_to<stop_atom>::with<playout_totals>>;

/// Every actor of one call, sent by the supervisor as each child's first message (the children
/// depend on each other, so none can be given all the others at spawn).
struct call_peers {
  call_supervisor_actor supervisor;
  twilio_socket_actor twilio;
  openai_session_actor model;
  silence_clock_actor clock;
  recorder_actor caller_recorder;
  recorder_actor agent_recorder;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_peers& x) {
  return f(caf::meta::type_name("call_peers"), x.supervisor, x.twilio, x.model, x.clock,
           x.caller_recorder, x.agent_recorder);
}

/// A call hosted by a peer (README "Cluster", placement): a stream landed on a node whose every
/// place is taken. Its twilio_socket stays there with the socket; the node actor of a peer
/// with room spawns the call's supervisor, which spawns the model-side actors (model session,
/// silence clock, recorders) there and links to the socket's actor across the link. Answered
/// with a place_verdict: granted, or why not (full, draining, not linked, no answer in time).
struct host_call_request {
  std::string node_id;         // the chosen peer (the local node actor forwards it there)
  twilio_socket_actor twilio;  // on the node that asks
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, host_call_request& x) {
  return f(caf::meta::type_name("host_call_request"), x.node_id, x.twilio);
}

/// The node's writer of deferred call files, one per node (actors/call_file_retrier.hpp). It
/// is detached (a thread of its own), since it does blocking file I/O.
using call_file_retrier_actor = caf::typed_actor<
    // a call's finaliser: these files were refused by the disk; write them when it takes them.
    caf::reacts_to<deferred_call_files>,
    // self: a batch is due.
    caf::reacts_to<retry_atom>,
    // the node, stopping: one last try for every batch; the reply counts the calls whose files
    // are lost.
    caf::replies_to<flush_atom>::with<std::uint64_t>>;

/// The node's uploads of ended calls' files to object storage (actors/recording_uploader.hpp),
/// one per node when RECORDINGS_BUCKET_URL is set. It does no I/O itself: listings, call.json
/// and deletions go to the node's file thread, the PUTs to upload threads of their own.
using recording_uploader_actor = caf::typed_actor<
    // a call's finaliser, the start-up scan: this call's directory is complete; upload it.
    caf::reacts_to<upload_call>,
    // the status book: call.json was rewritten after its upload; send it again.
    caf::reacts_to<call_json_rewritten>,
    // the file thread: what the call's directory holds to upload.
    caf::reacts_to<upload_planned>,
    // an upload thread: one try at one file ended.
    caf::reacts_to<file_upload_done>,
    // self: a file's backoff has passed.
    caf::reacts_to<upload_retry_due>,
    // the file thread: call.json records the uploads / the local copies went / marked failed.
    caf::reacts_to<call_upload_step>,
    // the drain, tests: what is not yet confirmed in the bucket.
    caf::replies_to<backlog_atom>::with<upload_backlog>>;

/// One node of the cluster as its peers reach it: published on CLUSTER_PORT, one per node
/// (app/cluster_node.hpp). Nothing here carries a steady_clock time point or a file path: they
/// mean nothing on another node.
using node_actor = caf::typed_actor<
    // A peer's heartbeat, about once a second: who it is, its state and load, and the peers it
    // is linked to, which this node then links to as well (full mesh). The first one from a
    // peer this node has not connected to adopts the peer (it connected to us).
    caf::reacts_to<node_heartbeat>,
    // A peer's call started, changed or ended / every call live on a peer that just linked.
    caf::reacts_to<call_announcement>, caf::reacts_to<call_snapshot>,
    // The call-control API: from a peer, about a call on this node (answered here); from this
    // node, about a call on a peer (forwarded to that peer's node actor).
    caf::replies_to<remote_call_request>::with<remote_call_answer>,
    // A call token's claim: from a peer, for a token this node issued (its ledger decides);
    // from this node's streams, for a token a peer issued (forwarded there).
    caf::replies_to<call_token_claim>::with<call_token_verdict>,
    // Placement: from a peer, a place for a call that peer is sending here (this node's
    // admission decides); from this node's webhook or POST /calls, for a call it sends to a
    // peer (forwarded there).
    caf::replies_to<place_request>::with<place_verdict>,
    // CALLS_PER_MINUTE for the cluster: from a peer, one dial from the budget this node keeps;
    // from this node's POST /calls, for the node that keeps it (forwarded there).
    caf::replies_to<dial_budget_request>::with<place_verdict>,
    // A stream that landed on a full node: from a peer, host its call here (spawn the
    // supervisor for the peer's twilio_socket); from this node's stream, for a peer
    // (forwarded there).
    caf::replies_to<host_call_request>::with<place_verdict>,
    // The drain's hand-over: from a peer, a call's state to keep for its new stream (this node
    // answers the key the stream's `start` will carry); from this node's drain, for a peer
    // (forwarded there).
    caf::replies_to<call_handover_offer>::with<call_handover_answer>,
    // A recording, a chunk at a time: from a peer, of a call this node recorded (read by its
    // recording_reader); from this node's API, of a call a peer recorded (forwarded there).
    caf::replies_to<recording_chunk_request>::with<recording_chunk>>;

/// Reads the recordings of this node's ended calls for peers, on a thread of its own (spawned
/// detached by the node actor): the node actor's io thread never waits on the disk.
using recording_reader_actor =
    caf::typed_actor<caf::replies_to<recording_chunk_request>::with<recording_chunk>>;

/// Where a stream claims a call token another node issued: this node's node actor (null when
/// there is no cluster: every token is then this node's own).
using call_token_authority_actor =
    caf::typed_actor<caf::replies_to<call_token_claim>::with<call_token_verdict>>;

}  // namespace switchboard::actors
