#include "actors/conversation.hpp"

#include "net/realtime_messages.hpp"

#include <algorithm>
#include <utility>

namespace switchboard::actors {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

/// The longest prefix of `text` of at most `bytes` that ends on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes)
    return text;
  std::size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U)
    --end;
  return text.substr(0, end);
}

}  // namespace

heard_split split_heard(std::string_view text, std::uint64_t audio_ms, std::uint64_t heard_ms) {
  if (audio_ms == 0 || heard_ms >= audio_ms)
    return {std::string(trim(text)), {}};
  auto cut =
      static_cast<std::size_t>(static_cast<double>(text.size()) * static_cast<double>(heard_ms) /
                               static_cast<double>(audio_ms));
  cut = std::min(cut, text.size());
  // Back to the start of the word the cut falls in: a word half heard is not heard.
  while (cut > 0 && cut < text.size() && !is_space(text[cut]) && !is_space(text[cut - 1]))
    --cut;
  return {std::string(trim(text.substr(0, cut))), std::string(trim(text.substr(cut)))};
}

conversation::conversation(conversation_limits limits) : limits_(limits) {}

std::string conversation::keypad_text(std::string_view digits) {
  return "[The caller pressed these keys on their phone: " + std::string(digits) + "]";
}

conversation::item* conversation::find(kind what, std::string_view item_id) {
  // The newest first: a turn's events come while it is among the last few.
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (it->what == what && it->item_id == item_id)
      return &*it;
  }
  return nullptr;
}

const conversation::item* conversation::find(kind what, std::string_view item_id) const {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (it->what == what && it->item_id == item_id)
      return &*it;
  }
  return nullptr;
}

std::size_t conversation::replayed_bytes(const item& entry) const {
  return entry.text.size() + entry.name.size();
}

void conversation::set_text(item& entry, std::string_view text) {
  text_bytes_ -= replayed_bytes(entry);
  entry.text.assign(utf8_prefix(text, limits_.max_item_bytes));
  text_bytes_ += replayed_bytes(entry);
  enforce_bounds();
}

void conversation::add(item entry) {
  entry.text.assign(utf8_prefix(entry.text, limits_.max_item_bytes));
  entry.name.assign(utf8_prefix(entry.name, limits_.max_item_bytes));
  text_bytes_ += replayed_bytes(entry);
  items_.push_back(std::move(entry));
  enforce_bounds();
}

void conversation::restore(std::vector<item> earlier, std::uint64_t dropped) {
  items_dropped_ += dropped;
  for (auto& entry : earlier)
    add(std::move(entry));
}

void conversation::enforce_bounds() {
  // Never the newest item: it is the one being added or written.
  while (items_.size() > 1 &&
         (items_.size() > limits_.max_items || text_bytes_ > limits_.max_text_bytes)) {
    text_bytes_ -= replayed_bytes(items_.front());
    items_.pop_front();
    ++items_dropped_;
    // An output whose call is gone would be refused: it goes with it.
    while (items_.size() > 1 && items_.front().what == kind::function_output) {
      text_bytes_ -= replayed_bytes(items_.front());
      items_.pop_front();
      ++items_dropped_;
    }
  }
}

conversation::item& conversation::agent(std::string_view item_id) {
  if (auto* found = find(kind::agent_turn, item_id))
    return *found;
  add(item{kind::agent_turn, std::string(item_id)});
  return items_.back();
}

void conversation::caller_started(std::string_view item_id) {
  if (item_id.empty() || find(kind::caller_turn, item_id) != nullptr)
    return;
  add(item{kind::caller_turn, std::string(item_id)});
}

void conversation::caller_said(std::string_view item_id, std::string_view transcript) {
  if (auto* found = find(kind::caller_turn, item_id))
    return set_text(*found, transcript);
  add(item{kind::caller_turn, std::string(item_id), std::string(transcript)});
}

void conversation::agent_audio(std::string_view item_id, std::uint64_t ms) {
  agent(item_id).audio_ms += ms;
}

void conversation::agent_text_delta(std::string_view item_id, std::string_view delta) {
  auto& entry = agent(item_id);
  if (entry.text_final)
    return;
  std::string text = entry.text;
  text += delta;
  set_text(entry, text);
}

void conversation::agent_said(std::string_view item_id, std::string_view transcript) {
  auto& entry = agent(item_id);
  entry.text_final = true;
  set_text(entry, transcript);
}

void conversation::agent_cut(std::string_view item_id, std::uint64_t heard_ms) {
  auto& entry = agent(item_id);
  entry.heard_ms = entry.heard_ms ? std::min(*entry.heard_ms, heard_ms) : heard_ms;
}

void conversation::function_called(std::string_view call_id, std::string_view name,
                                   std::string_view arguments) {
  item entry{kind::function_call, {}, std::string(arguments)};
  entry.name = name;
  entry.call_id = call_id;
  add(std::move(entry));
}

void conversation::function_answered(std::string_view call_id, std::string_view output) {
  item entry{kind::function_output, {}, std::string(output)};
  entry.call_id = call_id;
  add(std::move(entry));
}

void conversation::keypad_entry(std::string_view digits) {
  add(item{kind::keypad_entry, {}, std::string(digits)});
}

void conversation::say_requested(std::string_view text) {
  add(item{kind::say_request, {}, std::string(text)});
}

const conversation::item* conversation::agent_item(std::string_view item_id) const {
  return find(kind::agent_turn, item_id);
}

std::optional<heard_split> conversation::agent_heard(std::string_view item_id) const {
  const auto* entry = find(kind::agent_turn, item_id);
  if (entry == nullptr)
    return std::nullopt;
  if (!entry->heard_ms)
    return heard_split{std::string(trim(entry->text)), {}};
  return split_heard(entry->text, entry->audio_ms, *entry->heard_ms);
}

std::vector<std::string> conversation::replay_events() const {
  std::vector<std::string> events;
  events.reserve(items_.size() + 1);
  std::string out;
  const auto emit = [&] {
    events.push_back(std::exchange(out, {}));
  };
  if (items_dropped_ > 0) {
    net::append_realtime_system_text(out, "[This call began earlier; its oldest " +
                                              std::to_string(items_dropped_) +
                                              " conversation items are not shown.]");
    emit();
  }
  for (const auto& entry : items_) {
    switch (entry.what) {
      case kind::caller_turn:
        if (trim(entry.text).empty())
          break;  // never transcribed: nothing to tell
        net::append_realtime_user_text(out, entry.text);
        emit();
        break;
      case kind::agent_turn: {
        const auto heard = entry.heard_ms ? split_heard(entry.text, entry.audio_ms, *entry.heard_ms)
                                          : heard_split{std::string(trim(entry.text)), {}};
        if (heard.heard.empty())
          break;  // the caller heard none of it
        net::append_realtime_assistant_text(out, heard.heard);
        emit();
        break;
      }
      case kind::function_call:
        net::append_realtime_function_call_item(out, entry.call_id, entry.name, entry.text);
        emit();
        break;
      case kind::function_output:
        net::append_realtime_function_output(out, entry.call_id, entry.text);
        emit();
        break;
      case kind::keypad_entry:
        net::append_realtime_user_text(out, keypad_text(entry.text));
        emit();
        break;
      case kind::say_request:
        net::append_realtime_system_text(
            out, "[The agent was asked to say to the caller: \"" + entry.text + "\"]");
        emit();
        break;
    }
  }
  return events;
}

}  // namespace switchboard::actors
