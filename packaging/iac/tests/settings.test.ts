// The stack's parameters: defaults, and each kind of bad value refused with a message
// that names the key (readSettings runs before any resource exists).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SettingsError, defaultDlqName, readSettings } from "../src/settings";

const ECS_BASICS = {
  "opfleet:image": "opfleet:1",
  "opfleet:databaseUrl": "postgresql://opfleet:pw@db:5432/opfleet",
};

function refused(raw: Record<string, string>, pattern: RegExp, stack = "dev"): void {
  assert.throws(() => readSettings(raw, stack), (err: unknown) => {
    assert.ok(err instanceof SettingsError, `expected a SettingsError, got ${String(err)}`);
    assert.match((err as SettingsError).message, pattern);
    return true;
  });
}

describe("readSettings", () => {
  it("derives names from the stack and defaults to a FIFO queue with opfleet provision's attributes", () => {
    const s = readSettings({ ...ECS_BASICS }, "staging");
    assert.equal(s.environment, "staging");
    assert.equal(s.project, "opfleet-staging");
    assert.equal(s.target, "aws");
    assert.equal(s.enableEcs, true);
    assert.equal(s.region, "us-east-1");
    assert.equal(s.queue.name, "opfleet-staging-tasks.fifo");
    assert.equal(s.queue.dlqName, "opfleet-staging-tasks-dlq.fifo");
    assert.deepEqual(
      [s.queue.visibilityTimeoutS, s.queue.receiveWaitS, s.queue.retentionS, s.queue.dlqRetentionS, s.queue.maxReceiveCount],
      [60, 20, 345600, 1209600, 5],
    );
    assert.equal(s.supervisor.drainTimeoutS, 100);
    assert.equal(s.supervisor.stopTimeoutS, 120);
  });

  it("takes the region from aws:region and structured values as JSON", () => {
    const s = readSettings(
      {
        ...ECS_BASICS,
        "aws:region": "eu-west-1",
        "opfleet:subnetIds": JSON.stringify(["subnet-1", "subnet-2"]),
        "opfleet:supervisor": JSON.stringify({ workers: 8, desiredCount: "3", environment: { OPFLEET_SLOTS: 2 } }),
      },
      "dev",
    );
    assert.equal(s.region, "eu-west-1");
    assert.deepEqual(s.subnetIds, ["subnet-1", "subnet-2"]);
    assert.equal(s.supervisor.workers, 8);
    assert.equal(s.supervisor.desiredCount, 3);
    assert.deepEqual(s.supervisor.environment, { OPFLEET_SLOTS: "2" });
  });

  it("needs no image or database without ECS (LocalStack Community)", () => {
    const s = readSettings({ "opfleet:target": "localstack", "opfleet:environment": "local" }, "localstack");
    assert.equal(s.enableEcs, false);
    assert.equal(s.localstackEndpoint, "http://localhost:4566");
  });

  it("derives the DLQ name as opfleet provision does", () => {
    assert.equal(defaultDlqName("opfleet-tasks.fifo"), "opfleet-tasks-dlq.fifo");
    assert.equal(defaultDlqName("jobs"), "jobs-dlq");
  });

  it("refuses unknown keys, naming them", () => {
    refused({ ...ECS_BASICS, "opfleet:queuename": "x.fifo" }, /unknown configuration key 'opfleet:queuename'/);
    refused({ ...ECS_BASICS, "opfleet:supervisor": JSON.stringify({ worker: 2 }) }, /unknown key 'worker' in opfleet:supervisor/);
  });

  it("refuses ECS without an image or a database URL", () => {
    refused({ "opfleet:databaseUrl": ECS_BASICS["opfleet:databaseUrl"] }, /opfleet:image is required/);
    refused({ "opfleet:image": "opfleet:1" }, /opfleet:databaseUrl is required/);
    refused({ ...ECS_BASICS, "opfleet:databaseUrl": "mysql://x" }, /must be a postgresql:\/\/ URL/);
  });

  it("refuses bad queue names and a FIFO queue with a standard DLQ", () => {
    refused({ ...ECS_BASICS, "opfleet:queueName": "bad name" }, /not an SQS queue name/);
    refused({ ...ECS_BASICS, "opfleet:queueName": "a.fifo", "opfleet:dlqName": "a-dlq" }, /both be FIFO or both standard/);
  });

  it("refuses a stop timeout that would cut the drain short", () => {
    refused(
      { ...ECS_BASICS, "opfleet:supervisor": JSON.stringify({ drainTimeoutS: 100, stopTimeoutS: 60 }) },
      /stopTimeoutS \(60\) must be at least drainTimeoutS \+ 5/,
    );
    refused({ ...ECS_BASICS, "opfleet:supervisor": JSON.stringify({ stopTimeoutS: 300 }) }, /stopTimeoutS must be a whole number from 2 to 120/);
  });

  it("refuses sizes Fargate does not have, and accepts them on EC2", () => {
    refused({ ...ECS_BASICS, "opfleet:scaler": JSON.stringify({ cpu: 300 }) }, /opfleet:scaler.cpu 300 is not a Fargate size/);
    refused({ ...ECS_BASICS, "opfleet:scaler": JSON.stringify({ cpu: 256, memory: 4096 }) }, /memory 4096 does not fit Fargate cpu 256/);
    const s = readSettings({ ...ECS_BASICS, "opfleet:launchType": "EC2", "opfleet:scaler": JSON.stringify({ cpu: 300 }) }, "dev");
    assert.equal(s.scaler.cpu, 300);
  });

  it("refuses secrets and foreign variables in a service's plain environment", () => {
    refused(
      { ...ECS_BASICS, "opfleet:scheduler": JSON.stringify({ environment: { OPFLEET_DATABASE_URL: "postgresql://x" } }) },
      /only OPFLEET_\* variables other than OPFLEET_DATABASE_URL/,
    );
    refused(
      { ...ECS_BASICS, "opfleet:scheduler": JSON.stringify({ environment: { AWS_SECRET_ACCESS_KEY: "x" } }) },
      /only OPFLEET_\* variables/,
    );
  });

  it("refuses malformed values", () => {
    refused({ ...ECS_BASICS, "opfleet:enableEcs": "yes" }, /opfleet:enableEcs must be true or false/);
    refused({ ...ECS_BASICS, "opfleet:target": "gcp" }, /opfleet:target must be one of aws, localstack/);
    refused({ ...ECS_BASICS, "opfleet:maxReceiveCount": "0" }, /maxReceiveCount must be a whole number from 1/);
    refused({ ...ECS_BASICS, "opfleet:logRetentionDays": "10" }, /not a CloudWatch retention period/);
    refused({ ...ECS_BASICS, "opfleet:subnetIds": "subnet-1" }, /must be a structured value/);
    refused({ ...ECS_BASICS, "opfleet:environment": "Prod_1" }, /opfleet:environment 'Prod_1' must be/);
    refused({ ...ECS_BASICS, "opfleet:endpointForTasks": "localstack:4566" }, /must be an http:\/\/ or https:\/\/ URL/);
    refused({ ...ECS_BASICS, "opfleet:ecrRepositoryArn": "arn:aws:s3:::bucket" }, /not an ECR repository ARN/);
  });
});
