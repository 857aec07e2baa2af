// Prints, one per line, every kind of Realtime client event the bridge writes: the session
// configuration and its probe, caller audio, the barge-in pair, responses, tool results, and
// the replay of a conversation holding every kind of item (a barge-in cut, a function call and
// its output, keypad digits, a say request, the note that old items were left out). The node
// test beside it type-checks each against the openai package's RealtimeClientEvent.
#include "actors/conversation.hpp"
#include "actors/model_link_watch.hpp"
#include "config/tools_file.hpp"
#include "net/realtime_messages.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace switchboard;

namespace {

void print(const std::string& event) {
  std::fwrite(event.data(), 1, event.size(), stdout);
  std::fputc('\n', stdout);
}

template <class Write>
void print_one(Write write) {
  std::string out;
  write(out);
  print(out);
}

}  // namespace

int main() {
  net::realtime_session_config session;
  session.instructions = "You are the receptionist of a small restaurant.";
  session.voice = "marin";
  session.transcription = net::realtime_transcription{"whisper-1", "en"};
  for (auto& tool : config::builtin_tools(true))
    session.tools.push_back({tool.name, tool.description, std::move(tool.parameters)});
  print_one([&](std::string& out) { net::append_realtime_session_update(out, session); });
  session.turn_detection = net::realtime_semantic_vad{};
  print_one([&](std::string& out) { net::append_realtime_session_update(out, session); });
  print(std::string(actors::model_probe_event));
  print_one([](std::string& out) { net::append_realtime_audio_append(out, "//8A/w=="); });
  print_one([](std::string& out) { net::append_realtime_truncate(out, "item_a1", 1900); });
  print_one([](std::string& out) { net::append_realtime_response_cancel(out); });
  print_one([](std::string& out) { net::append_realtime_response_create(out); });
  print_one([](std::string& out) {
    net::append_realtime_response_create(out, "Say exactly the following: \"Goodbye!\"");
  });
  print_one([](std::string& out) {
    net::append_realtime_function_output(out, "call_1", R"({"booked":true})");
  });
  print_one([](std::string& out) {
    net::append_realtime_user_text(out, actors::conversation::keypad_text("1234#"));
  });

  // A conversation with one of everything, bounded so that its oldest item is left out.
  actors::conversation talk({.max_items = 8, .max_text_bytes = 64 * 1024, .max_item_bytes = 8192});
  talk.keypad_entry("0");  // left out: the replay starts with a system note
  talk.caller_started("item_c1");
  talk.caller_said("item_c1", "I'd like a table for two tonight.");
  talk.agent_audio("item_a1", 4000);
  talk.agent_said("item_a1", "Your table for two is booked at eight pm");
  talk.agent_cut("item_a1", 1900);
  talk.function_called("call_1", "book_table", R"({"people":2,"time":"20:00"})");
  talk.function_answered("call_1", R"({"booked":true})");
  talk.keypad_entry("1234#");
  talk.say_requested("One moment, please.");
  talk.caller_started("item_c2");
  talk.caller_said("item_c2", "Thank you.");
  talk.agent_audio("item_a2", 1000);
  talk.agent_text_delta("item_a2", "You're welcome");
  for (const auto& event : talk.replay_events())
    print(event);
  return 0;
}
