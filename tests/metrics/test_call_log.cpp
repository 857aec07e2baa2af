#include "metrics/call_log.hpp"

#include <catch2/catch.hpp>

using namespace switchboard::metrics;

TEST_CASE("call log prefix: both ids, the call alone, or nothing before `start`") {
  CHECK(call_log_prefix({"CA1", "MZ2"}) == "[call CA1 stream MZ2] ");
  CHECK(call_log_prefix({"CA1", ""}) == "[call CA1] ");
  CHECK(call_log_prefix({"", ""}).empty());
  CHECK(call_log_prefix({"", "MZ2"}) == "[call ? stream MZ2] ");
}

TEST_CASE("the JSON format lifts the ids out of a call line, and leaves other lines whole") {
  auto fields = split_call_prefix("[call CA1 stream MZ2] Twilio stream started");
  CHECK(fields.call_sid == "CA1");
  CHECK(fields.stream_sid == "MZ2");
  CHECK(fields.message == "Twilio stream started");

  fields = split_call_prefix("[call CA1] model error x: y");
  CHECK(fields.call_sid == "CA1");
  CHECK(fields.stream_sid.empty());
  CHECK(fields.message == "model error x: y");

  fields = split_call_prefix("[call ? stream MZ2] early");
  CHECK(fields.call_sid.empty());
  CHECK(fields.stream_sid == "MZ2");

  for (const auto* line : {"listening on 0.0.0.0:5050", "[call CA1 no closing bracket",
                           "[call a b c] not our prefix", "[called it] no", ""}) {
    INFO(line);
    fields = split_call_prefix(line);
    CHECK(fields.call_sid.empty());
    CHECK(fields.stream_sid.empty());
    CHECK(fields.message == line);
  }
  // Round trip with the prefix the actors write.
  const std::string line = call_log_prefix({"CAabc", "MZdef"}) + "call ended";
  fields = split_call_prefix(line);
  CHECK(fields.call_sid == "CAabc");
  CHECK(fields.stream_sid == "MZdef");
  CHECK(fields.message == "call ended");
}
