#include "ecs/errors.h"

#include "ecs/json_service.h"

namespace opfleet::ecs {

Error error_from_response(std::string_view action, const aws::HttpResponse& response) {
  return aws::error_from_response(json_service(), action, response);
}

}  // namespace opfleet::ecs
