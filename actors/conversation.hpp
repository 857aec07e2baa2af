#pragma once
// The call's conversation as plain data: what the model was given and what it said, in order,
// so that a fresh Realtime session (after the link dropped) can be told the call so far. A
// Realtime session's memory dies with its socket (shared/reference/protocols.md §B6: no resume
// API); this class is the call's, and outlives every session.
//
// It holds, oldest first:
//   - the caller's turns: their transcript (the model's input transcription; a turn that was
//     never transcribed is kept in order but has nothing to replay);
//   - the agent's turns as far as the caller heard them: the transcript the model generated,
//     cut where a barge-in stopped the playout (the position conversation.item.truncate told the
//     model), the unheard rest kept apart for the transcript;
//   - the model's function calls and their outputs, keypad entries, and `say` requests.
//
// Where the agent's words are cut: the model reports a transcript for the whole item and the
// caller heard `heard_ms` of its `audio_ms`; the cut is put at the same fraction of the text,
// moved back to the start of the word it falls in (a word half heard counts as unheard). Speech
// runs at a roughly even pace of characters, so this lands within a word or two of the truth.
//
// Bounded: at most `max_items` items and `max_text_bytes` of replayed text; past either the
// oldest items go first (a function call takes its output with it: an output with no call would
// be refused). The session's instructions are never part of it: they are the session's
// configuration and every session gets them whole. A replay that lost items starts with a
// system note saying so. One item's text is cut at `max_item_bytes`, so that one huge tool
// output cannot push out everything else.
//
// Replay is GA conversation.item.create events (§B4, §B7): caller turns and keypad entries as
// user input_text, agent turns as assistant output_text, say requests as a system input_text,
// function calls as function_call and function_call_output items.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::actors {

struct conversation_limits {
  std::size_t max_items = 500;
  /// Replayed text (the items' text, not the JSON around it): 64 KiB is about 16 k tokens,
  /// half of gpt-realtime's 32,768-token window (§B6), leaving room for the instructions and the
  /// audio of the turns to come.
  std::size_t max_text_bytes = 64 * 1024;
  std::size_t max_item_bytes = 8 * 1024;
};

/// What the caller heard of one agent turn, and the rest the model generated.
struct heard_split {
  std::string heard;
  std::string unheard;
  friend bool operator==(const heard_split&, const heard_split&) = default;
};

/// Cuts `text` at the fraction heard_ms / audio_ms, at a word start (see the header comment).
heard_split split_heard(std::string_view text, std::uint64_t audio_ms, std::uint64_t heard_ms);

class conversation {
 public:
  enum class kind : std::uint8_t {
    caller_turn,
    agent_turn,
    function_call,
    function_output,
    keypad_entry,
    say_request
  };

  struct item {
    kind what = kind::caller_turn;
    std::string item_id;  // turns: the model's item id, in the session that made it
    /// caller: transcript; agent: the words generated so far; keypad: the digits; say: the
    /// words; function_call: its arguments; function_output: the output.
    std::string text;
    std::string name;                       // function_call
    std::string call_id;                    // function_call, function_output
    std::uint64_t audio_ms = 0;             // agent: audio the model generated for it
    std::optional<std::uint64_t> heard_ms;  // agent: where a barge-in cut it
    bool text_final = false;                // agent: transcript.done came
  };

  explicit conversation(conversation_limits limits = {});

  /// The caller started a turn (speech_started): its place in the order, before the answer.
  void caller_started(std::string_view item_id);
  /// Its transcript (asynchronous: may come after the agent's answer began).
  void caller_said(std::string_view item_id, std::string_view transcript);
  /// The agent's audio for an item: `ms` more of it.
  void agent_audio(std::string_view item_id, std::uint64_t ms);
  void agent_text_delta(std::string_view item_id, std::string_view delta);
  /// transcript.done: the whole text of the item (replaces the deltas).
  void agent_said(std::string_view item_id, std::string_view transcript);
  /// A barge-in cut the item after `heard_ms` (the truncate's audio_end_ms).
  void agent_cut(std::string_view item_id, std::uint64_t heard_ms);
  void function_called(std::string_view call_id, std::string_view name, std::string_view arguments);
  void function_answered(std::string_view call_id, std::string_view output);
  void keypad_entry(std::string_view digits);
  void say_requested(std::string_view text);

  /// What the caller heard of an agent item (nullopt: no such item).
  std::optional<heard_split> agent_heard(std::string_view item_id) const;
  /// The agent's item, if it is known (for its text_final and audio).
  const item* agent_item(std::string_view item_id) const;

  /// Items of a conversation kept elsewhere (a call handed over from another node), appended in
  /// order under this conversation's bounds; `dropped` more were lost before they came.
  void restore(std::vector<item> earlier, std::uint64_t dropped);

  /// The client events that give a fresh session this conversation, oldest first.
  std::vector<std::string> replay_events() const;

  const std::deque<item>& items() const { return items_; }
  std::uint64_t items_dropped() const { return items_dropped_; }
  std::size_t text_bytes() const { return text_bytes_; }

  /// The wording of a keypad entry, the same live and in a replay.
  static std::string keypad_text(std::string_view digits);

 private:
  item* find(kind what, std::string_view item_id);
  const item* find(kind what, std::string_view item_id) const;
  item& agent(std::string_view item_id);
  void add(item entry);
  void set_text(item& entry, std::string_view text);
  void enforce_bounds();
  std::size_t replayed_bytes(const item& entry) const;

  conversation_limits limits_;
  std::deque<item> items_;
  std::size_t text_bytes_ = 0;  // sum of replayed_bytes over items_
  std::uint64_t items_dropped_ = 0;
};

}  // namespace switchboard::actors
