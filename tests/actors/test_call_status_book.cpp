// The book of outbound calls' Twilio statuses: the order rules (a status only moves forward,
// whatever order the callbacks come in), calls it never dialled, its bound, and call.json kept
// current — including the usual case where Twilio's `completed` arrives after the file exists.
#include "actor_test_fixture.hpp"
#include "actors/call_status_book.hpp"
#include "actors/call_summary.hpp"
#include "support/temporary_directory.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

using namespace switchboard::actors;
using switchboard::net::form_parameter;
using switchboard::testing::read_text;
using switchboard::testing::temporary_directory;
using namespace std::chrono_literals;

namespace {

using status = twilio_call_status;
const auto t0 = std::chrono::system_clock::time_point{} + 24h * 365 * 56;

status_callback callback(std::string call_sid, status to,
                         std::optional<std::uint64_t> sequence = {}) {
  status_callback out;
  out.call_sid = std::move(call_sid);
  out.status = to;
  out.from = "+15005550006";
  out.to = "+14155550100";
  out.sequence_number = sequence;
  return out;
}

boost::json::object read_json(const std::filesystem::path& path) {
  const auto text = read_text(path);
  INFO(text);
  boost::system::error_code ec;
  auto parsed = boost::json::parse(text, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(parsed.is_object());
  return parsed.as_object();
}

std::string twilio_status_in(const std::filesystem::path& path) {
  const auto summary = read_json(path);
  const auto* value = summary.if_contains("twilio_status");
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "<absent>";
}

/// A call.json as the supervisor writes it, with the status it read from the book.
std::filesystem::path write_call_json(const temporary_directory& dir,
                                      std::optional<status> twilio_status) {
  call_record record;
  record.identity.call_sid = "CA1";
  record.end_reason = "twilio stop";
  if (twilio_status)
    record.twilio_status = std::string(to_string(*twilio_status));
  return dir.write("call.json", call_json(record));
}

}  // namespace

TEST_CASE("call status: Twilio's names, initiated is queued, ranks", "[call_status]") {
  for (const auto known : {status::queued, status::ringing, status::in_progress, status::completed,
                           status::busy, status::no_answer, status::failed, status::canceled}) {
    INFO(to_string(known));
    CHECK(parse_twilio_call_status(to_string(known)) == known);
  }
  CHECK(to_string(status::in_progress) == "in-progress");
  CHECK(to_string(status::no_answer) == "no-answer");
  CHECK(parse_twilio_call_status("initiated") == status::queued);
  CHECK_FALSE(parse_twilio_call_status("answered"));  // an event name, not a status
  CHECK_FALSE(parse_twilio_call_status("Completed"));
  CHECK_FALSE(parse_twilio_call_status(""));

  CHECK(moves_forward(status::queued, status::ringing));
  CHECK(moves_forward(status::queued, status::busy));  // steps may be skipped
  CHECK(moves_forward(status::ringing, status::canceled));
  CHECK(moves_forward(status::in_progress, status::completed));
  CHECK_FALSE(moves_forward(status::ringing, status::ringing));
  CHECK_FALSE(moves_forward(status::in_progress, status::ringing));
  CHECK_FALSE(moves_forward(status::completed, status::canceled));  // final is final
  CHECK(is_final(status::failed));
  CHECK_FALSE(is_final(status::in_progress));
}

TEST_CASE("call status: a callback's form is read field by field", "[call_status]") {
  const std::vector<form_parameter> full{
      {"AccountSid", "AC1"},        {"CallSid", "CA9"},
      {"CallStatus", "completed"},  {"From", "+15005550006"},
      {"To", "+14155550100"},       {"SequenceNumber", "3"},
      {"CallDuration", "42"},       {"Timestamp", "Tue, 24 Nov 2026 02:30:00 +0000"},
      {"Direction", "outbound-api"}};
  const auto parsed = parse_status_callback(full);
  REQUIRE(parsed.has_value());
  CHECK(parsed->call_sid == "CA9");
  CHECK(parsed->status == status::completed);
  CHECK(parsed->from == "+15005550006");
  CHECK(parsed->to == "+14155550100");
  CHECK(parsed->sequence_number == 3u);
  CHECK(parsed->call_duration_s == 42u);
  CHECK(parsed->timestamp == "Tue, 24 Nov 2026 02:30:00 +0000");

  const auto minimal = parse_status_callback(
      std::vector<form_parameter>{{"CallSid", "CA9"}, {"CallStatus", "initiated"}});
  REQUIRE(minimal.has_value());
  CHECK(minimal->status == status::queued);
  CHECK_FALSE(minimal->sequence_number);
  CHECK_FALSE(minimal->call_duration_s);

  const auto error = [](std::vector<form_parameter> params) {
    const auto refused = parse_status_callback(params);
    REQUIRE_FALSE(refused.has_value());
    return refused.error();
  };
  CHECK(error({{"CallStatus", "ringing"}}) == "CallSid is missing");
  CHECK(error({{"CallSid", "CA9"}}) == "CallStatus is missing");
  CHECK(error({{"CallSid", "CA9"}, {"CallStatus", "ringin"}}).find("ringin") != std::string::npos);
  CHECK(error({{"CallSid", "CA9"}, {"CallStatus", "ringing"}, {"SequenceNumber", "-1"}})
            .find("SequenceNumber") != std::string::npos);
  CHECK(error({{"CallSid", "CA9"}, {"CallStatus", "completed"}, {"CallDuration", "4s"}})
            .find("CallDuration") != std::string::npos);
}

TEST_CASE("call status: a dialled call moves forward through its callbacks", "[call_status]") {
  call_status_book book;
  book.dialled("CA1", "+14155550100", "+15005550006", status::queued, t0);
  CHECK(book.apply(callback("CA1", status::queued, 0), t0 + 1s).outcome ==
        status_outcome::stale);  // initiated: already queued
  CHECK(book.apply(callback("CA1", status::ringing, 1), t0 + 2s).outcome ==
        status_outcome::accepted);
  CHECK(book.apply(callback("CA1", status::in_progress, 2), t0 + 5s).outcome ==
        status_outcome::accepted);
  REQUIRE(book.unfinished().size() == 1);
  auto done = callback("CA1", status::completed, 3);
  done.call_duration_s = 12;
  done.timestamp = "Tue, 24 Nov 2026 02:30:17 +0000";
  const auto applied = book.apply(done, t0 + 17s);
  CHECK(applied.outcome == status_outcome::accepted);
  CHECK(applied.status == status::completed);
  CHECK(applied.call_json_error.empty());

  const auto call = book.find("CA1");
  REQUIRE(call.has_value());
  CHECK(call->status == status::completed);
  CHECK(call->direction == "outbound");
  CHECK(call->to == "+14155550100");
  CHECK(call->from == "+15005550006");
  CHECK(call->dialled_at == t0);
  CHECK(call->call_duration_s == 12u);
  CHECK(call->sequence_number == 3u);
  CHECK(call->twilio_timestamp == "Tue, 24 Nov 2026 02:30:17 +0000");
  using arrival = std::pair<status, std::chrono::system_clock::time_point>;
  CHECK(call->arrivals == std::vector<arrival>{{status::queued, t0},
                                               {status::ringing, t0 + 2s},
                                               {status::in_progress, t0 + 5s},
                                               {status::completed, t0 + 17s}});
  CHECK(book.unfinished().empty());
  CHECK(book.status_of("CA1") == status::completed);
  CHECK_FALSE(book.status_of("CA2"));
}

TEST_CASE("call status: callbacks out of order never move a call back", "[call_status]") {
  call_status_book book;
  book.dialled("CA1", "+14155550100", "+15005550006", status::queued, t0);

  SECTION("completed first, then the earlier ones: all stale") {
    CHECK(book.apply(callback("CA1", status::completed, 3), t0 + 1s).outcome ==
          status_outcome::accepted);
    for (const auto late : {status::in_progress, status::ringing, status::queued}) {
      const auto applied = book.apply(callback("CA1", late, 0), t0 + 2s);
      CHECK(applied.outcome == status_outcome::stale);
      CHECK(applied.status == status::completed);
    }
    CHECK(book.find("CA1")->sequence_number == 3u);
  }
  SECTION("in-progress before ringing: ringing is stale") {
    CHECK(book.apply(callback("CA1", status::in_progress, 2), t0 + 1s).outcome ==
          status_outcome::accepted);
    CHECK(book.apply(callback("CA1", status::ringing, 1), t0 + 2s).outcome ==
          status_outcome::stale);
    CHECK(book.status_of("CA1") == status::in_progress);
  }
  SECTION("a final status after a final status is stale") {
    book.apply(callback("CA1", status::busy), t0 + 1s);
    const auto applied = book.apply(callback("CA1", status::canceled), t0 + 2s);
    CHECK(applied.outcome == status_outcome::stale);
    CHECK(book.status_of("CA1") == status::busy);
  }
  SECTION("a stale callback's duration and timestamp are not taken") {
    auto done = callback("CA1", status::completed);
    done.call_duration_s = 30;
    done.timestamp = "first";
    book.apply(done, t0 + 1s);
    done.call_duration_s = 99;
    done.timestamp = "second";
    CHECK(book.apply(done, t0 + 2s).outcome == status_outcome::stale);
    CHECK(book.find("CA1")->call_duration_s == 30u);
    CHECK(book.find("CA1")->twilio_timestamp == "first");
    CHECK(book.find("CA1")->arrivals.size() == 2);
  }
}

TEST_CASE("call status: a call not dialled here is recorded from its callbacks", "[call_status]") {
  call_status_book book;
  const auto applied = book.apply(callback("CA7", status::ringing, 1), t0);
  CHECK(applied.outcome == status_outcome::unknown_call_created);
  auto call = book.find("CA7");
  REQUIRE(call.has_value());
  CHECK(call->status == status::ringing);
  CHECK(call->to == "+14155550100");
  CHECK_FALSE(call->dialled_at);

  // Twilio's answer to the create request can come after its first callbacks: the status
  // stays where they took it, and the dial fills in the rest.
  book.dialled("CA7", "+14155550111", "+15005550006", status::queued, t0 + 1s);
  call = book.find("CA7");
  CHECK(call->status == status::ringing);
  CHECK(call->to == "+14155550111");
  CHECK(call->dialled_at == t0 + 1s);
  CHECK(book.size() == 1);
}

TEST_CASE("call status: the book is bounded, the oldest finished calls forgotten first",
          "[call_status]") {
  call_status_book book(3);
  book.dialled("CA1", "+1", "+2", status::queued, t0);
  book.dialled("CA2", "+1", "+2", status::queued, t0);
  book.dialled("CA3", "+1", "+2", status::queued, t0);
  book.apply(callback("CA2", status::completed), t0);
  book.dialled("CA4", "+1", "+2", status::queued, t0);  // CA2, finished, goes first
  CHECK(book.size() == 3);
  CHECK_FALSE(book.find("CA2"));
  CHECK(book.find("CA1"));
  book.apply(callback("CA5", status::ringing), t0);  // none finished: the oldest, CA1, goes
  CHECK(book.size() == 3);
  CHECK_FALSE(book.find("CA1"));
  std::vector<std::string> open;
  for (const auto& call : book.unfinished())
    open.push_back(call.call_sid);
  CHECK(open == std::vector<std::string>{"CA3", "CA4", "CA5"});

  call_status_book big;
  for (std::size_t i = 0; i <= call_status_book::default_capacity; ++i)
    big.dialled("CA" + std::to_string(i), "+1", "+2", status::queued, t0);
  CHECK(big.size() == call_status_book::default_capacity);
  CHECK_FALSE(big.find("CA0"));
}

TEST_CASE("call status: call.json carries the status it was written with, none for inbound",
          "[call_status]") {
  call_record record;
  record.identity.call_sid = "CA1";
  CHECK_FALSE(boost::json::parse(call_json(record)).as_object().contains("twilio_status"));
  record.twilio_status = "in-progress";
  CHECK(boost::json::parse(call_json(record)).as_object().at("twilio_status") == "in-progress");
}

TEST_CASE("call status: a later callback rewrites call.json, keeping everything else",
          "[call_status]") {
  temporary_directory dir;
  call_status_book book;
  book.dialled("CA1", "+14155550100", "+15005550006", status::queued, t0);
  book.apply(callback("CA1", status::in_progress, 2), t0 + 1s);

  // What finalize_call does: read the status, write the file, tell the book.
  const auto written = book.status_of("CA1");
  const auto path = write_call_json(dir, written);
  const auto before = read_text(path);
  CHECK(book.call_json_written("CA1", path, written).empty());
  CHECK(read_text(path) == before);  // nothing changed meanwhile: not rewritten
  CHECK(book.find("CA1")->call_json == path);

  CHECK(book.apply(callback("CA1", status::completed, 3), t0 + 9s).call_json_error.empty());
  const auto after = read_json(path);
  CHECK(after.at("twilio_status") == "completed");
  CHECK(after.at("call_sid") == "CA1");
  CHECK(after.at("end_reason") == "twilio stop");
  CHECK(after.size() == boost::json::parse(before).as_object().size());
  CHECK_FALSE(std::filesystem::exists(dir.path() / "call.json.tmp"));

  // A stale callback leaves the file alone.
  const auto completed_text = read_text(path);
  book.apply(callback("CA1", status::ringing, 1), t0 + 10s);
  CHECK(read_text(path) == completed_text);
}

TEST_CASE("call status: with a file thread a callback's rewrite waits for the disk not the caller",
          "[call_status][file_work]") {
  temporary_directory dir;
  auto disk = std::make_shared<testing::queued_file_work>();
  auto book = std::make_shared<call_status_book>(call_status_book::default_capacity, disk);
  book->dialled("CA1", "+14155550100", "+15005550006", status::queued, t0);
  book->apply(callback("CA1", status::in_progress, 2), t0 + 1s);
  const auto written = book->status_of("CA1");
  const auto path = write_call_json(dir, written);
  CHECK(book->call_json_written("CA1", path, written).empty());

  // The callback is taken at once (the status endpoint answers Twilio); the file follows when
  // the disk answers.
  CHECK(book->apply(callback("CA1", status::completed, 3), t0 + 9s).outcome ==
        status_outcome::accepted);
  CHECK(book->find("CA1")->status == status::completed);
  CHECK(twilio_status_in(path) == "in-progress");
  REQUIRE(disk->pending() == 1);
  disk->run_jobs();
  CHECK(twilio_status_in(path) == "completed");
}

TEST_CASE("call status: completed between reading the status and recording the file still lands",
          "[call_status]") {
  temporary_directory dir;
  call_status_book book;
  book.dialled("CA1", "+14155550100", "+15005550006", status::queued, t0);
  book.apply(callback("CA1", status::in_progress), t0);

  const auto written = book.status_of("CA1");  // the finaliser reads in-progress…
  // …the final callback arrives now: there is no file to rewrite yet…
  const auto applied = book.apply(callback("CA1", status::completed), t0 + 1s);
  CHECK(applied.outcome == status_outcome::accepted);
  CHECK(applied.call_json_error.empty());
  const auto path = write_call_json(dir, written);
  CHECK(twilio_status_in(path) == "in-progress");
  // …so recording the file brings it up to date.
  CHECK(book.call_json_written("CA1", path, written).empty());
  CHECK(twilio_status_in(path) == "completed");
}

TEST_CASE("call status: an inbound call's call.json is left alone", "[call_status]") {
  temporary_directory dir;
  call_status_book book;
  const auto written = book.status_of("CA1");
  CHECK_FALSE(written);
  const auto path = write_call_json(dir, written);
  const auto before = read_text(path);
  CHECK(book.call_json_written("CA1", path, written).empty());
  CHECK(book.size() == 0);  // not added: it is no outbound call
  CHECK(read_text(path) == before);
  CHECK(twilio_status_in(path) == "<absent>");
}

TEST_CASE("call status: a call.json that cannot be rewritten is reported", "[call_status]") {
  temporary_directory dir;
  call_status_book book;
  book.dialled("CA1", "+1", "+2", status::queued, t0);
  const auto broken = dir.write("call.json", "{\"call_sid\":");
  CHECK(book.call_json_written("CA1", broken, status::queued).empty());
  const auto applied = book.apply(callback("CA1", status::completed), t0);
  CHECK(applied.outcome == status_outcome::accepted);
  CHECK(applied.call_json_error.find("not a JSON object") != std::string::npos);
  CHECK(read_text(broken) == "{\"call_sid\":");  // left as it was

  std::filesystem::remove(broken);
  CHECK(rewrite_twilio_status(broken, status::completed).find("cannot read") != std::string::npos);
}

TEST_CASE("call status: a reader never sees a torn call.json while it is rewritten",
          "[call_status]") {
  temporary_directory dir;
  call_record record;
  record.identity.call_sid = "CA1";
  // Long enough that a write in place could be caught half done.
  record.problems.assign(200, std::string(100, 'x'));
  record.twilio_status = "queued";
  const auto path = dir.write("call.json", call_json(record));

  constexpr int rewrites = 300;
  std::atomic<bool> writing{true};
  std::string write_error;  // Catch's macros are for this thread only
  std::thread writer([&] {
    for (int i = 0; i < rewrites && write_error.empty(); ++i) {
      write_error =
          rewrite_twilio_status(path, i % 2 == 0 ? status::in_progress : status::completed);
    }
    writing = false;
  });
  int reads = 0;
  int torn = 0;
  while (writing || reads == 0) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(text.str(), ec);
    if (ec || !parsed.is_object() || parsed.as_object().at("problems").as_array().size() != 200)
      ++torn;
    ++reads;
  }
  writer.join();
  CHECK(write_error.empty());
  CHECK(torn == 0);
  CHECK(reads > 0);
  CHECK(twilio_status_in(path) == "completed");  // the last of the rewrites
  CHECK_FALSE(std::filesystem::exists(dir.path() / "call.json.tmp"));
}
