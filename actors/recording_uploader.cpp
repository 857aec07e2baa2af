#include "actors/recording_uploader.hpp"

#include "metrics/call_log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace switchboard::actors {

namespace {

using self_pointer = recording_uploader_actor::stateful_pointer<recording_uploader_state>;
using phase = call_upload::phase;
using step = call_upload_step::step;

constexpr std::string_view call_json_name = "call.json";

metrics::call_ids ids_of(const call_upload& call) {
  return {call.call_sid, {}};
}

recording_uploader_actor handle_of(self_pointer self) {
  return caf::actor_cast<recording_uploader_actor>(self);
}

/// Files not yet confirmed in the bucket: what switchboard_upload_queue shows and the drain
/// waits for.
std::size_t files_waiting(const recording_uploader_state& state) {
  std::size_t waiting = 0;
  for (const auto& [directory, call] : state.calls) {
    if (call.call_json_only || call.now == phase::planning) {
      waiting += 1;  // a call being listed counts: the drain must not miss it
      continue;
    }
    for (const auto& file : call.files) {
      if (!call.uploaded.contains(file.name) ||
          (file.name == call_json_name && call.now != phase::settling))
        ++waiting;
    }
  }
  return waiting;
}

void publish(self_pointer self) {
  if (self->state.config.metrics)
    self->state.config.metrics->upload_queue().Set(static_cast<double>(files_waiting(self->state)));
}

const upload_file* file_of(const call_upload& call, std::string_view name) {
  const auto found = std::find_if(call.files.begin(), call.files.end(),
                                  [&](const upload_file& file) { return file.name == name; });
  return found == call.files.end() ? nullptr : &*found;
}

/// Hands waiting files to the upload threads, at most `concurrency` in flight.
void dispatch(self_pointer self) {
  auto& state = self->state;
  while (state.in_flight < std::max(1U, state.config.concurrency) && !state.ready.empty()) {
    // Named copies rather than a structured binding: lambdas capture them (clang 14 cannot
    // capture a binding).
    const std::string directory = std::move(state.ready.front().first);
    const std::string name = std::move(state.ready.front().second);
    state.ready.pop_front();
    const auto call = state.calls.find(directory);
    if (call == state.calls.end())
      continue;  // given up meanwhile
    const auto* file = file_of(call->second, name);
    if (file == nullptr)
      continue;
    ++state.in_flight;
    net::s3_put_request request{file->key, std::filesystem::path(directory) / name,
                                file->content_type};
    // call.json goes up twice: under its date, then as the call's index (call_index_key).
    std::string index_key = name == call_json_name ? call->second.index_key : std::string{};
    state.config.workers->run([store = state.config.store, metrics = state.config.metrics,
                               request = std::move(request), index_key = std::move(index_key),
                               directory, name, uploader = handle_of(self)]() mutable {
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(request.file, ec);
      const auto started = std::chrono::steady_clock::now();
      auto result = store->put_file(request);
      if (result.outcome == net::s3_outcome::ok && !index_key.empty()) {
        request.key = std::move(index_key);
        result = store->put_file(request);
      }
      if (metrics) {
        metrics->upload_seconds().Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      caf::anon_send(uploader,
                     file_upload_done{directory, name, static_cast<std::uint8_t>(result.outcome),
                                      result.http_status, std::move(result.reason),
                                      ec ? 0 : static_cast<std::uint64_t>(bytes)});
    });
  }
}

/// The call's files stay local and its marker stays, now saying why: the next start of the node
/// tries again.
void give_up(self_pointer self, const std::string& directory, const std::string& reason) {
  auto& state = self->state;
  const auto found = state.calls.find(directory);
  if (found == state.calls.end())
    return;
  const auto ids = ids_of(found->second);
  const bool call_json_only = found->second.call_json_only;
  state.calls.erase(found);
  if (state.config.metrics)
    state.config.metrics->uploads(metrics::upload_result::failed).Increment();
  if (call_json_only) {
    // The call's files are in the bucket; only its later twilio_status is not.
    metrics::log_call(spdlog::level::err, ids,
                      "call.json not uploaded again after its twilio_status changed: {} (the "
                      "local call.json has it; marked, the next start sends it)",
                      reason);
    return;
  }
  state.given_up.insert(directory);
  metrics::log_call(spdlog::level::err, ids,
                    "upload given up: {}; the files stay in {}, marked for the next start", reason,
                    directory);
  state.config.files->post(
      [directory, reason, node = state.config.node_name, uploader = handle_of(self)] {
        auto error = write_upload_marker(directory, upload_marker{node, reason});
        caf::anon_send(uploader,
                       call_upload_step{directory, static_cast<std::uint8_t>(step::marked_failed),
                                        std::move(error)});
      });
}

/// Every file but call.json is in the bucket: call.json now says where each went (itself
/// included), on the file thread, before anything local is deleted.
void record_uploads(self_pointer self, const std::string& directory, call_upload& call) {
  call.now = phase::recording;
  auto where = call.uploaded;
  if (const auto* call_json = file_of(call, call_json_name))
    where[call_json->name] = bucket_url(self->state.config.store->bucket(), call_json->key);
  self->state.config.files->post([directory, where = std::move(where), uploader = handle_of(self)] {
    auto error =
        record_uploads_in_call_json(std::filesystem::path(directory) / call_json_name, where);
    caf::anon_send(uploader, call_upload_step{directory, static_cast<std::uint8_t>(step::recorded),
                                              std::move(error)});
  });
}

/// call.json is in the bucket: the local copies go (unless RECORDINGS_KEEP_LOCAL; call.json
/// stays, the index that serves them back), then the marker.
void settle(self_pointer self, const std::string& directory, call_upload& call) {
  call.now = phase::settling;
  std::vector<std::string> deleted;
  if (!self->state.config.keep_local) {
    for (const auto& file : call.files) {
      if (file.name != call_json_name)
        deleted.push_back(file.name);
    }
  }
  self->state.config.files->post([directory, deleted = std::move(deleted),
                                  uploader = handle_of(self)] {
    std::string error;
    for (const auto& name : deleted) {
      std::error_code ec;
      std::filesystem::remove(std::filesystem::path(directory) / name, ec);
      if (ec)
        error += (error.empty() ? "" : "; ") + name + ": " + ec.message();
    }
    remove_upload_marker(directory);
    caf::anon_send(uploader, call_upload_step{directory, static_cast<std::uint8_t>(step::settled),
                                              std::move(error)});
  });
}

void plan(self_pointer self, const std::string& directory) {
  auto& config = self->state.config;
  config.files->post([directory, prefix = config.prefix, root = config.recordings_root,
                      node = config.node_name, call_sid = self->state.calls[directory].call_sid,
                      uploader = handle_of(self)] {
    // A call whose marker the finaliser could not write (a full disk then, its call.json
    // written late by the retrier) is marked now: from here on a kill leaves it marked.
    if (auto error = ensure_upload_marker(directory, node); !error.empty())
      metrics::log_call(spdlog::level::warn, {call_sid, {}}, "upload marker not written: {}",
                        error);
    upload_planned planned{call_sid, directory, {}, {}, {}};
    if (const auto base = call_key_base(prefix, root, directory)) {
      for (auto& file : plan_call_upload(*base, std::filesystem::path(directory))) {
        planned.names.push_back(std::move(file.name));
        planned.keys.push_back(std::move(file.key));
        planned.content_types.push_back(std::move(file.content_type));
      }
    }
    caf::anon_send(uploader, std::move(planned));
  });
}

/// call.json of a call whose files are in the bucket changed (a later twilio_status): it goes
/// up again, marked first so that a kill before the PUT is confirmed leaves the next start to
/// send it (the marker comes off once it is).
void send_call_json_again(self_pointer self, const std::string& directory, call_upload& call) {
  call.call_json_again = false;
  call.call_json_only = true;
  call.now = phase::marking;
  self->state.config.files->post([directory, node = self->state.config.node_name,
                                  uploader = handle_of(self)] {
    auto error = ensure_upload_marker(directory, node);
    caf::anon_send(
        uploader, call_upload_step{directory, static_cast<std::uint8_t>(step::marked_for_call_json),
                                   std::move(error)});
  });
}

void on_uploaded(self_pointer self, const std::string& directory, call_upload& call,
                 const std::string& name) {
  auto& state = self->state;
  const auto* file = file_of(call, name);
  if (file == nullptr)
    return;
  call.failures.erase(name);
  if (name != call_json_name) {
    call.uploaded[name] = bucket_url(state.config.store->bucket(), file->key);
    const bool all_but_call_json =
        std::all_of(call.files.begin(), call.files.end(), [&](const upload_file& each) {
          return each.name == call_json_name || call.uploaded.contains(each.name);
        });
    if (all_but_call_json && call.now == phase::uploading)
      record_uploads(self, directory, call);
    return;
  }
  if (call.now != phase::sending_call_json)
    return;  // a call.json-only upload overtaken by the call's full one: that one sends it again
  call.uploaded[name] = bucket_url(state.config.store->bucket(), file->key);
  if (call.call_json_again) {
    call.call_json_again = false;
    state.ready.emplace_back(directory, name);
    return;
  }
  if (call.call_json_only) {
    metrics::log_call(spdlog::level::info, ids_of(call), "call.json uploaded again: {}",
                      call.uploaded[name]);
    state.calls.erase(directory);
    state.config.files->post([directory] { remove_upload_marker(directory); });
    return;
  }
  settle(self, directory, call);
}

}  // namespace

recording_uploader_actor::behavior_type recording_uploader(self_pointer self,
                                                           recording_uploader_config config) {
  if (!config.unit_random) {
    config.unit_random = [generator = std::make_shared<std::mt19937_64>(std::random_device{}())] {
      return std::uniform_real_distribution<double>(0.0, 1.0)(*generator);
    };
  }
  if (!config.workers)
    config.workers = std::make_shared<inline_upload_workers>();
  if (!config.files)
    config.files = std::make_shared<inline_file_work>();
  self->state.config = std::move(config);
  return {
      [=](upload_call& call) {
        auto& state = self->state;
        state.given_up.erase(call.directory);
        auto [known, inserted] = state.calls.try_emplace(call.directory);
        if (!inserted && !known->second.call_json_only)
          return;  // already on its way
        known->second = call_upload{};
        known->second.call_sid = call.call_sid;
        plan(self, call.directory);
      },
      [=](call_json_rewritten& rewritten) {
        auto& state = self->state;
        if (state.given_up.contains(rewritten.directory))
          return;  // its marker brings the whole call up at the next start
        if (const auto known = state.calls.find(rewritten.directory); known != state.calls.end()) {
          // Before its upload call.json goes up as it is then; during or after, once more.
          if (known->second.now == phase::sending_call_json || known->second.now == phase::settling)
            known->second.call_json_again = true;
          return;
        }
        const auto base =
            call_key_base(state.config.prefix, state.config.recordings_root, rewritten.directory);
        if (!base)
          return;
        auto& call = state.calls[rewritten.directory];
        call.call_sid = rewritten.call_sid;
        call.index_key = call_index_key(
            state.config.prefix, std::filesystem::path(rewritten.directory).filename().string());
        call.files.push_back({std::string(call_json_name),
                              *base + "/" + std::string(call_json_name),
                              std::string(upload_content_type(call_json_name)), 0});
        send_call_json_again(self, rewritten.directory, call);
        publish(self);
      },
      [=](upload_planned& planned) {
        auto& state = self->state;
        const auto found = state.calls.find(planned.directory);
        if (found == state.calls.end() || found->second.now != phase::planning)
          return;
        auto& call = found->second;
        call.index_key = call_index_key(
            state.config.prefix, std::filesystem::path(planned.directory).filename().string());
        for (std::size_t i = 0; i < planned.names.size(); ++i) {
          call.files.push_back({planned.names[i], planned.keys[i], planned.content_types[i], 0});
        }
        if (call.files.empty() || call.files.back().name != call_json_name) {
          give_up(
              self, planned.directory,
              "no call.json in the call's directory (or it is not under RECORDINGS_DIR/<date>/)");
          publish(self);
          return;
        }
        call.now = phase::uploading;
        metrics::log_call(spdlog::level::debug, ids_of(call), "uploading {} files of {}",
                          call.files.size(), planned.directory);
        for (const auto& file : call.files) {
          if (file.name != call_json_name)
            state.ready.emplace_back(planned.directory, file.name);
        }
        if (call.files.size() == 1)
          record_uploads(self, planned.directory, call);
        dispatch(self);
        publish(self);
      },
      [=](file_upload_done& done) {
        auto& state = self->state;
        if (state.in_flight > 0)
          --state.in_flight;
        const auto found = state.calls.find(done.directory);
        if (found != state.calls.end()) {
          auto& call = found->second;
          auto& node = state.config.metrics;
          switch (static_cast<net::s3_outcome>(done.outcome)) {
            case net::s3_outcome::ok:
              if (node) {
                node->uploads(metrics::upload_result::ok).Increment();
                node->upload_bytes().Increment(static_cast<double>(done.bytes));
              }
              on_uploaded(self, done.directory, call, done.name);
              break;
            case net::s3_outcome::retryable: {
              const auto failures = ++call.failures[done.name];
              if (failures >= state.config.retry.max_attempts) {
                give_up(
                    self, done.directory,
                    done.name + ": " + done.reason + " (" + std::to_string(failures) + " tries)");
                break;
              }
              if (node)
                node->uploads(metrics::upload_result::retried).Increment();
              const auto delay =
                  upload_backoff(state.config.retry, failures, state.config.unit_random());
              metrics::log_call(spdlog::level::warn, ids_of(call),
                                "upload of {} failed ({}), try {} in {} ms", done.name, done.reason,
                                failures + 1, delay.count());
              self->delayed_send(self, delay, upload_retry_due{done.directory, done.name});
              break;
            }
            case net::s3_outcome::permanent:
            case net::s3_outcome::not_found:
              // The client's reason names the request, the HTTP status and S3's own code.
              give_up(self, done.directory, done.name + " refused: " + done.reason);
              break;
          }
        }
        dispatch(self);
        publish(self);
      },
      [=](upload_retry_due& due) {
        auto& state = self->state;
        if (!state.calls.contains(due.directory))
          return;
        state.ready.emplace_back(due.directory, due.name);
        dispatch(self);
      },
      [=](call_upload_step& done) {
        auto& state = self->state;
        const auto found = state.calls.find(done.directory);
        switch (static_cast<step>(done.what)) {
          case step::marked_for_call_json:
            if (found == state.calls.end() || found->second.now != phase::marking)
              return;
            if (!done.error.empty()) {
              // Sent all the same: only a kill before it is confirmed would lose it.
              metrics::log_call(spdlog::level::warn, ids_of(found->second),
                                "upload marker not written: {}", done.error);
            }
            found->second.now = phase::sending_call_json;
            state.ready.emplace_back(done.directory, std::string(call_json_name));
            dispatch(self);
            return;
          case step::marked_failed:
            if (!done.error.empty())
              spdlog::error("upload marker of {} not updated: {}", done.directory, done.error);
            return;
          case step::recorded:
            if (found == state.calls.end())
              return;
            if (!done.error.empty()) {
              give_up(self, done.directory,
                      "call.json does not say where the files went: " + done.error);
              publish(self);
              return;
            }
            found->second.now = phase::sending_call_json;
            state.ready.emplace_back(done.directory, std::string(call_json_name));
            dispatch(self);
            return;
          case step::settled: {
            if (found == state.calls.end())
              return;
            auto& call = found->second;
            const auto url = call.uploaded[std::string(call_json_name)];
            metrics::log_call(spdlog::level::info, ids_of(call), "{} files uploaded to {}{}{}",
                              call.files.size(), url.substr(0, url.rfind('/') + 1),
                              state.config.keep_local ? ", kept locally" : ", local copies deleted",
                              done.error.empty() ? "" : " (not all: " + done.error + ")");
            if (call.call_json_again) {
              // A twilio_status rewrite came after call.json's last upload started (the marker
              // just removed goes back on before it is sent).
              send_call_json_again(self, done.directory, call);
            } else {
              state.calls.erase(found);
            }
            publish(self);
            return;
          }
        }
      },
      [=](backlog_atom) -> upload_backlog {
        return {files_waiting(self->state), self->state.calls.size()};
      },
  };
}

std::size_t resume_pending_uploads(const std::filesystem::path& root, const std::string& node_name,
                                   const recording_uploader_actor& uploader) {
  const auto pending = find_pending_uploads(root, node_name);
  for (const auto& directory : pending) {
    // The directory's name is the CallSid (with a -2, -3 suffix for a later part).
    caf::anon_send(uploader, upload_call{directory.filename().string(), directory.string()});
  }
  return pending.size();
}

}  // namespace switchboard::actors
