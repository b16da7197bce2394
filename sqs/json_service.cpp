#include "sqs/json_service.h"

#include <string_view>

#include "sqs/wire.h"

namespace opfleet::sqs {
namespace {

// Codes from the SQS API reference (JSON and query names) and KMS errors SQS passes through
// for encrypted queues; the AWS common errors (throttling, validation, signatures...) are
// aws/json_errors.cpp's. Matching is exact after normalize_error_code() and after dropping
// "AWS.SimpleQueueService." / "KMS." prefixes.
constexpr aws::ErrorCodeKind kCodes[] = {
    // The queue is not there.
    {"QueueDoesNotExist", ErrorKind::kNotFound},
    {"NonExistentQueue", ErrorKind::kNotFound},
    {"KmsNotFound", ErrorKind::kNotFound},
    // Slow down.
    {"RequestThrottled", ErrorKind::kThrottled},
    {"KmsThrottled", ErrorKind::kThrottled},
    {"SlowDown", ErrorKind::kThrottled},
    // Too many in-flight messages (120k standard / 20k FIFO): waits for deletes to catch up.
    {"OverLimit", ErrorKind::kThrottled},
    // The request is wrong: repeating it will not help.
    {"InvalidParameterValueException", ErrorKind::kInvalid},
    {"MissingRequiredParameterException", ErrorKind::kInvalid},
    {"InvalidAttributeName", ErrorKind::kInvalid},
    {"InvalidAttributeValue", ErrorKind::kInvalid},
    {"InvalidMessageContents", ErrorKind::kInvalid},
    {"InvalidBatchEntryId", ErrorKind::kInvalid},
    {"BatchEntryIdsNotDistinct", ErrorKind::kInvalid},
    {"EmptyBatchRequest", ErrorKind::kInvalid},
    {"TooManyEntriesInBatchRequest", ErrorKind::kInvalid},
    {"BatchRequestTooLong", ErrorKind::kInvalid},
    {"ReceiptHandleIsInvalid", ErrorKind::kInvalid},
    {"InvalidIdFormat", ErrorKind::kInvalid},
    {"MessageNotInflight", ErrorKind::kInvalid},
    {"UnsupportedOperation", ErrorKind::kInvalid},
    {"InvalidAddress", ErrorKind::kInvalid},
    {"MissingAction", ErrorKind::kInvalid},
    {"InvalidQueryParameter", ErrorKind::kInvalid},
    {"KmsDisabled", ErrorKind::kInvalid},
    {"KmsInvalidState", ErrorKind::kInvalid},
    {"KmsInvalidKeyUsage", ErrorKind::kInvalid},
    {"KmsOptInRequired", ErrorKind::kInvalid},
    // Exists with other settings, or a state that only time resolves.
    {"QueueNameExists", ErrorKind::kConflict},
    {"QueueAlreadyExists", ErrorKind::kConflict},
    {"QueueDeletedRecently", ErrorKind::kConflict},
    {"PurgeQueueInProgress", ErrorKind::kConflict},
    // Who we are or how we signed is not accepted.
    {"KmsAccessDenied", ErrorKind::kAuth},
    {"InvalidSecurity", ErrorKind::kAuth},
    {"InvalidAccessKeyId", ErrorKind::kAuth},
};

// SQS's query-protocol names ("AWS.SimpleQueueService.NonExistentQueue") and KMS errors
// passed through ("KMS.DisabledException") mean what the bare name does.
constexpr std::string_view kCodePrefixes[] = {"AWS.SimpleQueueService.", "KMS."};

constexpr aws::JsonService kService{
    .name = "SQS",
    .signing_name = "sqs",
    .content_type = wire::kContentType,
    .target_prefix = wire::kTargetPrefix,
    .retry_event = "sqs_retry",
    .error_codes = kCodes,
    .code_prefixes = kCodePrefixes,
    // SQS moved from the query protocol to JSON and still sends x-amzn-query-error.
    .query_compatible = true,
};

}  // namespace

const aws::JsonService& json_service() {
  return kService;
}

}  // namespace opfleet::sqs
