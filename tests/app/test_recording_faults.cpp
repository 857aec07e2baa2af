// Recordings under hostile timestamps and failing disks, through the whole server: a caller's
// timestamps cannot make a recording longer than the call, a disk that fills mid-call leaves
// every file whole or absent (never empty or torn) with the failure logged and counted, the
// bytes metric counts what reached the disk, and an unusable recordings directory is named in
// the log while the call goes on.
#include "audio/disk_fault.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "audio_test_support.hpp"
#include "bridge_harness.hpp"
#include "net/base64.hpp"
#include "net/twilio_messages.hpp"
#include "sim/speech_fixtures.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

using namespace switchboard;
using namespace switchboard::testing;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mulaw_header_bytes = 58;

/// The value of `name{...}` whose labels include `label` (or the unlabelled sample).
double metric(const std::string& scrape, const std::string& name, const std::string& label = {}) {
  std::istringstream lines(scrape);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name) || line.size() <= name.size())
      continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ')
      continue;
    if (!label.empty() && line.find(label) == std::string::npos)
      continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  FAIL("no sample " << name << " " << label);
  return 0;
}

/// Captures the server's log lines for one test and puts the previous logger back.
class captured_log {
 public:
  captured_log() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "switchboard", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~captured_log() { spdlog::set_default_logger(previous_); }
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;
  std::string text() const { return lines_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream lines_;
};

using audio::scoped_disk_fault;

actors::call_outcome only_outcome(bridge_harness& harness) {
  auto finished = harness.server().calls().wait_for_finished(1, 30s);
  REQUIRE(finished.size() == 1);
  return finished.front();
}

/// A `media` frame as a caller could send it: any timestamp, 20 ms of audio.
std::string media_frame(const std::string& stream_sid, std::uint64_t timestamp_ms) {
  net::twilio_media media;
  media.sequence_number = 9000;
  media.stream_sid = stream_sid;
  media.track = "inbound";
  media.chunk = 9000;
  media.timestamp_ms = timestamp_ms;
  const std::vector<std::uint8_t> audio(160, 0x55);
  net::append_base64(media.payload_base64, audio);
  std::string frame;
  net::append_twilio_message(frame, net::twilio_inbound{media});
  return frame;
}

}  // namespace

TEST_CASE("a caller frame stamped an hour ahead makes recordings of the call's length",
          "[recording_limits]") {
  bridge_harness harness;
  auto call = harness.call({
      sim::silence(1000ms),
      sim::send_raw(""),  // replaced below, once the stream id is known
      sim::silence(1000ms),
      sim::hangup(),
  });
  call.stream_sid = "MZ" + std::string(32, '7');
  call.script[1] = sim::send_raw(media_frame(call.stream_sid, 3'600'000));
  const auto result = harness.place(call);
  REQUIRE(result.ok());
  const auto outcome = only_outcome(harness);
  REQUIRE_FALSE(outcome.directory.empty());
  INFO("call lasted " << outcome.duration_ms << " ms");

  // The call lasted about 2 s; the clamp lets a frame run at most 1 s (the tolerance) ahead.
  const double longest_allowed_s = static_cast<double>(outcome.duration_ms) / 1000.0 + 1.1;
  for (const char* file : {"caller.wav", "agent.wav", "stereo.wav", "mono.wav"}) {
    INFO(file);
    const auto soxi = audio::test::run_soxi((outcome.directory / file).string());
    REQUIRE(soxi.has_value());
    CHECK(soxi->duration_s >= 1.9);
    CHECK(soxi->duration_s <= longest_allowed_s);
  }
  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(metric(scrape, "switchboard_caller_timestamp_clamps_total") == 1);
}

TEST_CASE("a disk that fills mid-call leaves every file whole or absent, each failure logged",
          "[recording_faults]") {
  // Growth allowed before ENOSPC: during the tracks, during the mixes, around the summary.
  const std::uint64_t budget = GENERATE(6000u, 20000u, 29200u, 40000u, 75000u, 95000u, 120000u);
  INFO("bytes the disk takes: " << budget);
  captured_log log;
  bridge_harness harness;
  actors::call_outcome outcome;
  // The disk stays full while the call's last files are written and while they are checked
  // below (the node's retries of what it refused fail meanwhile); then it has room again.
  std::optional<scoped_disk_fault> full;
  full.emplace(audio::disk_fault{.enospc_after_bytes = budget});
  {
    const auto result = harness.place(harness.call({
        sim::silence(200ms),
        sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
        sim::wait_for_agent_audio(300ms),
        sim::hangup(),
    }));
    REQUIRE(result.ok());  // the audio kept flowing
    CHECK(result.agent_bytes_played >= 300 * 8);
    outcome = only_outcome(harness);
  }
  REQUIRE_FALSE(outcome.directory.empty());
  const auto logged = log.text();
  INFO(logged);

  std::map<std::string, std::uintmax_t> sizes;
  for (const auto& entry : std::filesystem::directory_iterator(outcome.directory))
    sizes[entry.path().filename().string()] = entry.file_size();
  std::string listing;
  for (const auto& [name, size] : sizes)
    listing += name + " " + std::to_string(size) + "\n";
  INFO("files:\n" << listing);
  for (const auto& [name, size] : sizes) {
    INFO(name);
    CHECK(size > 0);                     // never an empty file
    CHECK_FALSE(name.starts_with("."));  // no temporary left behind
  }
  // call.json and transcript.jsonl: whole (they parse) or, while the disk is full, absent with
  // the reason logged naming the file, and waiting to be written when the disk has room.
  const auto call_json = outcome.directory / "call.json";
  const auto transcript = outcome.directory / "transcript.jsonl";
  const auto check_summaries = [&] {
    const auto summary = boost::json::parse(read_text(call_json)).as_object();
    CHECK(summary.at("call_sid").as_string() == outcome.call_sid);
    std::istringstream lines(read_text(transcript));
    for (std::string line; std::getline(lines, line);)
      CHECK(boost::json::parse(line).is_object());
  };
  const bool deferred = !sizes.contains("call.json");
  if (!deferred) {
    check_summaries();
  } else {
    const auto refused = sizes.contains("transcript.jsonl") ? call_json : transcript;
    CHECK(logged.find(refused.filename().string() + " refused by the disk: cannot write " +
                      refused.string() + ": No space left on device") != std::string::npos);
  }
  // The tracks open in sox and ffprobe, their headers count what is in them, and the bytes
  // metric is what reached the disk.
  double audio_on_disk = 0;
  for (const char* track : {"caller.wav", "agent.wav"}) {
    INFO(track);
    if (!sizes.contains(track))
      continue;
    const auto path = (outcome.directory / track).string();
    const auto soxi = audio::test::run_soxi(path);
    REQUIRE(soxi.has_value());
    const auto data_bytes = sizes[track] - mulaw_header_bytes;
    CHECK(soxi->samples == data_bytes - data_bytes % 2 + (data_bytes % 2));  // no pad needed
    CHECK(audio::test::run_ffprobe(path).has_value());
    audio_on_disk += static_cast<double>(data_bytes);
  }
  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(metric(scrape, "switchboard_recording_bytes_total", "track=\"caller\"") +
            metric(scrape, "switchboard_recording_bytes_total", "track=\"agent\"") ==
        audio_on_disk);
  // The first file the disk refused is counted (call.json, after it, waits with it).
  CHECK(metric(scrape, "switchboard_call_file_errors_total") >= (deferred ? 1 : 0));
  for (const char* mix : {"stereo.wav", "mono.wav"}) {
    if (sizes.contains(mix))
      CHECK(audio::test::run_soxi((outcome.directory / mix).string()).has_value());
  }
  CHECK(metric(scrape, "switchboard_call_files_pending") == (deferred ? 1 : 0));

  // The disk has room again: at the latest when the node stops (its last try), what waited is
  // written, whole.
  full.reset();
  harness.server().stop();
  REQUIRE(std::filesystem::exists(call_json));
  REQUIRE(std::filesystem::exists(transcript));
  check_summaries();
  if (deferred) {
    const auto later = log.text();
    CHECK(later.find("call.json will be written when the disk takes them") != std::string::npos);
    CHECK(later.find(outcome.directory.string() + "/call.json written after") != std::string::npos);
  }
}

TEST_CASE("an unusable recordings directory is named in the log and the call goes on",
          "[recording_faults]") {
  temporary_directory scratch;
  // A regular file where a directory should be: nothing can be created under it.
  const auto blocked = scratch.path() / "not-a-directory";
  std::ofstream(blocked) << "x";
  captured_log log;
  bridge_harness::options options;
  options.recordings_dir = blocked / "recordings";
  bridge_harness harness(options);
  const auto result = harness.place(harness.call({
      sim::silence(200ms),
      sim::speak(first(sim::speech_fixture::caller_request, 800ms)),
      sim::wait_for_agent_audio(300ms),
      sim::hangup(),
  }));
  REQUIRE(result.ok());
  CHECK(result.agent_bytes_played >= 300 * 8);
  const auto outcome = only_outcome(harness);
  const auto logged = log.text();
  INFO(logged);
  CHECK(logged.find("recordings off for this call: cannot create " +
                    (blocked / "recordings").string()) != std::string::npos);
  CHECK(logged.find("/nonexistent") == std::string::npos);  // no made-up path is tried
  for (const auto& problem : outcome.problems)
    CHECK(problem.find("/nonexistent") == std::string::npos);
  const auto scrape = harness.get(harness.server().port(), "/metrics").body;
  CHECK(metric(scrape, "switchboard_recording_errors_total", "track=\"caller\"") == 1);
  CHECK(metric(scrape, "switchboard_recording_errors_total", "track=\"agent\"") == 1);
}

TEST_CASE("SWITCHBOARD_FAULT_DISK fills the disk of a process, and a wrong value stops it",
          "[recording_faults][commands]") {
  const char* binary = std::getenv("SWITCHBOARD_BINARY");
  REQUIRE(binary != nullptr);
  using audio::test::run_command;
  using audio::test::shell_quote;

  const auto wrong =
      run_command("SWITCHBOARD_FAULT_DISK=fill:10 " + shell_quote(binary) + " settings 2>&1");
  CHECK(wrong.exit_status == 2);
  CHECK(wrong.output.find("SWITCHBOARD_FAULT_DISK") != std::string::npos);
  CHECK(wrong.output.find("fill") != std::string::npos);

  // Two tracks to mix, written by this process (no fault here).
  temporary_directory scratch;
  for (const char* track : {"caller.wav", "agent.wav"}) {
    auto writer = audio::wav_writer::create((scratch.path() / track).string(),
                                            audio::wav_format::mulaw_8k_mono());
    REQUIRE(writer.has_value());
    REQUIRE(writer->append(std::vector<std::uint8_t>(8000, 0x55)).has_value());
    REQUIRE(writer->close().has_value());
  }
  const auto out = scratch.path() / "mixed";
  const auto mix = shell_quote(binary) + " mix " +
                   shell_quote((scratch.path() / "caller.wav").string()) + " " +
                   shell_quote((scratch.path() / "agent.wav").string()) + " --out " +
                   shell_quote(out.string()) + " 2>&1";
  const auto full = run_command("SWITCHBOARD_FAULT_DISK=enospc-after:1000 " + mix);
  INFO(full.output);
  CHECK(full.exit_status == 1);
  CHECK(full.output.find("No space left on device") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out / "stereo.wav"));
  const auto fine = run_command(mix);
  INFO(fine.output);
  CHECK(fine.exit_status == 0);
  CHECK(std::filesystem::exists(out / "stereo.wav"));
}
