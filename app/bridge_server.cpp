#include "app/bridge_server.hpp"

#include "actors/call_file_retrier.hpp"
#include "actors/call_files.hpp"
#include "actors/call_recovery.hpp"
#include "actors/call_supervisor.hpp"
#include "actors/media_stream_endpoint.hpp"
#include "actors/realtime_link.hpp"
#include "actors/recording_uploader.hpp"
#include "app/call_control.hpp"
#include "app/call_placement.hpp"
#include "app/call_status_endpoint.hpp"
#include "app/cluster_node.hpp"
#include "app/connect_action.hpp"
#include "app/io_thread_scheduler.hpp"
#include "app/loop_lag_monitor.hpp"
#include "app/node_drain.hpp"
#include "app/outbound_calls.hpp"
#include "net/http_server.hpp"
#include "net/s3_client.hpp"
#include "net/twilio_rest.hpp"
#include "net/twilio_webhook.hpp"
#include "net/twiml.hpp"
#include "web/console_assets.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <pthread.h>
#include <set>
#include <thread>
#include <unistd.h>
#include <vector>

namespace switchboard::app {

namespace {

namespace asio = boost::asio;

net::realtime_session_config session_config(const config::settings& settings) {
  net::realtime_session_config session;
  session.instructions = settings.openai_instructions;
  session.voice = settings.openai_voice;
  if (settings.openai_turn_detection == config::turn_detection::semantic_vad) {
    session.turn_detection = net::realtime_semantic_vad{};
  } else {
    session.turn_detection = net::realtime_server_vad{};
  }
  if (!settings.openai_transcription_model.empty()) {
    session.transcription = net::realtime_transcription{settings.openai_transcription_model, {}};
  }
  // What the model may do: end the call, transfer it, and the user's own tools.
  for (auto& tool : config::builtin_tools(!settings.transfer_to.empty()))
    session.tools.push_back({tool.name, tool.description, std::move(tool.parameters)});
  for (const auto& tool : settings.tools) {
    session.tools.push_back(
        {tool.function.name, tool.function.description, tool.function.parameters});
  }
  return session;
}

unsigned core_count() {
  return std::max(1u, std::thread::hardware_concurrency());
}

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0)
    return "unknown";
  return name.data();
}

// How long a webhook's promise of a place holds for its stream: Twilio opens the stream right
// after our TwiML (a second or two); a stream later than this finds room or is refused.
constexpr auto inbound_place_hold = std::chrono::seconds(30);
// The io threads' lag is sampled this often; admission reacts within two samples.
constexpr auto loop_lag_period = std::chrono::milliseconds(50);
// While draining, the calls left are counted this often: the process exits within one period
// of its last call's files being written, and the deadline is met within one too.
constexpr auto drain_poll_period = std::chrono::milliseconds(100);
// How long a drained call's goodbye may take, from asking the model to the hang-up: the model's
// answer (a second or two) and its playout (a sentence). Kubernetes' grace period keeps 30 s
// beyond DRAIN_TIMEOUT for it and the finalisers (k8s/README.md).
constexpr std::uint64_t drain_goodbye_bound_ms = 15'000;
// How long a hand-over's parts may take: the call's state from its actors (local), and Twilio's
// answer to the call update. The peer's answer is bounded by the cluster's request timeout.
constexpr auto handover_state_timeout = std::chrono::seconds(5);

/// The cluster's peers, as the hosts of calls whose streams land here with every place taken.
class cluster_call_hosts final : public actors::remote_call_hosts {
 public:
  explicit cluster_call_hosts(std::weak_ptr<const cluster_node> cluster)
      : cluster_(std::move(cluster)) {}
  void host(actors::twilio_socket_actor twilio,
            std::function<void(std::optional<std::string>)> done) const override {
    if (auto linked = cluster_.lock())
      return linked->host_call(std::move(twilio), std::move(done));
    done(std::nullopt);
  }

 private:
  std::weak_ptr<const cluster_node> cluster_;
};

metrics::refusal_reason metric_reason(actors::admission_refusal refusal) {
  return refusal == actors::admission_refusal::full ? metrics::refusal_reason::full
                                                    : metrics::refusal_reason::overloaded;
}

net::http_response metrics_response(const metrics::bridge_metrics& node) {
  auto response = net::http_response::text(200, node.scrape());
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

class node final : public bridge_server {
 public:
  explicit node(const config::settings& settings)
      : settings_(settings),
        shards_(settings.io_threads != 0 ? settings.io_threads : core_count()),
        actor_system_(configure_actors(actor_config_, shards_, settings)),
        drain_(std::chrono::seconds(settings.drain_timeout_s)) {}

  ~node() override { stop(); }

  boost::system::result<void, std::string> start(overrides options) {
    auto env = std::make_shared<actors::bridge_environment>();
    env->metrics = std::make_shared<metrics::bridge_metrics>(
        settings_.node_name.empty() ? host_name() : settings_.node_name);
    env->session = session_config(settings_);
    env->recordings_dir = settings_.recordings_dir;
    env->record_audio = settings_.recordings;
    env->reconnect = options.reconnect;
    env->model_session = options.model_session;
    env->model_watch.ready_timeout = std::chrono::seconds(settings_.model_ready_timeout_s);
    env->model_watch.silence_timeout = std::chrono::seconds(settings_.model_silence_timeout_s);
    env->start_timeout = std::chrono::seconds(settings_.start_timeout_s);
    env->admission = std::make_shared<actors::call_admission>(actors::admission_policy::limits{
        .max_calls = settings_.max_calls,
        .max_lag = std::chrono::milliseconds(settings_.max_loop_lag_ms)});
    env->metrics->max_calls().Set(settings_.max_calls);
    // The calls' blocking file work (directories, recordings, call.json rewrites): never on the
    // io threads, which run the actors.
    file_thread_ = std::make_shared<actors::file_work_thread>();
    env->files = file_thread_;
    // Twilio's status callbacks rewrite call.json there too.
    env->statuses = std::make_shared<actors::call_status_book>(
        actors::call_status_book::default_capacity, file_thread_);
    if (auto uploads = start_uploads(*env); !uploads)
      return uploads.error();
    // Files of ended calls that the disk refuses wait here for room (a thread of its own: it
    // does blocking file I/O); a late call.json hands its call to the uploader.
    env->file_retrier = actor_system_.spawn<caf::detached>(
        actors::call_file_retrier, actors::call_file_retries::limits{},
        actors::call_file_retries::writer(actors::write_deferred_call_files), env->statuses,
        env->metrics, env->uploader);
    webhook_.public_url = settings_.public_url;
    webhook_.node_stream_url = settings_.node_stream_url;
    webhook_.full_message = settings_.full_message;
    webhook_.auth_token = settings_.twilio_auth_token;
    webhook_.check_signatures = !settings_.twilio_auth_token.empty();
    // Tokens from the auth token verify on any node; without one, only on this process.
    tokens_.emplace(settings_.twilio_auth_token.empty()
                        ? net::call_token_issuer::with_random_key()
                        : net::call_token_issuer::from_secret(settings_.twilio_auth_token));
    if (webhook_.check_signatures)
      env->call_tokens = tokens_;
    auto rest_tls = net::tls_context::client();
    if (!rest_tls)
      return rest_tls.error();
    rest_tls_ = *rest_tls;
    placer_ = std::make_shared<call_placer>(
        call_placer::options{.admission = env->admission,
                             .metrics = env->metrics,
                             .node_name = env->metrics->node(),
                             .has_stream_url = !settings_.node_stream_url.empty(),
                             .draining = [this] {
                               return draining_.load();
                             }});
    connect_actions_ = std::make_shared<connect_action_handler>(connect_action_handler::options{
        .webhook = &webhook_,
        .tokens = &*tokens_,
        .placer = placer_,
        .directory = env->directory,
        .metrics = env->metrics,
        .wall_clock = env->wall_clock,
        .keep_here = [this, env](actors::call_handover_state handed) {
          return accept_handover(*env, std::move(handed));
        }});
    dialer_ =
        std::make_shared<outbound_dialer>(settings_, io_, *rest_tls, *tokens_, env->wall_clock,
                                          env->dials, env->statuses, env->admission, env->metrics);
    dialer_->place_with(placer_);
    controller_ = std::make_shared<call_controller>(settings_, io_, *rest_tls, env->directory,
                                                    env->statuses, env->metrics, env->wall_clock);
    env->actions = controller_;
    if (recordings_bucket_)
      controller_->serve_uploads_from(recordings_bucket_, recordings_prefix_);
    env->greeting = settings_.greeting;
    env->transfer_to = settings_.transfer_to;
    env->guards.idle_timeout = std::chrono::seconds(settings_.idle_timeout_s);
    env->guards.max_duration = std::chrono::seconds(settings_.max_call_duration_s);
    if (options.model_links) {
      env->model_links = options.model_links;
    } else {
      auto tls = net::tls_context::client();
      if (!tls)
        return tls.error();
      env->model_links = std::make_shared<actors::websocket_model_links>(
          shards_, *tls, settings_.openai_realtime_url, settings_.openai_api_key, env->metrics);
    }
    env_ = env;
    if (!webhook_.check_signatures) {
      spdlog::warn(
          "TWILIO_AUTH_TOKEN is not set: Twilio signatures and call tokens are NOT "
          "checked (ALLOW_UNSIGNED_TWILIO). Anyone who finds this server can stream "
          "audio into the model at your expense.");
    }

    net::http_server_options http_options;
    http_options.bind_address = settings_.bind_address;
    http_options.port = settings_.port;
    http_options.read_timeout = options.http_read_timeout.value_or(http_options.read_timeout);
    http_options.websocket = options.websocket_limits.value_or(http_options.websocket);
    // Calls' connections are spread over the shards; everything else of the node stays on
    // shard 0 (`io_`).
    auto server = net::http_server::start(
        shards_, http_options,
        {.on_request = [this](const net::http_request& request) { return route(request); },
         .on_upgrade = [this](const net::http_request& request) { return upgrade(request); },
         .on_request_async =
             [this](const net::http_request& request, const net::http_responder& respond) {
               return answer_webhook(request, respond) ||
                      connect_actions_->handle(request, respond) ||
                      dialer_->handle(request, respond) || controller_->handle(request, respond);
             }});
    if (!server)
      return server.error();
    http_ = std::move(*server);
    if (settings_.metrics_port) {
      // Probes and metrics only: this port stays inside the cluster.
      http_options.port = *settings_.metrics_port;
      auto metrics_server = net::http_server::start(
          io_, http_options,
          {.on_request =
               [this](const net::http_request& request) { return route_internal(request); },
           .on_upgrade =
               [](const net::http_request&) {
                 return net::websocket_upgrade_decision::refused(
                     net::http_response::text(404, "not found\n"));
               }});
      if (!metrics_server)
        return "METRICS_PORT: " + metrics_server.error();
      metrics_http_ = std::move(*metrics_server);
    }
    if (auto started = start_cluster(env); !started)
      return started.error();
    // Calls an earlier process of this node (NODE_NAME) left unfinished, killed mid-call: their
    // files are finished on a thread of their own while the node starts serving.
    // Then, with RECORDINGS_BUCKET_URL, the calls this node has not finished uploading (the
    // ones just recovered included): the queue of uploads is the marked directories on disk.
    std::function<void(const actors::recovery_summary&)> resume_uploads;
    if (env->uploader) {
      resume_uploads = [root = settings_.recordings_dir, node_name = env->metrics->node(),
                        uploader = env->uploader](const actors::recovery_summary& recovered) {
        for (const auto& directory : recovered.finished_now) {
          if (auto error = actors::write_upload_marker(directory, {node_name, ""}); !error.empty())
            spdlog::warn("{} not marked for upload: {}", directory.string(), error);
        }
        if (const auto resumed = actors::resume_pending_uploads(root, node_name, uploader))
          spdlog::info("{} call(s) left to upload by an earlier process of node {}: uploading",
                       resumed, node_name);
      };
    }
    actors::spawn_call_recovery(actor_system_, settings_.recordings_dir, env->metrics->node(),
                                env->directory, std::move(resume_uploads));
    ready_ = true;

    // Every shard's lag is sampled; admission sees the worst, once a period (shard 0's tick),
    // each sample once (shard_lags): a node with one shard behind is behind for the calls
    // placed there.
    shard_lags_ = std::make_unique<shard_lags>(shards_.size());
    for (std::size_t index = 0; index < shards_.size(); ++index) {
      lag_monitors_.push_back(std::make_unique<loop_lag_monitor>(
          shards_.shard(index), loop_lag_period, [this, env, index](std::chrono::microseconds lag) {
            env->metrics->loop_lag().Observe(std::chrono::duration<double>(lag).count());
            shard_lags_->record(index, lag);
            if (index != 0)
              return;
            const auto worst = shard_lags_->take_worst();
            if (env->admission->observe_lag(worst)) {
              if (env->admission->overloaded())
                spdlog::warn(
                    "overloaded: the io threads run {} ms late (MAX_LOOP_LAG_MS {}); no new "
                    "calls here until they catch up",
                    worst.count() / 1000, settings_.max_loop_lag_ms);
              else
                spdlog::info("caught up: the io threads are on time again; taking new calls");
            }
            env->metrics->admitting().Set(
                env->admission->refusal_now(std::chrono::steady_clock::now()) ? 0 : 1);
          }));
      lag_monitors_.back()->start();
    }
    shards_.start();
    spdlog::info(
        "listening on {}:{} ({} io threads, which run the actors too; each call on one), metrics "
        "on port {}, node {}",
        settings_.bind_address, http_->port(), shards_.size(), metrics_port(),
        env->metrics->node());
    return {};
  }

  std::uint16_t port() const override { return http_ ? http_->port() : 0; }
  std::uint16_t metrics_port() const override {
    return metrics_http_ ? metrics_http_->port() : port();
  }
  actors::call_registry& calls() override { return *env_->calls; }
  metrics::bridge_metrics& metrics() override { return *env_->metrics; }

  void wait(bool handle_signals) override {
    if (handle_signals) {
      signals_.emplace(io_, SIGINT, SIGTERM);
      watch_signals();
      // Armed: a signal held by hold_stop_signals() is delivered now, to this thread, whose
      // handler hands it to the set.
      sigset_t stop_signals;
      sigemptyset(&stop_signals);
      sigaddset(&stop_signals, SIGINT);
      sigaddset(&stop_signals, SIGTERM);
      pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    }
    // The signal set stays armed until stop() has joined the io threads and drops it: cancelling
    // it here could race with its handler re-arming it on an io thread.
    stopped_.get_future().wait();
  }

  bool draining() const override { return draining_; }

  void stop() override {
    request_stop();
    if (shards_.running()) {
      end_actors_within(std::chrono::seconds(2));
      shards_.stop();
      // A middleman worker queued just before the io threads stopped (a peer's last message):
      // the actor system's destructor waits for it.
      run_hub_workers_left(actor_system_);
    }
    for (auto& monitor : lag_monitors_)
      monitor->stop();
    drain_timer_.cancel();
    signals_.reset();
    // The recordings' last writes and closes, queued before the io threads stopped.
    if (file_thread_)
      file_thread_->stop();
    flush_deferred_call_files();
    stop_uploads();
    // Calls still running hold actors waiting on sockets that are now gone.
    actor_system_.await_actors_before_shutdown(false);
  }

  /// Ends, while the io threads still run them, the actors that would otherwise outlive the
  /// actor system (which does not wait for actors): the cluster's node actor (sent its exit by
  /// request_stop) and the supervisors of calls a stop cuts (a second signal, or stop() without
  /// a drain), killed with their linked children. Their recordings stay as the last checkpoint
  /// left them, and the next start finishes them (call.running). Bounded: an actor that has not
  /// gone by then is left behind.
  void end_actors_within(std::chrono::milliseconds bound) {
    caf::scoped_actor self(actor_system_);
    std::size_t awaited = 0;
    for (const auto& supervisor : env_->directory->local_supervisors()) {
      self->monitor(supervisor);
      self->send_exit(supervisor, caf::exit_reason::kill);
      ++awaited;
    }
    if (cluster_ && cluster_->actor()) {
      self->monitor(cluster_->actor());
      ++awaited;
    }
    if (env_->uploader) {
      // While the io threads still run it: what it has not confirmed stays marked on disk.
      self->monitor(env_->uploader);
      self->send_exit(env_->uploader, caf::exit_reason::user_shutdown);
      ++awaited;
    }
    if (awaited == 0)
      return;
    spdlog::debug("stopping: waiting up to {} ms for {} actors", bound.count(), awaited);
    const auto deadline = std::chrono::steady_clock::now() + bound;
    bool timed_out = false;
    while (awaited > 0 && !timed_out) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      self->receive(
          [&](const caf::down_msg&) { --awaited; },
          caf::after(std::max(left, std::chrono::milliseconds(0))) >> [&] { timed_out = true; });
    }
    if (awaited > 0)
      spdlog::warn("stopping: {} actors of cut calls or the cluster did not end in {} ms", awaited,
                   bound.count());
  }

 private:
  static caf::actor_system_config& configure_actors(caf::actor_system_config& config,
                                                    net::io_shards& shards,
                                                    const config::settings& settings) {
    if (settings.cluster_port) {
      configure_cluster(config,
                        {settings.cluster_tls_cert.string(), settings.cluster_tls_key.string(),
                         settings.cluster_tls_ca.string()});
    }
    config.set("logger.file-verbosity", caf::atom("quiet"));
    // A call's actors run on the io thread of the shard its media stream landed on
    // (app/io_thread_scheduler.hpp). Measured with `switchboard loadgen --calls 100 --model-tls`
    // against CAF's work-stealing workers: see the README's Performance section.
    run_actors_on_io_threads(config, shards);
    return config;
  }

  /// Joins the cluster when CLUSTER_PORT is set (README "Cluster"). Before the io threads run:
  /// publishing blocks.
  boost::system::result<void, std::string> start_cluster(
      const std::shared_ptr<actors::bridge_environment>& env) {
    if (!settings_.cluster_port)
      return {};
    const auto bind =
        settings_.cluster_bind.empty() ? settings_.bind_address : settings_.cluster_bind;
    cluster_options options;
    options.bind_address = bind;
    options.port = *settings_.cluster_port;
    options.seeds = settings_.cluster_seeds;
    options.dns_name = settings_.cluster_dns;
    options.dns_port = *settings_.cluster_port;
    options.node_name = env->metrics->node();
    options.active_calls = [calls = env->calls] {
      return static_cast<std::uint32_t>(calls->active_calls());
    };
    options.promised_calls = [admission = env->admission] {
      return static_cast<std::uint32_t>(admission->promised(std::chrono::steady_clock::now()));
    };
    options.reserve_place = [this, admission = env->admission](
                                const std::string& key,
                                std::chrono::seconds hold) -> std::optional<std::string> {
      if (hold.count() == 0) {
        admission->release(key);
        return std::nullopt;
      }
      if (draining_)
        return "draining";
      const auto refused = admission->reserve(key, std::chrono::steady_clock::now(), hold);
      if (!refused)
        return std::nullopt;
      env_->metrics->calls_refused(metric_reason(*refused), metrics::refusal_source::placement)
          .Increment();
      return std::string(actors::to_string(*refused));
    };
    options.take_dial = [limiter = dialer_->rate_limiter()] {
      return limiter->try_acquire(std::chrono::steady_clock::now());
    };
    options.capacity = static_cast<std::uint32_t>(settings_.max_calls);
    options.stream_url = settings_.node_stream_url;
    options.draining = [this] {
      return draining_.load();
    };
    options.metrics = env->metrics;
    options.tls = settings_.has_cluster_tls();
    options.calls = env->directory;
    options.token_ledger = env->spent_call_tokens;
    options.release_place = [admission = env->admission](const std::string& key) {
      admission->release(key);
    };
    options.accept_handover = [this, env](actors::call_handover_state handed) {
      return accept_handover(*env, std::move(handed));
    };
    options.host_call = [this, env](actors::twilio_socket_actor twilio) {
      return host_peer_call(env, std::move(twilio));
    };
    auto cluster = cluster_node::start(actor_system_, std::move(options));
    if (!cluster)
      return cluster.error();
    cluster_ = std::move(*cluster);
    // Every call of the cluster through this node's API; tokens that name this node, claimed at
    // their issuer's ledger wherever the stream lands (README "Security").
    controller_->join_cluster(cluster_);
    placer_->join_cluster(cluster_);
    connect_actions_->join_cluster(cluster_);
    // CALLS_PER_MINUTE for the whole cluster, kept by one node (README "Cluster").
    dialer_->take_dials_from([cluster = std::weak_ptr<cluster_node>(cluster_)](
                                 std::function<void(std::optional<bool>)> done) {
      if (auto linked = cluster.lock())
        return linked->take_dial(std::move(done));
      done(std::nullopt);
    });
    tokens_->set_issuer(cluster_->id());
    if (env->call_tokens)
      env->call_tokens->set_issuer(cluster_->id());
    env->token_authority = cluster_->token_authority();
    env->remote_hosts = std::make_shared<cluster_call_hosts>(cluster_);
    if (!options.tls) {
      spdlog::warn(
          "CLUSTER_INSECURE=true: the cluster link on port {} is NOT encrypted or "
          "authenticated; anyone who reaches it can send this node messages.",
          cluster_->port());
    }
    std::string seeds;
    for (const auto& seed : settings_.cluster_seeds)
      seeds += (seeds.empty() ? "" : ",") + seed;
    spdlog::info("cluster port {} on {} as {}, seeds: {}", cluster_->port(), bind,
                 cluster_->address(), seeds.empty() ? "none" : seeds);
    return {};
  }

  /// A peer's stream landed with its every place taken: this node hosts the call (its
  /// supervisor and model-side actors here, the socket's actor there) if it has room now.
  std::optional<std::string> host_peer_call(const std::shared_ptr<actors::bridge_environment>& env,
                                            actors::twilio_socket_actor twilio) {
    if (draining_)
      return "draining";
    if (const auto refused = env->admission->refusal_now(std::chrono::steady_clock::now()))
      return std::string(actors::to_string(*refused));
    // Its `start` takes the place (admission) as any stream's does. Spawned on the shard with
    // the fewest connections, where it stays with its model connection and timers: the node
    // actor that asks runs on shard 0, which would otherwise take every hosted call.
    asio::post(shards_.least_loaded(), [this, env, twilio = std::move(twilio)]() mutable {
      actor_system_.spawn(actors::call_supervisor, actors::bridge_environment_ptr(env),
                          std::move(twilio));
    });
    return std::nullopt;
  }

  /// One last try for the files of ended calls that wait for the disk; what it still refuses
  /// is logged and counted as lost. From the thread that stops the node (the retrier is
  /// detached: waiting for it blocks nothing else).
  /// RECORDINGS_BUCKET_URL: the bucket, the upload threads and the uploader, and the status
  /// book's rewrites of call.json sent up again. Nothing without a bucket.
  boost::system::result<void, std::string> start_uploads(actors::bridge_environment& env) {
    if (!settings_.uploads_recordings())
      return {};
    auto location = net::parse_s3_url(settings_.recordings_bucket_url);
    if (!location)
      return "RECORDINGS_BUCKET_URL: " + location.error();
    net::s3_config s3;
    s3.bucket = location->bucket;
    s3.endpoint = settings_.s3_endpoint;
    s3.region = settings_.s3_region();
    s3.path_style = settings_.s3_path_style();
    s3.credentials = {settings_.aws_access_key_id, settings_.aws_secret_access_key,
                      settings_.aws_session_token};
    recordings_bucket_ = std::make_shared<actors::s3_object_store>(std::move(s3));
    upload_threads_ = std::make_shared<actors::upload_thread_pool>(settings_.upload_concurrency);
    actors::recording_uploader_config uploads;
    uploads.recordings_root = settings_.recordings_dir;
    uploads.prefix = location->prefix;
    recordings_prefix_ = location->prefix;
    uploads.node_name = env.metrics->node();
    uploads.keep_local = settings_.recordings_keep_local;
    uploads.concurrency = settings_.upload_concurrency;
    uploads.store = recordings_bucket_;
    uploads.workers = upload_threads_;
    uploads.files = file_thread_;
    uploads.metrics = env.metrics;
    env.uploader = actor_system_.spawn(actors::recording_uploader, std::move(uploads));
    env.statuses->before_call_json_rewrite([node = env.metrics->node()](
                                               const std::filesystem::path& call_json) {
      if (auto error = actors::ensure_upload_marker(call_json.parent_path(), node); !error.empty())
        spdlog::warn("upload marker of {} not written: {}", call_json.parent_path().string(),
                     error);
    });
    env.statuses->on_call_json_rewritten(
        [uploader = env.uploader](const std::string& call_sid,
                                  const std::filesystem::path& call_json) {
          caf::anon_send(uploader,
                         actors::call_json_rewritten{call_sid, call_json.parent_path().string()});
        });
    spdlog::info(
        "recordings go to {} ({}{}, {} at once){}", settings_.recordings_bucket_url,
        settings_.s3_endpoint.empty() ? "AWS " + settings_.s3_region() : settings_.s3_endpoint,
        settings_.s3_path_style() ? ", path-style" : "", settings_.upload_concurrency,
        settings_.recordings_keep_local ? "; local copies kept" : "");
    return {};
  }

  /// The upload threads, once the uploader has ended (end_actors_within): an upload under way
  /// is cancelled (within a second: the drain before a stop has already waited for the queue),
  /// and what is not confirmed stays marked for the next start.
  void stop_uploads() {
    if (recordings_bucket_) {
      if (const auto cut = recordings_bucket_->cancel_requests(); cut != 0) {
        spdlog::warn(
            "stopping: {} request(s) to the bucket under way cancelled; their calls "
            "stay marked for the next start",
            cut);
      }
    }
    if (upload_threads_)
      upload_threads_->stop();
  }

  void flush_deferred_call_files() {
    if (!env_ || !env_->file_retrier)
      return;
    caf::scoped_actor self{actor_system_};
    self->request(env_->file_retrier, std::chrono::seconds(10), actors::flush_atom::value)
        .receive(
            [](std::uint64_t lost) {
              if (lost != 0)
                spdlog::error("{} ended calls' files lost at shutdown (the disk refused them)",
                              lost);
            },
            [](const caf::error& error) {
              spdlog::error("deferred call files not flushed: {}", caf::to_string(error));
            });
    self->send_exit(env_->file_retrier, caf::exit_reason::user_shutdown);
    env_->file_retrier = actors::call_file_retrier_actor{};
  }

  void request_stop() {
    if (stop_requested_.exchange(true))
      return;
    ready_ = false;
    if (http_)
      http_->stop();
    if (metrics_http_)
      metrics_http_->stop();
    if (cluster_)
      cluster_->stop();
    stopped_.set_value();
  }

  // -- Drain (app/node_drain.hpp) ----------------------------------------------------------------

  /// SIGTERM and SIGINT: the first drains, a second stops at once. Runs on an io thread.
  void watch_signals() {
    signals_->async_wait([this](const boost::system::error_code& ec, int signal_number) {
      if (ec)
        return;
      spdlog::info("signal {}", signal_number);
      if (request_drain(drain_trigger::signal) != drain_state::request_outcome::stop_now &&
          !stop_requested_)
        watch_signals();
    });
  }

  drain_state::request_outcome request_drain(drain_trigger trigger) {
    std::lock_guard lock(drain_mutex_);
    const auto now = std::chrono::steady_clock::now();
    const auto outcome = drain_.request(trigger, now);
    switch (outcome) {
      case drain_state::request_outcome::started:
        draining_ = true;
        env_->metrics->draining().Set(1);
        spdlog::info(
            "draining ({}): /readyz answers 503, new calls go to a ready peer, {} live calls run "
            "on for up to {} s (DRAIN_TIMEOUT), then move to a ready peer or hear DRAIN_MESSAGE; "
            "{}",
            trigger == drain_trigger::signal ? "signal" : "POST /drain",
            env_->calls->active_calls(), settings_.drain_timeout_s,
            trigger == drain_trigger::signal ? "signal again to stop at once"
                                             : "SIGTERM twice stops at once");
        // The first look one period from now, not at once: POST /drain's answer is written
        // before a node without calls stops.
        arm_drain_poll();
        break;
      case drain_state::request_outcome::already_draining:
        spdlog::info("already draining: {} calls live", env_->calls->active_calls());
        break;
      case drain_state::request_outcome::stop_now:
        spdlog::warn("second signal while draining: stopping now, {} live calls are cut off",
                     env_->calls->active_calls());
        request_stop();
        break;
    }
    return outcome;
  }

  /// Calls on this node that a stop would lose: live or ending (files not yet written), or
  /// answered here (webhook, POST /calls) and about to stream.
  std::size_t calls_remaining(std::chrono::steady_clock::time_point now) {
    // A hand-over under way counts until Twilio has answered: the call's stream may end (its
    // `stop`) before Twilio's answer to the update says whether the call went on at the peer.
    // The streams of calls peers host are this node's sockets: they end with their calls.
    return env_->calls->active_calls() + env_->admission->promised(now) +
           handovers_in_flight_.load() + env_->relayed->size();
  }

  void poll_drain_locked(std::chrono::steady_clock::time_point now) {
    const auto step = drain_.poll(now, calls_remaining(now));
    if (step.end_calls)
      end_calls_at_deadline(now);
    if (step.stop) {
      const auto uploads_waiting =
          env_->uploader ? static_cast<std::size_t>(env_->metrics->upload_queue().Value()) : 0;
      const bool waited = upload_drain_.since().has_value();
      if (upload_drain_.keep_waiting(now, uploads_waiting)) {
        if (!waited)
          spdlog::info("drained: no call remains; waiting up to {} s for {} file(s) to upload",
                       upload_drain::default_wait.count(), uploads_waiting);
        arm_drain_poll();
        return;
      }
      if (uploads_waiting != 0)
        spdlog::warn(
            "drained: stopping with {} file(s) not uploaded; their calls stay marked "
            "(upload.pending) and the next start of node {} uploads them",
            uploads_waiting, env_->metrics->node());
      spdlog::info("drained: no call remains, stopping");
      request_stop();
      return;
    }
    arm_drain_poll();
  }

  void arm_drain_poll() {
    drain_timer_.expires_after(drain_poll_period);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec)
        return;
      std::lock_guard lock(drain_mutex_);
      poll_drain_locked(std::chrono::steady_clock::now());
    });
  }

  /// DRAIN_TIMEOUT has passed: each call still live gets disposition_at_deadline()'s answer,
  /// once. Calls that start later (answered just before) are told on a later poll.
  void end_calls_at_deadline(std::chrono::steady_clock::time_point now) {
    drain_deadline_context context;
    std::optional<stream_peer> peer;
    if (cluster_)
      peer = choose_handover_peer(cluster_->view().members(now));
    if (peer)
      context.peer_stream_url = peer->stream_url;
    context.can_update_calls = settings_.has_twilio_credentials();
    // Calls peers host through this node's sockets: their hosts say the goodbye (the socket
    // passes it on), once each.
    for (const auto& socket : env_->relayed->all()) {
      if (told_sockets_at_deadline_.insert(socket.address()).second) {
        spdlog::info("DRAIN_TIMEOUT passed: goodbye for a call a peer hosts through this node");
        caf::anon_send(socket, actors::drain_call{settings_.drain_message, drain_goodbye_bound_ms});
      }
    }
    for (const auto& call : env_->directory->live()) {
      const auto& sid = call.identity.call_sid;
      if (call.state != actors::call_state::live || told_at_deadline_.contains(sid))
        continue;
      const auto supervisor = env_->directory->supervisor_of(sid);
      if (!supervisor)
        continue;
      told_at_deadline_.insert(sid);
      switch (disposition_at_deadline(context)) {
        case drain_disposition::goodbye:
          spdlog::info("[call {}] DRAIN_TIMEOUT passed: goodbye{}", sid,
                       context.can_update_calls ? " (no peer can take it)" : "");
          say_goodbye(*supervisor);
          env_->metrics
              ->calls_handed_over(context.can_update_calls ? metrics::handover_result::no_peer
                                                           : metrics::handover_result::goodbye)
              .Increment();
          break;
        case drain_disposition::hand_over:
          spdlog::info("[call {}] DRAIN_TIMEOUT passed: handing over to {}", sid, peer->stream_url);
          hand_over(sid, *supervisor, *peer);
          break;
      }
    }
  }

  void say_goodbye(const actors::call_supervisor_actor& supervisor) const {
    caf::anon_send(supervisor, actors::drain_call{settings_.drain_message, drain_goodbye_bound_ms});
  }

  /// A call goes to `peer` (README "Drain"): its state from its actors, to the peer's node
  /// actor, which answers a key; then Twilio's call update streams the call to the peer with
  /// that key and a call token. Twilio's `stop` ends the part here. Any refusal: the goodbye.
  /// Never blocks: each step answers on an io thread.
  void hand_over(const std::string& call_sid, actors::call_supervisor_actor supervisor,
                 stream_peer peer) {
    ++handovers_in_flight_;
    auto failed = [this, call_sid, supervisor](const std::string& why) {
      spdlog::warn("[call {}] hand-over failed ({}): goodbye instead", call_sid, why);
      env_->metrics->calls_handed_over(metrics::handover_result::failed).Increment();
      say_goodbye(supervisor);
      --handovers_in_flight_;
    };
    auto offer = [this, call_sid, supervisor, peer, failed](actors::call_handover_state handed) {
      const auto identity = handed.identity;
      cluster_->offer_handover(
          {peer.node_id, std::move(handed)},
          [this, identity, supervisor, peer, failed](actors::call_handover_answer answer) {
            if (!answer.accepted)
              return failed("the peer refused: " + answer.why);
            update_call_to_peer(identity, supervisor, peer, answer.key, failed);
          });
    };
    // The supervisor goes as a spawn argument: CAF 0.17 binds a reference to a null tuple for
    // a function actor spawned without any (UBSan reports it).
    actor_system_.spawn(
        [offer = std::move(offer), failed](caf::event_based_actor* self,
                                           actors::call_supervisor_actor of_call) {
          self->request(of_call, handover_state_timeout, actors::handover_atom::value)
              .then([offer](actors::call_handover_state& handed) { offer(std::move(handed)); },
                    [failed](caf::error& error) {
                      failed("the call's state: " + caf::to_string(error));
                    });
        },
        supervisor);
  }

  /// Twilio's call update: the current <Connect><Stream> ends, the peer's begins, carrying the
  /// hand-over key and a call token the peer checks like any stream's.
  void update_call_to_peer(const actors::call_identity& identity,
                           actors::call_supervisor_actor supervisor, const stream_peer& peer,
                           const std::string& key, std::function<void(const std::string&)> failed) {
    // The token names the peer as its issuer: the peer's ledger is then the one authority on
    // it, and the stream does not need this node, which exits once its calls have moved.
    auto peer_tokens = *tokens_;
    peer_tokens.set_issuer(peer.node_id);
    const std::vector<net::form_parameter> parameters{
        {"CallSid", identity.call_sid},
        {"From", identity.from},
        {"To", identity.to},
        {"token",
         peer_tokens.issue({identity.call_sid, identity.from, identity.to}, env_->wall_clock())},
        {std::string(actors::handover_key_parameter), key},
    };
    net::update_twilio_call(
        io_, rest_tls_,
        {settings_.twilio_api_base, settings_.twilio_account_sid, settings_.twilio_auth_token},
        identity.call_sid,
        {{"Twiml", net::connect_stream_twiml(peer.stream_url, parameters,
                                             net::connect_action_url(webhook_))}},
        [this, call_sid = identity.call_sid, supervisor, peer_id = peer.node_id,
         admission_key = actors::call_admission_key(identity.call_sid, identity.dial_id),
         failed = std::move(failed)](net::twilio_create_result answer) {
          if (!answer) {
            // The stream will not come: the place the peer reserved for it is given back (its
            // state there expires unused).
            cluster_->reserve({peer_id, admission_key, 0}, [](actors::place_verdict) {});
            const auto& error = answer.error();
            return failed("Twilio refused the call update: " + error.message +
                          (error.code != 0 ? " (code " + std::to_string(error.code) + ")" : ""));
          }
          spdlog::info("[call {}] handed over: Twilio streams it to the peer", call_sid);
          env_->metrics->calls_handed_over(metrics::handover_result::handed_over).Increment();
          caf::anon_send(supervisor, actors::handed_atom::value);
          --handovers_in_flight_;
        });
  }

  /// A draining peer's call, to be continued here: it takes a place like a placed call (its
  /// stream is on its way) and waits in the hand-over book for its stream.
  actors::call_handover_answer accept_handover(actors::bridge_environment& env,
                                               actors::call_handover_state handed) {
    if (draining_)
      return {false, {}, "draining"};
    const auto now = std::chrono::steady_clock::now();
    const auto admission_key =
        actors::call_admission_key(handed.identity.call_sid, handed.identity.dial_id);
    if (const auto refused = env.admission->reserve(admission_key, now, inbound_place_hold)) {
      env.metrics->calls_refused(metric_reason(*refused), metrics::refusal_source::placement)
          .Increment();
      return {false, {}, std::string(actors::to_string(*refused))};
    }
    const auto call_sid = handed.identity.call_sid;
    auto key = env.handovers->put(std::move(handed), now);
    if (!key) {
      env.admission->release(admission_key);
      return {false, {}, "too many hand-overs waiting"};
    }
    spdlog::info(
        "[call {}] keeping its state for its next stream (a drain's hand-over, or a lost stream's "
        "continuation)",
        call_sid);
    record_unclaimed_handovers_after(env.handovers->hold() + std::chrono::seconds(1));
    return {true, std::move(*key), {}};
  }

  /// Once a hand-over's hold has passed: the calls handed here whose stream never came are
  /// recorded as ended here (their place given back, counted, logged, in the call list as the
  /// call's last part), since the cluster would otherwise know them only as "handed over".
  void record_unclaimed_handovers_after(std::chrono::steady_clock::duration wait) {
    auto timer = std::make_shared<asio::steady_timer>(io_, wait);
    timer->async_wait([timer, env = env_](const boost::system::error_code& ec) {
      if (ec)
        return;
      for (auto& lost : env->handovers->take_expired(std::chrono::steady_clock::now())) {
        env->admission->release(
            actors::call_admission_key(lost.identity.call_sid, lost.identity.dial_id));
        env->metrics->handovers_unclaimed().Increment();
        spdlog::warn("[call {}] handed over here, but its stream never came: {}",
                     lost.identity.call_sid, actors::handover_unclaimed_end_reason);
        env->directory->recovered(actors::unclaimed_handover_view(lost, env->wall_clock()));
      }
    });
  }

  /// POST /drain (bearer API_TOKEN): the drain SIGTERM starts, without the signal.
  net::http_response answer_drain(const net::http_request& request) {
    if (auto refused = refuse_api_request(request, settings_.api_token))
      return api_error_response(*refused);
    if (request.method != "POST")
      return api_error_response({405, "POST /drain starts the drain"});
    const auto outcome = request_drain(drain_trigger::api);
    boost::json::object body{
        {"draining", true},
        {"started", outcome == drain_state::request_outcome::started},
        {"active_calls", env_->calls->active_calls()},
        {"drain_timeout_s", settings_.drain_timeout_s},
    };
    return net::http_response::json(202, boost::json::serialize(body) + "\n");
  }

  net::http_response route(const net::http_request& request) {
    const auto path = request.path();
    if (path == call_status_path)
      return answer_call_status(request, webhook_, *env_->statuses, env_->wall_clock(),
                                env_->metrics.get());
    if (path == "/cluster")
      return answer_cluster(request);
    if (path == "/drain")
      return answer_drain(request);
    if (path == "/metrics" && settings_.metrics_port)
      return net::http_response::text(404, "not found: /metrics is on METRICS_PORT\n");
    // The web console (GET / and /console/<file>): on the public port only, not METRICS_PORT.
    if (auto page = web::console_response(request))
      return *page;
    return route_internal(request);
  }

  /// The voice webhook (README "Cluster"): the call goes where placement finds room (this node,
  /// or a peer whose NODE_STREAM_URL the TwiML then names); when no node has any, the caller
  /// hears FULL_MESSAGE at once. Answered asynchronously: a peer's place is asked by message.
  bool answer_webhook(const net::http_request& request, const net::http_responder& respond) {
    if (request.path() != net::incoming_call_path)
      return false;
    auto read = net::read_incoming_call(request, webhook_);
    if (auto* refused = std::get_if<net::http_response>(&read)) {
      env_->metrics->webhooks(refused->status).Increment();
      spdlog::warn("webhook from {} refused: {} {}", request.remote_address, refused->status,
                   refused->body.substr(0, refused->body.size() - 1));
      respond(std::move(*refused));
      return true;
    }
    auto call = std::get<net::incoming_call>(std::move(read));
    auto own_stream = net::media_stream_url(request, webhook_);
    auto action = net::connect_action_url(request, webhook_);
    auto key = call.call_sid;
    placer_->place(std::move(key), inbound_place_hold, false, metrics::refusal_source::webhook,
                   [this, call = std::move(call), own_stream = std::move(own_stream),
                    action = std::move(action), respond](std::optional<placed_call> where) {
                     env_->metrics->webhooks(200).Increment();
                     if (!where) {
                       spdlog::warn(
                           "[call {}] refused at the webhook: every node is full or overloaded "
                           "(this one is {})",
                           call.call_sid, env_->admission->why_no_room());
                       return respond(net::full_response(webhook_));
                     }
                     if (where->where == metrics::placement_where::peer) {
                       spdlog::info("[call {}] placed on node {}: {}", call.call_sid,
                                    where->node_name, where->stream_url);
                     }
                     respond(net::stream_call_response(
                         call, where->stream_url.empty() ? own_stream : where->stream_url, *tokens_,
                         env_->wall_clock(), action));
                   });
    return true;
  }

  /// GET /cluster (bearer API_TOKEN, like the call API).
  net::http_response answer_cluster(const net::http_request& request) const {
    if (auto refused = refuse_api_request(request, settings_.api_token))
      return api_error_response(*refused);
    if (!cluster_)
      return api_error_response({404, "no cluster: CLUSTER_PORT is not set"});
    return cluster_response(cluster_->view().members(std::chrono::steady_clock::now()));
  }

  /// What the metrics listener serves: probes and metrics; the main port serves them too
  /// (metrics only when METRICS_PORT is not set).
  net::http_response route_internal(const net::http_request& request) {
    const auto path = request.path();
    if (path == "/healthz")
      return net::http_response::text(200, "ok\n");
    if (path == "/readyz") {
      if (draining_) {
        return net::http_response::text(503, "not ready: draining (" +
                                                 std::to_string(env_->calls->active_calls()) +
                                                 " calls live)\n");
      }
      if (!ready_)
        return net::http_response::text(503, "not ready\n");
      // Full or overloaded: the load balancer should send new calls to another node.
      const auto now = std::chrono::steady_clock::now();
      if (const auto refused = env_->admission->refusal_now(now)) {
        return net::http_response::text(
            503, "not ready: " + std::string(actors::to_string(*refused)) + " (" +
                     std::to_string(env_->admission->streaming()) + " calls streaming, " +
                     std::to_string(env_->admission->promised(now)) + " answered, MAX_CALLS " +
                     std::to_string(env_->admission->max_calls()) + ")\n");
      }
      return net::http_response::text(200, "ready\n");
    }
    if (path == "/metrics")
      return metrics_response(*env_->metrics);
    return net::http_response::text(404, "not found\n");
  }

  net::websocket_upgrade_decision upgrade(const net::http_request& request) {
    if (auto why = net::check_media_stream_upgrade(request, webhook_); !why.empty()) {
      spdlog::warn("media stream from {} refused: {}", request.remote_address, why);
      env_->metrics
          ->websocket_connections(metrics::websocket_peer::twilio,
                                  metrics::websocket_outcome::refused)
          .Increment();
      const unsigned status = request.path() == net::media_stream_path ? 403 : 404;
      return net::websocket_upgrade_decision::refused(net::http_response::text(status, why + "\n"));
    }
    if (!webhook_.check_signatures) {
      spdlog::warn("media stream from {} accepted WITHOUT a signature check",
                   request.remote_address);
    }
    return net::websocket_upgrade_decision::accepted(
        actors::make_media_stream_handler(actor_system_, env_));
  }

  config::settings settings_;
  // Declared before the actor system so that it outlives every actor: an actor that ends during
  // the system's shutdown may drop the last reference to a socket, whose destructor reaches
  // into the io_context's services.
  // One event loop per io thread (net/io_shards.hpp); the node's own work is on shard 0.
  net::io_shards shards_;
  asio::io_context& io_ = shards_.shard(0);
  caf::actor_system_config actor_config_;
  caf::actor_system actor_system_;
  std::unique_ptr<net::http_server> http_;
  std::unique_ptr<net::http_server> metrics_http_;  // METRICS_PORT, when set
  std::shared_ptr<actors::bridge_environment> env_;
  std::shared_ptr<actors::file_work_thread> file_thread_;
  std::shared_ptr<actors::upload_thread_pool> upload_threads_;  // RECORDINGS_BUCKET_URL
  std::shared_ptr<actors::object_store> recordings_bucket_;     // RECORDINGS_BUCKET_URL
  std::string recordings_prefix_;                               // ... its prefix
  net::twilio_webhook_settings webhook_;
  std::optional<net::call_token_issuer> tokens_;
  std::shared_ptr<net::tls_context> rest_tls_;  // Twilio's REST API
  std::shared_ptr<call_placer> placer_;         // where new calls go (webhook, POST /calls)
  std::shared_ptr<connect_action_handler> connect_actions_;  // a stream ended: what next
  std::shared_ptr<outbound_dialer> dialer_;                  // POST /calls
  std::shared_ptr<call_controller> controller_;  // the call-control API, transfers, tools
  std::shared_ptr<cluster_node> cluster_;        // CLUSTER_PORT, when set
  std::vector<std::unique_ptr<loop_lag_monitor>> lag_monitors_;  // one per shard: admission
  std::unique_ptr<shard_lags> shard_lags_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_requested_{false};
  std::promise<void> stopped_;
  std::optional<asio::signal_set> signals_;  // SIGINT, SIGTERM: wait(true)
  // The drain: SIGTERM or POST /drain (app/node_drain.hpp). draining_ is read lock-free by
  // /readyz, the webhooks and the heartbeat; the rest only under drain_mutex_.
  std::atomic<bool> draining_{false};
  std::mutex drain_mutex_;
  drain_state drain_;                                   // guarded by drain_mutex_
  asio::steady_timer drain_timer_{io_};                 // guarded by drain_mutex_
  std::set<std::string> told_at_deadline_;              // guarded by drain_mutex_: their CallSids
  std::set<caf::actor_addr> told_sockets_at_deadline_;  // guarded by drain_mutex_: relayed
  upload_drain upload_drain_;                           // guarded by drain_mutex_
  std::atomic<std::size_t> handovers_in_flight_{0};     // asked of the peer or Twilio, unanswered
};

}  // namespace

boost::system::result<std::unique_ptr<bridge_server>, std::string> bridge_server::start(
    const config::settings& settings, overrides options) {
  auto server = std::make_unique<node>(settings);
  if (auto started = server->start(std::move(options)); !started)
    return started.error();
  return std::unique_ptr<bridge_server>(std::move(server));
}

void hold_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
}

}  // namespace switchboard::app
