#pragma once
// What a finished call leaves next to its recordings (pure logic: builds the text; the
// supervisor's finaliser writes the files):
//   call.json         one JSON object: ids, parties, times, counts, token usage, file names
//   transcript.jsonl  one JSON object per line: {"speaker","text","offset_ms","item_id"}

#include "actors/bridge_environment.hpp"
#include "actors/call_handover.hpp"
#include "actors/messages.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace switchboard::actors {

struct call_record {
  call_identity identity;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point ended_at;
  std::string end_reason;
  /// Twilio's status of an outbound call when call.json is written ("in-progress", ...);
  /// nullopt for an inbound call. A later status callback rewrites it (call_status_book).
  std::optional<std::string> twilio_status;
  call_stream_ended stream;  // counts from the Twilio side
  std::uint64_t barge_ins = 0;
  std::uint64_t truncations = 0;
  std::uint64_t late_deltas_dropped = 0;
  std::uint64_t model_reconnects = 0;
  std::uint64_t model_errors = 0;
  bool model_unavailable = false;  // the model could not be reached: the bridge ended the call
  std::uint64_t responses = 0;
  token_usage usage;
  playout_totals playout;
  std::vector<transcript_entry> transcript;
  std::vector<recording_summary> recordings;
  std::vector<std::string> files;  // every file written, relative to the call directory
  std::vector<std::string> problems;
  /// A call handed over between nodes at a drain (actors/call_handover.hpp): every part so far,
  /// this one last (its end reason is end_reason); empty for a call that ran on one node.
  std::vector<call_part> parts;
  /// Where this part starts on the call's timeline: its recordings and transcript offsets are
  /// shifted by it (0 for the first part).
  std::uint64_t part_offset_ms = 0;
  /// How long the caller was without the call before this part began (0 for the first part).
  std::uint64_t part_gap_ms = 0;
};

/// The number of the call's part this record is of: 1 unless the call was handed over or went
/// on after a lost stream (parts lists it last).
inline std::uint32_t part_number(const call_record& record) {
  return record.parts.empty() ? 1 : record.parts.back().number;
}

std::string call_json(const call_record& record);
std::string transcript_jsonl(const std::vector<transcript_entry>& transcript);
/// "2026-11-23T21:11:27.123Z"
std::string iso8601_utc(std::chrono::system_clock::time_point when);
/// "2026-11-23": the per-day directory of recordings.
std::string utc_date(std::chrono::system_clock::time_point when);

}  // namespace switchboard::actors
