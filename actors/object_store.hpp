#pragma once
// The bucket as the uploader and the call API see it: blocking calls, run only on threads of
// their own (the upload threads, the call API's file readers), never on an io thread. In
// production net::s3_client behind it (app/); in actor tests a fake that answers as the test
// says, so the uploader's protocol runs under CAF's deterministic scheduler without S3.

#include "net/s3_client.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace switchboard::actors {

class object_store {
 public:
  virtual ~object_store() = default;
  /// The bucket every key lives in (for "s3://bucket/key" in call.json).
  virtual const std::string& bucket() const = 0;
  /// Uploads one file; thread-safe.
  virtual net::s3_result put_file(const net::s3_put_request& request) = 0;
  /// GET, the body in pieces as it arrives (return false to stop).
  virtual net::s3_result get(std::string_view key,
                             const std::function<bool(std::string_view piece)>& on_body) = 0;
  /// A presigned GET URL valid for `valid_for`.
  virtual std::string presign_get(std::string_view key, std::chrono::seconds valid_for) = 0;
  /// The node stops: requests under way end soon as retryable failures, later ones at once.
  /// Returns how many were under way.
  virtual std::size_t cancel_requests() = 0;
};

/// The bucket of RECORDINGS_BUCKET_URL through net::s3_client.
class s3_object_store final : public object_store {
 public:
  explicit s3_object_store(net::s3_config config);

  const std::string& bucket() const override;
  net::s3_result put_file(const net::s3_put_request& request) override;
  net::s3_result get(std::string_view key,
                     const std::function<bool(std::string_view piece)>& on_body) override;
  std::string presign_get(std::string_view key, std::chrono::seconds valid_for) override;
  std::size_t cancel_requests() override;

 private:
  net::s3_client client_;
};

}  // namespace switchboard::actors
