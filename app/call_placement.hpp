#pragma once
// Placement applied (README "Cluster"): the webhook and POST /calls ask call_placer where a new
// call goes. It ranks the nodes (app/placement.hpp), then asks the best for a place: this node's
// admission directly, a peer's through the node actors (place_request), so that the place is
// counted on the chosen node before the TwiML names it. A refusal (full since its heartbeat,
// overloaded, draining, no answer within the cluster's request timeout) moves on to the next;
// when none is left, every node is full and the caller hears FULL_MESSAGE at once.

#include "actors/admission.hpp"
#include "app/placement.hpp"
#include "metrics/bridge_metrics.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace switchboard::app {

class cluster_node;

/// Where a call went.
struct placed_call {
  metrics::placement_where where = metrics::placement_where::local;
  std::string node_id;     // "" without a cluster
  std::string node_name;   // for the log
  std::string stream_url;  // the peer's NODE_STREAM_URL; empty: this node's own stream URL
};

class call_placer : public std::enable_shared_from_this<call_placer> {
 public:
  struct options {
    std::shared_ptr<actors::call_admission> admission;
    std::shared_ptr<metrics::bridge_metrics> metrics;
    std::string node_name;
    bool has_stream_url = false;     // NODE_STREAM_URL is set
    std::function<bool()> draining;  // read per call
  };
  explicit call_placer(options given) : options_(std::move(given)) {}

  /// Placement across the cluster from now on (null: this node only).
  void join_cluster(std::shared_ptr<const cluster_node> cluster) { cluster_ = std::move(cluster); }

  using done_callback = std::function<void(std::optional<placed_call>)>;
  /// Finds a node with room for the call `admission_key` and holds its place there for `hold`;
  /// `done` once, on this thread or an io thread: where, or nullopt when every node is full
  /// (counted as refused_full). `stay_here`: only this node (POST /calls overrides too large to
  /// travel). `source` labels a local refusal in switchboard_calls_refused_total.
  void place(std::string admission_key, std::chrono::seconds hold, bool stay_here,
             metrics::refusal_source source, done_callback done);
  /// Gives back a place place() held (the dial failed or was refused after placement).
  void release(const placed_call& call, const std::string& admission_key);

 private:
  struct attempt;
  void try_next(std::shared_ptr<attempt> state);
  void finish(const std::shared_ptr<attempt>& state, std::optional<placed_call> where);

  options options_;
  std::shared_ptr<const cluster_node> cluster_;
  placement_tally tally_;
};

}  // namespace switchboard::app
