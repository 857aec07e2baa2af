// frame_path_bench: what each step of a 20 ms frame's path costs on one core, without sockets or
// actors. A Twilio frame is 160 bytes of μ-law (base64: 216 characters), 50 a second per call
// and direction.
//
//   caller → model:  parse Twilio `media` → input_audio_buffer.append (base64 forwarded as is)
//                    recorder: base64 decode → WAV append (caller.wav)
//   model → caller:  parse response.output_audio.delta → base64 decode (playout clock)
//                    → Twilio `media` + `mark`; recorder: WAV append (agent.wav)
//   after the call:  mix caller.wav + agent.wav into stereo.wav and mono.wav
//
// Counters: items = frames (or samples for the μ-law codec), bytes = the bytes the step reads
// or writes (JSON text, base64 text, μ-law), streams_per_core = frames per second / 50, i.e.
// how many one-way 20 ms streams one core could carry doing only this step.
//
// Not a test: nothing asserts a timing. Each benchmark checks once that its input parses, so a
// figure never measures the error path.

#include "audio/mixer.hpp"
#include "audio/mulaw.hpp"
#include "audio/wav_format.hpp"
#include "audio/wav_writer.hpp"
#include "metrics/bridge_metrics.hpp"
#include "net/base64.hpp"
#include "net/realtime_messages.hpp"
#include "net/twilio_messages.hpp"

#include <array>
#include <benchmark/benchmark.h>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace {

using namespace switchboard;

constexpr std::size_t frame_bytes = 160;  // 20 ms of μ-law at 8 kHz: ms = bytes / 8
constexpr double frames_per_second = 50.0;
constexpr std::uint32_t sample_rate = 8000;

// Ids shaped like the real ones: Twilio's are a prefix + 32 hex digits, OpenAI's a prefix and
// about 21 base62 characters.
constexpr std::string_view stream_sid = "MZ3f9c1e0b7a5d4c2e8f6a1b3c5d7e9f01";
constexpr std::string_view event_id = "event_CGm5Pv3RUJqH8Dm1Kq5Nd";
constexpr std::string_view response_id = "resp_CGm5OwEGwB9x2mQTrW4Yv";
constexpr std::string_view item_id = "item_CGm5Ov1a3uP9tQdVx8nEk";
// The bridge names each mark <item id>@<bytes sent of that item> (actors/playout_timeline).
constexpr std::string_view mark_name = "item_CGm5Ov1a3uP9tQdVx8nEk@48000";

/// The temporary directory every file-writing benchmark works in; created and removed by main.
std::filesystem::path scratch_directory;

/// μ-law for `samples` samples of a voice-like tone (two partials and a slow swell), so that the
/// codes and their base64 spread over the alphabet the way speech does, not a run of 0xFF.
std::vector<std::uint8_t> voice_like_mulaw(std::size_t samples, double pitch_hz) {
  std::vector<std::uint8_t> codes(samples);
  for (std::size_t n = 0; n < samples; ++n) {
    const double t = static_cast<double>(n) / sample_rate;
    const double swell = 0.55 + 0.45 * std::sin(2.0 * std::numbers::pi * 3.0 * t);
    const double value = swell * (9000.0 * std::sin(2.0 * std::numbers::pi * pitch_hz * t) +
                                  3000.0 * std::sin(2.0 * std::numbers::pi * 3.1 * pitch_hz * t));
    codes[n] = audio::encode_mulaw(static_cast<std::int16_t>(std::lround(value)));
  }
  return codes;
}

const std::vector<std::uint8_t>& caller_frame() {
  static const auto frame = voice_like_mulaw(frame_bytes, 180.0);
  return frame;
}

const std::string& caller_frame_base64() {
  static const auto text = net::encode_base64(caller_frame());
  return text;
}

/// A mid-call `media` message as Twilio writes it: its field order, decimal strings for the
/// numbers (shared/reference/protocols.md §A2).
std::string twilio_media_text() {
  return R"({"event":"media","sequenceNumber":"1502","media":{"track":"inbound","chunk":"1500",)"
         R"("timestamp":"30012","payload":")" +
         caller_frame_base64() + R"("},"streamSid":")" + std::string(stream_sid) + R"("})";
}

/// One frame of the model's voice as the GA API sends it (§B5).
std::string realtime_delta_text() {
  return R"({"type":"response.output_audio.delta","event_id":")" + std::string(event_id) +
         R"(","response_id":")" + std::string(response_id) + R"(","item_id":")" +
         std::string(item_id) + R"(","output_index":0,"content_index":0,"delta":")" +
         caller_frame_base64() + R"("})";
}

void count_frames(benchmark::State& state, std::size_t bytes_per_frame) {
  const auto frames = state.iterations();
  state.SetItemsProcessed(frames);
  state.SetBytesProcessed(frames * static_cast<std::int64_t>(bytes_per_frame));
  state.counters["streams_per_core"] = benchmark::Counter(
      static_cast<double>(frames) / frames_per_second, benchmark::Counter::kIsRate);
}

/// A fresh path in the scratch directory (benchmarks run more than once to size their loops).
std::string scratch_path(std::string_view stem) {
  static unsigned next_number = 0;
  return (scratch_directory / (std::string(stem) + "-" + std::to_string(next_number++) + ".wav"))
      .string();
}

// ---- caller → model ---------------------------------------------------------------------------

void twilio_media_parse(benchmark::State& state) {
  const auto text = twilio_media_text();
  if (auto first = net::parse_twilio_message(text);
      !first || !std::holds_alternative<net::twilio_media>(*first)) {
    state.SkipWithError("the Twilio media text does not parse as media");
    return;
  }
  for (auto _ : state) {
    auto parsed = net::parse_twilio_message(text);
    benchmark::DoNotOptimize(parsed);
  }
  count_frames(state, text.size());
}
BENCHMARK(twilio_media_parse);

void realtime_append_serialise(benchmark::State& state) {
  // The bridge reuses one buffer per connection and forwards Twilio's base64 untouched.
  std::string outbound;
  const auto& payload = caller_frame_base64();
  for (auto _ : state) {
    outbound.clear();
    net::append_realtime_audio_append(outbound, payload);
    benchmark::DoNotOptimize(outbound.data());
    benchmark::ClobberMemory();
  }
  count_frames(state, outbound.size());
}
BENCHMARK(realtime_append_serialise);

// ---- model → caller ---------------------------------------------------------------------------

void realtime_delta_parse(benchmark::State& state) {
  const auto text = realtime_delta_text();
  if (auto first = net::parse_realtime_event(text);
      !first || !std::holds_alternative<net::realtime_audio_delta>(*first)) {
    state.SkipWithError("the delta text does not parse as response.output_audio.delta");
    return;
  }
  for (auto _ : state) {
    auto parsed = net::parse_realtime_event(text);
    benchmark::DoNotOptimize(parsed);
  }
  count_frames(state, text.size());
}
BENCHMARK(realtime_delta_parse);

void twilio_media_and_mark_serialise(benchmark::State& state) {
  // Two WebSocket messages per frame, each built in the connection's reused buffer.
  std::string outbound;
  const auto& payload = caller_frame_base64();
  std::size_t written = 0;
  for (auto _ : state) {
    outbound.clear();
    net::append_twilio_media(outbound, stream_sid, payload);
    benchmark::DoNotOptimize(outbound.data());
    benchmark::ClobberMemory();
    written = outbound.size();
    outbound.clear();
    net::append_twilio_mark(outbound, stream_sid, mark_name);
    benchmark::DoNotOptimize(outbound.data());
    benchmark::ClobberMemory();
  }
  count_frames(state, written + outbound.size());
}
BENCHMARK(twilio_media_and_mark_serialise);

// ---- base64 and μ-law -------------------------------------------------------------------------

void base64_decode_frame(benchmark::State& state) {
  // Into a reused buffer, as the playout clock and the recorder decode.
  std::vector<std::uint8_t> decoded;
  const auto& text = caller_frame_base64();
  if (auto first = net::append_decoded_base64(text, decoded); !first || *first != frame_bytes) {
    state.SkipWithError("the frame's base64 does not decode to 160 bytes");
    return;
  }
  for (auto _ : state) {
    decoded.clear();
    auto appended = net::append_decoded_base64(text, decoded);
    benchmark::DoNotOptimize(appended);
    benchmark::DoNotOptimize(decoded.data());
    benchmark::ClobberMemory();
  }
  count_frames(state, text.size());
}
BENCHMARK(base64_decode_frame);

void base64_encode_frame(benchmark::State& state) {
  std::string text;
  const auto& frame = caller_frame();
  for (auto _ : state) {
    text.clear();
    net::append_base64(text, frame);
    benchmark::DoNotOptimize(text.data());
    benchmark::ClobberMemory();
  }
  count_frames(state, frame.size());
}
BENCHMARK(base64_encode_frame);

void mulaw_decode_frame(benchmark::State& state) {
  const auto& codes = caller_frame();
  std::array<std::int16_t, frame_bytes> samples{};
  for (auto _ : state) {
    auto decoded = audio::decode_mulaw(codes, samples);
    benchmark::DoNotOptimize(decoded);
    benchmark::DoNotOptimize(samples.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
}
BENCHMARK(mulaw_decode_frame);

void mulaw_encode_frame(benchmark::State& state) {
  std::array<std::int16_t, frame_bytes> samples{};
  audio::decode_mulaw(caller_frame(), samples);
  std::array<std::uint8_t, frame_bytes> codes{};
  for (auto _ : state) {
    auto encoded = audio::encode_mulaw(samples, codes);
    benchmark::DoNotOptimize(encoded);
    benchmark::DoNotOptimize(codes.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame_bytes));
}
BENCHMARK(mulaw_encode_frame);

// ---- recording --------------------------------------------------------------------------------

void wav_append_frame(benchmark::State& state) {
  // A recording of ten minutes at most, then the next one: the loop can run millions of frames
  // and a file would otherwise grow without bound. The writer's own write() per 8 KiB and its
  // header checkpoint per second of audio are in the figure; close() (fdatasync, once a call)
  // is not.
  constexpr std::size_t frames_per_recording = 10 * 60 * 50;
  const auto& frame = caller_frame();
  std::string path = scratch_path("append");
  auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
  if (!writer) {
    state.SkipWithError(writer.error().message.c_str());
    return;
  }
  std::size_t frames_in_recording = 0;
  for (auto _ : state) {
    auto appended = writer->append(frame);
    if (!appended) {
      state.SkipWithError(appended.error().message.c_str());
      break;
    }
    if (++frames_in_recording == frames_per_recording) {
      state.PauseTiming();
      (void)writer->close();
      std::filesystem::remove(path);
      path = scratch_path("append");
      writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
      frames_in_recording = 0;
      state.ResumeTiming();
      if (!writer) {
        state.SkipWithError(writer.error().message.c_str());
        break;
      }
    }
  }
  if (writer)
    (void)writer->close();
  std::filesystem::remove(path);
  count_frames(state, frame.size());
}
BENCHMARK(wav_append_frame);

/// Writes a μ-law recording of `seconds` of voice-like audio at `pitch_hz`.
audio::wav_result<void> write_recording(const std::string& path, std::int64_t seconds,
                                        double pitch_hz) {
  auto writer = audio::wav_writer::create(path, audio::wav_format::mulaw_8k_mono());
  if (!writer)
    return writer.error();
  const auto one_second = voice_like_mulaw(sample_rate, pitch_hz);
  for (std::int64_t second = 0; second < seconds; ++second) {
    if (auto appended = writer->append(one_second); !appended)
      return appended.error();
  }
  return writer->close();
}

void mix_call(benchmark::State& state) {
  // Both tracks as long as the call, as the recorder leaves them. Bytes are μ-law bytes read
  // from the two inputs; realtime_factor is seconds of call mixed per second.
  const std::int64_t seconds = state.range(0);
  const auto caller_path = scratch_path("caller");
  const auto agent_path = scratch_path("agent");
  const auto out_dir = scratch_directory / ("mix-" + std::to_string(seconds));
  if (auto written = write_recording(caller_path, seconds, 180.0); !written) {
    state.SkipWithError(written.error().message.c_str());
    return;
  }
  if (auto written = write_recording(agent_path, seconds, 220.0); !written) {
    state.SkipWithError(written.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto report = audio::mix_tracks(caller_path, agent_path, out_dir.string());
    if (!report) {
      state.SkipWithError(report.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(report);
    // The mixer never overwrites: clear its outputs for the next round, off the clock.
    state.PauseTiming();
    std::filesystem::remove(report->stereo_path);
    std::filesystem::remove(report->mono_path);
    state.ResumeTiming();
  }
  std::filesystem::remove(caller_path);
  std::filesystem::remove(agent_path);
  const std::int64_t input_bytes = 2 * seconds * std::int64_t{sample_rate};
  state.SetBytesProcessed(state.iterations() * input_bytes);
  state.counters["realtime_factor"] = benchmark::Counter(
      static_cast<double>(state.iterations() * seconds), benchmark::Counter::kIsRate);
}
// Wall time: the mixer syncs both outputs before naming them, and that wait is its cost too.
BENCHMARK(mix_call)->Arg(60)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// What actors/instrumented.hpp adds to every message an actor handles (one counter, two
// histogram observations, two clock reads), with the handler itself left empty. Threads(2): the
// two CAF workers share each actor type's histograms, whose Observe takes a mutex.
void actor_message_instrumentation(benchmark::State& state) {
  static metrics::bridge_metrics node("bench");
  const auto& type = node.actor(metrics::actor_kind::twilio_socket);
  for (auto _ : state) {
    type.messages->Increment();
    type.mailbox_depth->Observe(0);
    const auto start = std::chrono::steady_clock::now();
    benchmark::ClobberMemory();
    type.handler_seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(actor_message_instrumentation)->Threads(1)->Threads(2);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 2;

  std::string pattern = "/tmp/frame_path_bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("frame_path_bench: mkdtemp under /tmp");
    return 1;
  }
  scratch_directory = pattern;

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  std::error_code ignored;
  std::filesystem::remove_all(scratch_directory, ignored);
  return 0;
}
