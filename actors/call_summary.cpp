#include "actors/call_summary.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <ctime>

namespace switchboard::actors {

namespace {

std::tm to_utc(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return utc;
}

}  // namespace

std::string iso8601_utc(std::chrono::system_clock::time_point when) {
  const auto utc = to_utc(when);
  std::array<char, 32> text{};
  const auto length = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &utc);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count() % 1000;
  std::array<char, 8> fraction{};
  std::snprintf(fraction.data(), fraction.size(), ".%03dZ", static_cast<int>(millis));
  return std::string(text.data(), length) + fraction.data();
}

std::string utc_date(std::chrono::system_clock::time_point when) {
  const auto utc = to_utc(when);
  std::array<char, 16> text{};
  const auto length = std::strftime(text.data(), text.size(), "%Y-%m-%d", &utc);
  return std::string(text.data(), length);
}

std::string call_json(const call_record& record) {
  namespace json = boost::json;
  const auto duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(record.ended_at - record.started_at)
          .count();
  json::object recordings;
  for (const auto& recording : record.recordings) {
    json::object track{{"samples", recording.samples},
                       {"duration_ms", recording.samples / 8},
                       {"silence_samples", recording.silence_samples}};
    track["error"] = recording.error.empty() ? json::value(nullptr) : json::value(recording.error);
    recordings[recording.track] = std::move(track);
  }
  json::array transcript_files;
  json::array files;
  for (const auto& file : record.files)
    files.emplace_back(file);
  json::array problems;
  for (const auto& problem : record.problems)
    problems.emplace_back(problem);
  json::object summary{
      {"call_sid", record.identity.call_sid},
      {"stream_sid", record.identity.stream_sid},
      {"account_sid", record.identity.account_sid},
      {"from", record.identity.from},
      {"to", record.identity.to},
      {"started_at", iso8601_utc(record.started_at)},
      {"ended_at", iso8601_utc(record.ended_at)},
      {"duration_ms", duration_ms},
      {"end_reason", record.end_reason},
      {"frames", json::object{{"from_twilio", record.stream.frames_in},
                              {"to_twilio", record.stream.frames_out},
                              {"malformed", record.stream.malformed_frames},
                              {"marks_echoed", record.stream.marks_echoed}}},
      {"barge_ins", record.barge_ins},
      {"truncations", record.truncations},
      {"late_deltas_dropped", record.late_deltas_dropped},
      {"model", json::object{{"responses", record.responses},
                             {"reconnects", record.model_reconnects},
                             {"errors", record.model_errors}}},
      {"usage", json::object{{"input_tokens", record.usage.input_tokens},
                             {"output_tokens", record.usage.output_tokens},
                             {"input_audio_tokens", record.usage.input_audio_tokens},
                             {"output_audio_tokens", record.usage.output_audio_tokens},
                             {"cached_tokens", record.usage.cached_tokens}}},
      {"playout", json::object{{"ticks", record.playout.ticks},
                               {"agent_ms", record.playout.agent_bytes_played / 8},
                               {"silence_ticks", record.playout.silence_ticks},
                               {"marks_cleared", record.playout.marks_cleared}}},
      {"recordings", std::move(recordings)},
      {"files", std::move(files)},
      {"problems", std::move(problems)},
  };
  if (record.twilio_status)
    summary["twilio_status"] = *record.twilio_status;
  if (!record.parts.empty()) {
    // One call, recorded in parts by the nodes it ran on: which node has which part.
    json::array parts;
    for (std::size_t i = 0; i < record.parts.size(); ++i) {
      const auto& part = record.parts[i];
      const bool this_part = i + 1 == record.parts.size();
      json::object entry{{"part", part.number},
                         {"node", part.node},
                         {"end_reason", this_part ? record.end_reason : part.end_reason}};
      // The gap before this part: earlier parts' gaps are in their own call.json.
      if (this_part)
        entry["gap_ms"] = record.part_gap_ms;
      parts.push_back(std::move(entry));
    }
    summary["part"] = record.parts.back().number;
    summary["part_offset_ms"] = record.part_offset_ms;
    summary["parts"] = std::move(parts);
  }
  return json::serialize(summary) + "\n";
}

std::string transcript_jsonl(const std::vector<transcript_entry>& transcript) {
  auto ordered = transcript;
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.offset_ms < b.offset_ms; });
  std::string out;
  for (const auto& entry : ordered) {
    boost::json::object line{{"speaker", entry.speaker},
                             {"text", entry.text},
                             {"offset_ms", entry.offset_ms},
                             {"item_id", entry.item_id}};
    // The agent's words the caller did not hear (a barge-in cut them off).
    if (!entry.unheard.empty())
      line["unheard"] = entry.unheard;
    out += boost::json::serialize(line);
    out += "\n";
  }
  return out;
}

}  // namespace switchboard::actors
