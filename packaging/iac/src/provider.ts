// The AWS provider every resource of the stack uses: AWS itself (credentials and region
// from the usual places), or LocalStack, where every service answers on one endpoint and
// any credentials are accepted.
import * as aws from "@pulumi/aws";

import type { Settings } from "./settings";

// The services this stack calls; with LocalStack each goes to its single endpoint.
const SERVICES = ["sqs", "ecs", "iam", "sts", "logs", "cloudwatchlogs", "ec2", "secretsmanager", "ecr"] as const;

export function providerArgs(s: Settings): aws.ProviderArgs {
  const base: aws.ProviderArgs = {
    region: s.region,
    defaultTags: { tags: { "opfleet:environment": s.environment, ...s.tags } },
  };
  if (s.target === "aws") return base;
  const endpoint: Record<string, string> = {};
  for (const service of SERVICES) endpoint[service] = s.localstackEndpoint;
  return {
    ...base,
    // LocalStack's conventional dummy credentials; it does not check them, and they must
    // never be real ones (LocalStack would log them).
    accessKey: "test",
    secretKey: "test",
    skipCredentialsValidation: true,
    skipMetadataApiCheck: true,
    skipRequestingAccountId: true,
    endpoints: [endpoint],
  };
}

export function makeProvider(s: Settings): aws.Provider {
  return new aws.Provider(`${s.project}-${s.target}`, providerArgs(s));
}
