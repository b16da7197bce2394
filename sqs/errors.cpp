#include "sqs/errors.h"

#include <utility>

#include "sqs/json_service.h"
#include "sqs/types.h"

namespace opfleet::sqs {

Error make_service_error(std::string_view action, std::string code, std::string_view message,
                         int http_status, bool sender_fault) {
  return aws::make_service_error(json_service(), action, std::move(code), message, http_status,
                                 sender_fault ? aws::Fault::kSender : aws::Fault::kReceiver);
}

Error error_from_response(std::string_view action, const aws::HttpResponse& response) {
  return aws::error_from_response(json_service(), action, response);
}

Error BatchEntryError::to_error() const {
  Error e = make_service_error("batch entry " + id, code, message, 0, sender_fault);
  // A "Receiver" fault is SQS's: sending the entry again may work whatever the code says.
  if (!sender_fault) e.retryable = true;
  return e;
}

}  // namespace opfleet::sqs
