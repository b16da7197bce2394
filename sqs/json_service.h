// SQS as the shared AWS JSON layer sees it (aws/json_service.h): the names, content type
// and target prefix of its JSON protocol and the meaning of its error codes.
#pragma once

#include "aws/json_service.h"

namespace opfleet::sqs {

// For aws::JsonClient (sqs::Client) and aws::error_from_response() (sqs/errors.h).
const aws::JsonService& json_service();

}  // namespace opfleet::sqs
