#include "ecs/json_service.h"

#include "ecs/wire.h"

namespace opfleet::ecs {
namespace {

// Codes from the ECS API reference (the "Errors" section of each action used here); the
// AWS common errors (throttling, validation, signatures..., https://docs.aws.amazon.com/
// AmazonECS/latest/APIReference/CommonErrors.html) are aws/json_errors.cpp's. Matching is
// exact after normalize_error_code().
constexpr aws::ErrorCodeKind kCodes[] = {
    // ECS failed on its side: the same request may succeed later.
    {"ServerException", ErrorKind::kUnavailable},
    // What the call names is not there. A service that is not ACTIVE (being deleted, or
    // deleted) cannot be scaled any more than a missing one.
    {"ClusterNotFoundException", ErrorKind::kNotFound},
    {"ServiceNotFoundException", ErrorKind::kNotFound},
    {"ServiceNotActiveException", ErrorKind::kNotFound},
    {"TargetNotFoundException", ErrorKind::kNotFound},
    {"ResourceNotFoundException", ErrorKind::kNotFound},
    {"TaskSetNotFoundException", ErrorKind::kNotFound},
    {"NamespaceNotFoundException", ErrorKind::kNotFound},
    // The request is wrong (or not allowed for this resource): repeating it will not help.
    // ECS uses ClientException for many caller mistakes, including some permission ones.
    {"ClientException", ErrorKind::kInvalid},
    {"InvalidParameterException", ErrorKind::kInvalid},
    {"UnsupportedFeatureException", ErrorKind::kInvalid},
    {"PlatformUnknownException", ErrorKind::kInvalid},
    {"PlatformTaskDefinitionIncompatibilityException", ErrorKind::kInvalid},
    {"AttributeLimitExceededException", ErrorKind::kInvalid},
    {"LimitExceededException", ErrorKind::kInvalid},
    {"MissingVersionException", ErrorKind::kInvalid},
    {"NoUpdateAvailableException", ErrorKind::kInvalid},
    {"UnknownOperationException", ErrorKind::kInvalid},
    // The resource is in a state that conflicts with the request.
    {"UpdateInProgressException", ErrorKind::kConflict},
    {"ResourceInUseException", ErrorKind::kConflict},
    {"ClusterContainsServicesException", ErrorKind::kConflict},
    {"ClusterContainsTasksException", ErrorKind::kConflict},
    {"ClusterContainsContainerInstancesException", ErrorKind::kConflict},
    // Who we are or how we signed is not accepted.
    {"BlockedException", ErrorKind::kAuth},
    {"NotAuthorized", ErrorKind::kAuth},
};

constexpr aws::JsonService kService{
    .name = "ECS",
    .signing_name = "ecs",
    .content_type = wire::kContentType,
    .target_prefix = wire::kTargetPrefix,
    .retry_event = "ecs_retry",
    .error_codes = kCodes,
    .code_prefixes = {},
    .query_compatible = false,
};

}  // namespace

const aws::JsonService& json_service() {
  return kService;
}

}  // namespace opfleet::ecs
