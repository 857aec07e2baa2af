#include "actors/call_handover.hpp"

#include "actors/call_directory.hpp"

#include <openssl/rand.h>

#include <array>
#include <iterator>

namespace switchboard::actors {

namespace {

std::string random_key() {
  // 128 bits: guessing a key while it waits is hopeless, and a stream needs its call token too.
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string key;
  key.reserve(bytes.size() * 2);
  for (const auto byte : bytes) {
    key.push_back(hex[byte >> 4]);
    key.push_back(hex[byte & 0xf]);
  }
  return key;
}

}  // namespace

conversation_entry to_entry(const conversation::item& item) {
  return {static_cast<std::uint8_t>(item.what),
          item.item_id,
          item.text,
          item.name,
          item.call_id,
          item.audio_ms,
          item.heard_ms.has_value(),
          item.heard_ms.value_or(0),
          item.text_final};
}

std::optional<conversation::item> to_item(const conversation_entry& entry) {
  if (entry.what > static_cast<std::uint8_t>(conversation::kind::say_request))
    return std::nullopt;
  conversation::item item;
  item.what = static_cast<conversation::kind>(entry.what);
  item.item_id = entry.item_id;
  item.text = entry.text;
  item.name = entry.name;
  item.call_id = entry.call_id;
  item.audio_ms = entry.audio_ms;
  if (entry.cut)
    item.heard_ms = entry.heard_ms;
  item.text_final = entry.text_final;
  return item;
}

std::vector<conversation_entry> conversation_entries(const conversation& talk) {
  std::vector<conversation_entry> entries;
  entries.reserve(talk.items().size());
  for (const auto& item : talk.items())
    entries.push_back(to_entry(item));
  return entries;
}

conversation restored_conversation(const std::vector<conversation_entry>& entries,
                                   std::uint64_t items_dropped) {
  std::vector<conversation::item> items;
  items.reserve(entries.size());
  for (const auto& entry : entries) {
    if (auto item = to_item(entry)) {
      items.push_back(std::move(*item));
    } else {
      ++items_dropped;  // the replay's note says items are missing
    }
  }
  conversation talk;
  talk.restore(std::move(items), items_dropped);
  return talk;
}

std::optional<std::string> handover_book::put(call_handover_state state, clock::time_point now) {
  std::lock_guard lock(mutex_);
  forget_expired(now);
  if (waiting_.size() >= limits_.max_waiting)
    return std::nullopt;
  auto key = random_key();
  if (key.empty() || waiting_.contains(key))
    return std::nullopt;
  waiting_.emplace(key, entry{std::move(state), now + limits_.hold});
  return key;
}

std::optional<call_handover_state> handover_book::take(const std::string& key,
                                                       std::string_view call_sid,
                                                       clock::time_point now) {
  std::lock_guard lock(mutex_);
  forget_expired(now);
  const auto found = waiting_.find(key);
  if (found == waiting_.end() || found->second.state.identity.call_sid != call_sid)
    return std::nullopt;
  auto state = std::move(found->second.state);
  waiting_.erase(found);
  return state;
}

std::size_t handover_book::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

call_view unclaimed_handover_view(const call_handover_state& state,
                                  std::chrono::system_clock::time_point now) {
  call_view view;
  view.identity = state.identity;
  view.direction = state.identity.dial_id.empty() ? "inbound" : "outbound";
  view.state = call_state::ended;
  view.started_at =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(state.started_at_ms));
  view.ended_at = now;
  view.barge_ins = state.barge_ins;
  view.transcript = state.transcript;
  view.end_reason = std::string(handover_unclaimed_end_reason);
  const auto handed_part = state.parts.empty() ? 1 : state.parts.back().number;
  view.revision = part_revision_base(handed_part + 1);
  return view;
}

std::vector<call_handover_state> handover_book::take_expired(clock::time_point now) {
  std::lock_guard lock(mutex_);
  forget_expired(now);
  std::vector<call_handover_state> expired(std::make_move_iterator(expired_.begin()),
                                           std::make_move_iterator(expired_.end()));
  expired_.clear();
  return expired;
}

void handover_book::forget_expired(clock::time_point now) {
  for (auto waiting = waiting_.begin(); waiting != waiting_.end();) {
    if (waiting->second.expires > now) {
      ++waiting;
      continue;
    }
    expired_.push_back(std::move(waiting->second.state));
    if (expired_.size() > limits_.max_waiting)
      expired_.pop_front();
    waiting = waiting_.erase(waiting);
  }
}

}  // namespace switchboard::actors
