// ECS as the shared AWS JSON layer sees it (aws/json_service.h): the names, content type
// and target prefix of its JSON 1.1 protocol and the meaning of its error codes.
#pragma once

#include "aws/json_service.h"

namespace opfleet::ecs {

// For aws::JsonClient (ecs::Client) and aws::error_from_response() (ecs/errors.h).
const aws::JsonService& json_service();

}  // namespace opfleet::ecs
