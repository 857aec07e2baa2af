#include "actors/call_file_retrier.hpp"

#include "metrics/call_log.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

namespace switchboard::actors {

namespace {

using self_pointer = call_file_retrier_actor::stateful_pointer<call_file_retrier_state>;
using clock = call_file_retries::clock;

void publish_size(self_pointer self) {
  if (self->state.metrics)
    self->state.metrics->call_files_pending().Set(static_cast<double>(self->state.queue->size()));
}

/// One retry_atom in flight at a time, for the earliest due batch.
void schedule(self_pointer self) {
  auto& state = self->state;
  const auto due = state.queue->next_due();
  if (!due || (state.wakeup && *state.wakeup <= *due))
    return;
  state.wakeup = *due;
  const auto delay = std::max(clock::duration::zero(), *due - self->clock().now());
  self->delayed_send(self, delay, retry_atom::value);
}

void log_reports(self_pointer self, const std::vector<call_file_retries::report>& reports) {
  auto& state = self->state;
  for (const auto& report : reports) {
    const metrics::call_ids ids{report.call_sid, report.stream_sid};
    for (const auto& name : report.result.written) {
      metrics::log_call(spdlog::level::info, ids, "{}/{} written after {} tries (the disk took it)",
                        report.directory, name, report.attempts);
      if (name == "call.json" && state.uploader) {
        // The call's directory is complete at last: its upload can begin.
        caf::anon_send(state.uploader, upload_call{report.call_sid, report.directory});
      }
      if (name == "call.json" && state.statuses) {
        const auto written_status = parse_twilio_call_status(report.twilio_status);
        if (auto rewrite = state.statuses->call_json_written(
                report.call_sid, std::filesystem::path(report.directory) / name, written_status);
            !rewrite.empty()) {
          metrics::log_call(spdlog::level::warn, ids, "{}", rewrite);
        }
      }
    }
    for (const auto& name : report.result.dropped) {
      metrics::log_call(spdlog::level::err, ids,
                        "{}/{} not written: a file of that name is already there", report.directory,
                        name);
    }
    if (!report.finished) {
      metrics::log_call(spdlog::level::warn, ids, "call files still waiting for the disk: {}",
                        report.result.error);
    } else if (state.metrics) {
      state.metrics->call_files_deferred(true).Increment();
    }
  }
}

}  // namespace

call_file_retrier_actor::behavior_type call_file_retrier(
    self_pointer self, call_file_retries::limits limits, call_file_retries::writer write,
    std::shared_ptr<call_status_book> statuses, std::shared_ptr<metrics::bridge_metrics> node,
    recording_uploader_actor uploader) {
  auto& state = self->state;
  state.uploader = std::move(uploader);
  state.queue.emplace(limits);
  state.write = std::move(write);
  state.statuses = std::move(statuses);
  state.metrics = std::move(node);
  return {
      [=](deferred_call_files& batch) {
        auto& st = self->state;
        const metrics::call_ids ids{batch.call_sid, batch.stream_sid};
        std::string names;
        for (const auto& file : batch.files)
          names += (names.empty() ? "" : ", ") + file.first;
        if (!st.queue->add(std::move(batch), self->clock().now())) {
          metrics::log_call(spdlog::level::err, ids,
                            "call files lost ({}): the queue of files waiting for the disk is full",
                            names);
          if (st.metrics)
            st.metrics->call_files_deferred(false).Increment();
          return;
        }
        metrics::log_call(spdlog::level::warn, ids, "{} will be written when the disk takes them",
                          names);
        publish_size(self);
        schedule(self);
      },
      [=](retry_atom) {
        auto& st = self->state;
        st.wakeup.reset();
        log_reports(self, st.queue->attempt_due(self->clock().now(), st.write));
        publish_size(self);
        schedule(self);
      },
      [=](flush_atom) -> std::uint64_t {
        auto& st = self->state;
        log_reports(self,
                    st.queue->attempt_due(self->clock().now(), st.write, /*everything=*/true));
        const auto lost = st.queue->take_all();
        for (const auto& batch : lost) {
          std::string names;
          for (const auto& file : batch.files)
            names += (names.empty() ? "" : ", ") + file.first;
          metrics::log_call(spdlog::level::err, {batch.call_sid, batch.stream_sid},
                            "call files lost at shutdown ({}): the disk still refuses them", names);
          if (st.metrics)
            st.metrics->call_files_deferred(false).Increment();
        }
        publish_size(self);
        return lost.size();
      },
  };
}

}  // namespace switchboard::actors
