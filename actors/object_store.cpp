#include "actors/object_store.hpp"

namespace switchboard::actors {

s3_object_store::s3_object_store(net::s3_config config) : client_(std::move(config)) {}

const std::string& s3_object_store::bucket() const {
  return client_.config().bucket;
}

net::s3_result s3_object_store::put_file(const net::s3_put_request& request) {
  return client_.put_file(request);
}

net::s3_result s3_object_store::get(std::string_view key,
                                    const std::function<bool(std::string_view piece)>& on_body) {
  return client_.get(key, on_body);
}

std::string s3_object_store::presign_get(std::string_view key, std::chrono::seconds valid_for) {
  return client_.presign_get(key, valid_for);
}

std::size_t s3_object_store::cancel_requests() {
  return client_.cancel();
}

}  // namespace switchboard::actors
