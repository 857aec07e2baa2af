#pragma once
// A call handed over at the drain deadline (README "Drain"): what moves from the draining node
// to the peer that continues the call, as plain data, and where the peer keeps it until the
// call's new stream arrives.
//
//   draining node: supervisor gathers call_handover_state (the model session's conversation,
//     the transcript, the counters) ──call_handover_offer (cluster)──▶ peer's node actor
//   peer: keeps it in its handover_book under a one-time key, answers the key
//   draining node: Twilio's call update, <Connect><Stream url=peer> with the key as a
//     <Parameter> ──▶ Twilio ends the old stream (`stop`: the old part ends "handed over") and
//     opens the new one ──▶ peer: the stream's `start` carries the key, the call is seeded with
//     the state (the conversation replayed into its first model session, the transcript goes
//     on, call.json says part 2 and which node recorded which part)
//
// The key is a secret: 128 random bits, known only to the two nodes and Twilio, taken once,
// and forgotten after a short while (Twilio opens the new stream within a second or two). The
// stream still has to pass the call token check like any other.

#include "actors/conversation.hpp"
#include "actors/messages.hpp"

#include <caf/meta/type_name.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::actors {

/// One conversation::item as it crosses nodes (CAF 0.17 serialises no std::optional).
struct conversation_entry {
  std::uint8_t what = 0;  // conversation::kind
  std::string item_id;
  std::string text;
  std::string name;
  std::string call_id;
  std::uint64_t audio_ms = 0;
  bool cut = false;  // heard_ms holds where a barge-in cut the agent's item
  std::uint64_t heard_ms = 0;
  bool text_final = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conversation_entry& x) {
  return f(caf::meta::type_name("conversation_entry"), x.what, x.item_id, x.text, x.name, x.call_id,
           x.audio_ms, x.cut, x.heard_ms, x.text_final);
}
conversation_entry to_entry(const conversation::item& item);
/// nullopt: a kind no conversation has (a peer of a newer version, or a corrupt message).
std::optional<conversation::item> to_item(const conversation_entry& entry);

/// One part of a handed-over call: which node recorded it, and how it ended there.
struct call_part {
  std::uint32_t number = 1;  // 1 for the node that took the call first
  std::string node;          // NODE_NAME of the node that recorded it
  std::string end_reason;    // "handed over" for every part but the last
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_part& x) {
  return f(caf::meta::type_name("call_part"), x.number, x.node, x.end_reason);
}

/// Everything of a call that outlives the node it ran on.
struct call_handover_state {
  call_identity identity;  // the stream_sid is the old stream's: the new one brings its own
  // The session as the call had it: an outbound call's POST /calls overrides included.
  std::string instructions;
  std::string voice;
  std::string metadata_json;
  std::vector<conversation_entry> conversation;  // oldest first, as the model session kept it
  std::uint64_t conversation_items_dropped = 0;
  std::vector<transcript_entry> transcript;
  std::int64_t started_at_ms = 0;  // when the call started (unix ms): the call's time zero
  std::uint64_t elapsed_ms = 0;    // how long it had run when it was handed over
  std::uint64_t barge_ins = 0;
  std::uint64_t truncations = 0;
  std::uint64_t responses = 0;
  std::uint64_t model_reconnects = 0;
  std::vector<call_part> parts;  // the parts so far, the one handed over last
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_handover_state& x) {
  return f(caf::meta::type_name("call_handover_state"), x.identity, x.instructions, x.voice,
           x.metadata_json, x.conversation, x.conversation_items_dropped, x.transcript,
           x.started_at_ms, x.elapsed_ms, x.barge_ins, x.truncations, x.responses,
           x.model_reconnects, x.parts);
}

/// openai_session <-> supervisor: the model session's part of a hand-over (never crosses nodes).
struct session_handover {
  std::string instructions;
  std::string voice;
  std::string metadata_json;
  std::vector<conversation_entry> conversation;
  std::uint64_t conversation_items_dropped = 0;
  /// Not empty for a call continued after a lost stream: the first response's instructions,
  /// in place of the greeting the call had on its first part (line_dropped_instructions).
  std::string first_response_instructions;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_handover& x) {
  return f(caf::meta::type_name("session_handover"), x.instructions, x.voice, x.metadata_json,
           x.conversation, x.conversation_items_dropped, x.first_response_instructions);
}

/// Draining node -> peer's node actor (forwarded there by the draining node's own node actor):
/// keep this call's state for its new stream.
struct call_handover_offer {
  std::string node_id;  // the peer (the local node actor forwards it there)
  call_handover_state state;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_handover_offer& x) {
  return f(caf::meta::type_name("call_handover_offer"), x.node_id, x.state);
}

struct call_handover_answer {
  bool accepted = false;
  std::string key;  // accepted: what the new stream's `start` must carry
  std::string why;  // refused: draining, full, too many hand-overs waiting, not linked
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_handover_answer& x) {
  return f(caf::meta::type_name("call_handover_answer"), x.accepted, x.key, x.why);
}

/// The start parameter that carries the key.
inline constexpr std::string_view handover_key_parameter = "handover";
/// The end reason of a part that went on on another node.
inline constexpr std::string_view handed_over_end_reason = "handed over";

struct call_view;  // actors/call_directory.hpp (which includes this header through interfaces)

/// The end reason of a call handed to a peer whose new stream never reached it.
inline constexpr std::string_view handover_unclaimed_end_reason =
    "ended during the hand-over: its stream never reached the next node (the caller hung up, "
    "or Twilio could not connect)";

/// How the peer a call was handed to records it when its stream never came (handover_book::
/// take_expired): ended at `now`, as the call's next part, so that the cluster's view of the
/// call ends with this rather than with the earlier part's "handed over".
call_view unclaimed_handover_view(const call_handover_state& state,
                                  std::chrono::system_clock::time_point now);

/// Rebuilds a conversation from its items (the peer's model session replays it).
conversation restored_conversation(const std::vector<conversation_entry>& entries,
                                   std::uint64_t items_dropped);
std::vector<conversation_entry> conversation_entries(const conversation& talk);

/// Calls handed over to this node whose stream has not started yet. Thread-safe: the node
/// actor puts, a call's supervisor takes.
class handover_book {
 public:
  using clock = std::chrono::steady_clock;
  struct limits {
    std::size_t max_waiting = 256;  // a drain hands over at most a node's calls
    // Twilio opens the new stream within a second or two of the update.
    clock::duration hold = std::chrono::seconds(60);
  };
  handover_book() : handover_book(limits{}) {}
  explicit handover_book(limits bounds) : limits_(bounds) {}

  /// Keeps `state` under a new random key; nullopt when the book is full.
  std::optional<std::string> put(call_handover_state state, clock::time_point now);
  /// The state kept under `key` for `call_sid`, once; nullopt when unknown, taken, expired or
  /// for another call.
  std::optional<call_handover_state> take(const std::string& key, std::string_view call_sid,
                                          clock::time_point now);
  /// The calls whose stream did not come within `hold` (the caller hung up during the
  /// hand-over, or Twilio could not reach this node), each once, so that the node records how
  /// they ended: otherwise the cluster would only know them as "handed over". At most
  /// `max_waiting` of them are kept until asked for.
  std::vector<call_handover_state> take_expired(clock::time_point now);
  std::size_t waiting() const;
  clock::duration hold() const { return limits_.hold; }

 private:
  struct entry {
    call_handover_state state;
    clock::time_point expires;
  };
  void forget_expired(clock::time_point now);

  limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, entry, std::less<>> waiting_;  // guarded by mutex_
  std::deque<call_handover_state> expired_;            // guarded by mutex_; oldest first
};

}  // namespace switchboard::actors
