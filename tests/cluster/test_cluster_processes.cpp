// `switchboard serve` nodes as real child processes on loopback (ports 0, read back: the HTTP
// port from the log, the cluster port from GET /cluster). Three nodes form a full mesh from
// partial seeds; a node killed (SIGKILL) or frozen (SIGSTOP) is marked down by the survivors; a
// restarted node rejoins. The tests wait on each event by polling /cluster with a generous
// overall limit and assert no timing (bench/cluster_detection measures it).
#include "cluster/process_support.hpp"
#include "sim/server_process.hpp"
#include "support/temporary_directory.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using switchboard::sim::server_process;

namespace {

constexpr const char* api_token = "cluster-test-token";

using switchboard::testing::cluster::eventually;
using switchboard::testing::cluster::executable;
using switchboard::testing::cluster::serve_options;

/// GET `path` on 127.0.0.1:`port`, with the bearer token when `token` is not empty.
auto http_get(std::uint16_t port, const std::string& path, const std::string& token = api_token) {
  return switchboard::testing::cluster::http_request(port, "GET", path, token);
}

/// One `switchboard serve` child with a cluster port.
class node_process {
 public:
  node_process(const std::string& name, const std::vector<std::string>& seeds,
               const std::filesystem::path& dir, const std::vector<std::string>& tls = {}) {
    std::string seed_list;
    for (const auto& seed : seeds)
      seed_list += (seed_list.empty() ? "" : ",") + seed;
    auto options = serve_options(dir, name);
    options.environment.insert(
        options.environment.end(),
        {"CLUSTER_PORT=0", tls.empty() ? "CLUSTER_INSECURE=true" : "CLUSTER_INSECURE=false",
         "CLUSTER_SEEDS=" + seed_list, std::string("API_TOKEN=") + api_token,
         "ALLOW_UNSIGNED_TWILIO=true", "RECORDINGS_DIR=" + (dir / name).string(),
         "LOG_LEVEL=info"});
    options.environment.insert(options.environment.end(), tls.begin(), tls.end());
    auto spawned = server_process::spawn(options);
    if (!spawned)
      FAIL("cannot start node " << name << ": " << spawned.error());
    process_ = std::move(*spawned);
    auto port = process_->wait_for_port(30s);
    if (!port)
      FAIL("node " << name << ": " << port.error());
    http_port_ = *port;
    // Its cluster address, from its own row of /cluster.
    const auto view = cluster();
    REQUIRE(view);
    for (const auto& row : view->at("nodes").as_array()) {
      if (row.at("self").as_bool())
        address_ = std::string(row.at("address").as_string());
    }
    REQUIRE_FALSE(address_.empty());
  }

  std::optional<boost::json::object> cluster() const {
    auto answer = http_get(http_port_, "/cluster");
    if (!answer || answer->status != 200)
      return std::nullopt;
    boost::system::error_code ec;
    auto parsed = boost::json::parse(answer->body, ec);
    if (ec || !parsed.is_object())
      return std::nullopt;
    return parsed.as_object();
  }

  /// The state this node shows for `name` ("" when it lists no such node); a down entry only
  /// when no live one carries the name.
  std::string state_of(const std::string& name) const {
    const auto view = cluster();
    if (!view)
      return "";
    std::string state;
    for (const auto& row : view->at("nodes").as_array()) {
      if (row.at("name").as_string() != name)
        continue;
      const std::string row_state(row.at("state").as_string());
      if (state.empty() || state == "down")
        state = row_state;
    }
    return state;
  }

  std::uint16_t http_port() const { return http_port_; }
  const std::string& address() const { return address_; }
  pid_t pid() const { return process_->pid(); }
  void signal(int number) const { ::kill(process_->pid(), number); }
  int terminate() { return process_->terminate(); }

 private:
  std::unique_ptr<server_process> process_;
  std::uint16_t http_port_ = 0;
  std::string address_;
};

bool all_ready(const std::vector<const node_process*>& nodes,
               const std::vector<std::string>& names) {
  for (const auto* node : nodes) {
    for (const auto& name : names) {
      if (node->state_of(name) != "ready")
        return false;
    }
  }
  return true;
}

/// Three nodes from partial seeds: b knows a, c knows only b.
struct three_nodes {
  switchboard::testing::temporary_directory dir;
  node_process a{"node-a", {}, dir.path()};
  node_process b{"node-b", {a.address()}, dir.path()};
  node_process c{"node-c", {b.address()}, dir.path()};
  std::vector<std::string> names{"node-a", "node-b", "node-c"};
};

}  // namespace

TEST_CASE("three nodes form a full mesh: each lists all three ready, with what each reported",
          "[cluster_processes]") {
  three_nodes cluster;
  REQUIRE(eventually([&] {
    return all_ready({&cluster.a, &cluster.b, &cluster.c}, cluster.names);
  }));
  // a had no seed and c knew only b: a and c linked through what b told them.
  const auto view = cluster.a.cluster();
  REQUIRE(view);
  const auto& rows = view->at("nodes").as_array();
  CHECK(rows.size() == 3);
  for (const auto& row : rows) {
    const auto& node = row.as_object();
    INFO(boost::json::serialize(node));
    CHECK(node.at("state") == "ready");
    CHECK(node.at("capacity") == 0);
    CHECK(node.at("active_calls") == 0);
    CHECK(node.at("load").as_double() >= 0.0);
    CHECK(node.at("stream_url") == "");
    if (node.at("name") == "node-c") {
      CHECK(node.at("address").as_string() == cluster.c.address().c_str());
      CHECK(node.at("heartbeat_age_ms").is_int64());
      CHECK_FALSE(node.at("self").as_bool());
    }
  }
  // The metrics count the nodes by state.
  auto metrics = http_get(cluster.a.http_port(), "/metrics", "");
  REQUIRE(metrics);
  CHECK(metrics->body.find("switchboard_cluster_nodes{node=\"node-a\",state=\"ready\"} 3") !=
        std::string::npos);
  CHECK(cluster.a.terminate() == 0);
  CHECK(cluster.b.terminate() == 0);
  CHECK(cluster.c.terminate() == 0);
}

TEST_CASE("a node killed with SIGKILL is marked down by every survivor", "[cluster_processes]") {
  three_nodes cluster;
  REQUIRE(eventually([&] {
    return all_ready({&cluster.a, &cluster.b, &cluster.c}, cluster.names);
  }));
  cluster.c.signal(SIGKILL);
  CHECK(eventually([&] {
    return cluster.a.state_of("node-c") == "down" && cluster.b.state_of("node-c") == "down";
  }));
  CHECK(cluster.a.state_of("node-b") == "ready");
  auto metrics = http_get(cluster.a.http_port(), "/metrics", "");
  REQUIRE(metrics);
  CHECK(metrics->body.find("switchboard_cluster_nodes{node=\"node-a\",state=\"down\"} 1") !=
        std::string::npos);
  cluster.c.terminate();
}

TEST_CASE("a node frozen with SIGSTOP is marked down by every survivor", "[cluster_processes]") {
  three_nodes cluster;
  REQUIRE(eventually([&] {
    return all_ready({&cluster.a, &cluster.b, &cluster.c}, cluster.names);
  }));
  cluster.c.signal(SIGSTOP);
  CHECK(eventually([&] {
    return cluster.a.state_of("node-c") == "down" && cluster.b.state_of("node-c") == "down";
  }));
  CHECK(cluster.a.state_of("node-b") == "ready");
  cluster.c.signal(SIGCONT);
  cluster.c.terminate();
}

TEST_CASE("a restarted node rejoins by itself, in the place of its old entry",
          "[cluster_processes]") {
  switchboard::testing::temporary_directory dir;
  node_process a{"node-a", {}, dir.path()};
  auto b = std::make_unique<node_process>("node-b", std::vector{a.address()}, dir.path());
  REQUIRE(eventually([&] { return all_ready({&a, b.get()}, {"node-a", "node-b"}); }));
  b->signal(SIGKILL);
  b->terminate();
  REQUIRE(eventually([&] { return a.state_of("node-b") == "down"; }));
  b = std::make_unique<node_process>("node-b", std::vector{a.address()}, dir.path());
  CHECK(eventually([&] { return all_ready({&a, b.get()}, {"node-a", "node-b"}); }));
  const auto view = a.cluster();
  REQUIRE(view);
  CHECK(view->at("nodes").as_array().size() == 2);  // the old entry was replaced
}

TEST_CASE("GET /cluster takes the API token, and answers 404 without a cluster",
          "[cluster_processes]") {
  switchboard::testing::temporary_directory dir;
  node_process a{"node-a", {}, dir.path()};
  auto anonymous = http_get(a.http_port(), "/cluster", "");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  auto wrong = http_get(a.http_port(), "/cluster", "not-the-token");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);

  switchboard::sim::server_process_options options;
  options.executable = executable();
  options.arguments = {"serve"};
  options.working_directory = dir.path();
  options.environment = {"PORT=0", "BIND_ADDRESS=127.0.0.1", std::string("API_TOKEN=") + api_token,
                         "ALLOW_UNSIGNED_TWILIO=true",
                         "RECORDINGS_DIR=" + (dir.path() / "alone").string()};
  auto alone = server_process::spawn(options);
  REQUIRE(alone);
  auto port = (*alone)->wait_for_port(30s);
  REQUIRE(port);
  auto answer = http_get(*port, "/cluster");
  REQUIRE(answer);
  CHECK(answer->status == 404);
}

TEST_CASE("a cluster port without TLS and without CLUSTER_INSECURE stops start-up",
          "[cluster_processes]") {
  switchboard::testing::temporary_directory dir;
  switchboard::sim::server_process_options options;
  options.executable = executable();
  options.arguments = {"serve"};
  options.working_directory = dir.path();
  options.environment = {"PORT=0", "BIND_ADDRESS=127.0.0.1", "CLUSTER_PORT=0",
                         "ALLOW_UNSIGNED_TWILIO=true"};
  auto refused = server_process::spawn(options);
  REQUIRE(refused);
  auto port = (*refused)->wait_for_port(30s);
  REQUIRE_FALSE(port);
  CHECK(port.error().find("CLUSTER_PORT") != std::string::npos);
  CHECK(port.error().find("CLUSTER_INSECURE") != std::string::npos);
  CHECK((*refused)->terminate() != 0);
}

namespace {

/// A CA and a node certificate it signed (EKU serverAuth and clientAuth: each node is both
/// ends of mutual TLS), made with the openssl command line into `dir`/`name`*.pem.
void make_ca(const std::filesystem::path& dir, const std::string& name) {
  const auto at = [&](const std::string& file) {
    return (dir / (name + file)).string();
  };
  std::ofstream(at("-ext.cnf")) << "extendedKeyUsage=serverAuth,clientAuth\n"
                                   "subjectAltName=IP:127.0.0.1\n";
  const std::string commands =
      "(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
      at("-ca-key.pem") + " -out " + at("-ca.pem") + " -days 2 -subj /CN=" + name +
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
      at("-node-key.pem") + " -out " + at("-node.csr") +
      " -subj /CN=node && openssl x509 -req -in " + at("-node.csr") + " -CA " + at("-ca.pem") +
      " -CAkey " + at("-ca-key.pem") + " -CAcreateserial -out " + at("-node.pem") +
      " -days 2 -extfile " + at("-ext.cnf") + ") >/dev/null 2>&1";
  REQUIRE(std::system(commands.c_str()) == 0);
}

std::vector<std::string> tls_environment(const std::filesystem::path& dir, const std::string& ca) {
  return {"CLUSTER_TLS_CERT=" + (dir / (ca + "-node.pem")).string(),
          "CLUSTER_TLS_KEY=" + (dir / (ca + "-node-key.pem")).string(),
          "CLUSTER_TLS_CA=" + (dir / (ca + "-ca.pem")).string()};
}

}  // namespace

TEST_CASE(
    "with mutual TLS, nodes of one CA form the cluster and a node of another CA cannot "
    "join",
    "[cluster_processes][cluster_tls]") {
  switchboard::testing::temporary_directory dir;
  make_ca(dir.path(), "one");
  make_ca(dir.path(), "other");
  node_process a{"node-a", {}, dir.path(), tls_environment(dir.path(), "one")};
  node_process b{"node-b", {a.address()}, dir.path(), tls_environment(dir.path(), "one")};
  REQUIRE(eventually([&] { return all_ready({&a, &b}, {"node-a", "node-b"}); }));
  node_process stranger{
      "node-x", {a.address(), b.address()}, dir.path(), tls_environment(dir.path(), "other")};
  // It is ready once it has tried each seed; both handshakes fail on the certificate.
  REQUIRE(eventually([&] { return stranger.state_of("node-x") == "ready"; }));
  CHECK(stranger.cluster()->at("nodes").as_array().size() == 1);
  CHECK(a.state_of("node-x") == "");
  CHECK(b.state_of("node-x") == "");
  CHECK(a.cluster()->at("nodes").as_array().size() == 2);
}
