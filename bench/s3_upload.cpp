// s3_upload: the object storage client's upload throughput against an S3 endpoint (the stand-in
// of tests/s3 on loopback, or a real bucket), for one file of --size-mb, as a single PUT and as a
// multipart upload with the default part size (what the uploader does above 16 MiB). Prints MB/s
// per run and the median. Credentials from the command line; nothing is asserted.
//
//   node tests/s3/s3_standin.mjs --bucket bench &        # prints its port
//   build/bench/s3_upload --endpoint http://127.0.0.1:PORT --bucket bench
//       --access-key S3RVER --secret-key S3RVER --size-mb 50 --runs 3     (one line)
#include "net/s3_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

using namespace switchboard::net;

namespace {

int usage() {
  std::cerr << "usage: s3_upload --endpoint URL --bucket NAME --access-key K --secret-key S "
               "[--region R] [--size-mb N] [--runs K] [--virtual-host]\n";
  return 2;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  s3_config config;
  config.path_style = true;
  std::size_t size_mb = 50;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--virtual-host") {
      config.path_style = false;
      continue;
    }
    if (i + 1 >= argc)
      return usage();
    const std::string value = argv[++i];
    if (name == "--endpoint")
      config.endpoint = value;
    else if (name == "--bucket")
      config.bucket = value;
    else if (name == "--access-key")
      config.credentials.access_key_id = value;
    else if (name == "--secret-key")
      config.credentials.secret_access_key = value;
    else if (name == "--region")
      config.region = value;
    else if (name == "--size-mb")
      size_mb = std::stoul(value);
    else if (name == "--runs")
      runs = std::stoi(value);
    else
      return usage();
  }
  if (config.bucket.empty() || config.credentials.access_key_id.empty())
    return usage();
  config.timeout = std::chrono::minutes(10);

  // Random bytes: nothing on the way can compress them.
  const auto file = std::filesystem::temp_directory_path() /
                    ("s3_upload_bench_" + std::to_string(::getpid()) + ".bin");
  {
    std::ofstream out(file, std::ios::binary);
    std::mt19937_64 random(42);
    std::vector<std::uint64_t> block(1 << 17);  // 1 MiB
    for (std::size_t mb = 0; mb < size_mb; ++mb) {
      for (auto& word : block)
        word = random();
      out.write(reinterpret_cast<const char*>(block.data()),
                static_cast<std::streamsize>(block.size() * sizeof(std::uint64_t)));
    }
  }
  const double megabytes = static_cast<double>(size_mb) * 1.048576;  // MiB to MB

  int status = 0;
  for (const bool multipart : {false, true}) {
    auto mode = config;
    if (!multipart)
      mode.multipart_threshold = size_mb * 1024 * 1024 + 1;
    const s3_client client(mode);
    std::vector<double> rates;
    for (int run = 0; run < runs; ++run) {
      const auto start = std::chrono::steady_clock::now();
      const auto result = client.put_file({"bench/upload.bin", file, "application/octet-stream"});
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      if (result.outcome != s3_outcome::ok) {
        std::cerr << "upload failed: " << result.reason << "\n";
        status = 1;
        break;
      }
      rates.push_back(megabytes / took.count());
      std::printf("%-9s run %d: %zu MiB in %.2f s = %.1f MB/s\n",
                  multipart ? "multipart" : "single", run + 1, size_mb, took.count(), rates.back());
    }
    std::printf("%-9s median: %.1f MB/s (part size %zu MiB)\n", multipart ? "multipart" : "single",
                median(rates), multipart ? mode.part_size >> 20 : size_mb);
  }
  std::filesystem::remove(file);
  return status;
}
