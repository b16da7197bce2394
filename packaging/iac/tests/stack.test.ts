// The whole program under Pulumi's mocks (no engine, no cloud): what it creates for an
// AWS deployment with ECS, how the pieces reference each other, and its outputs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";

import { deployInChild, failingDeploy, ofType, one } from "./deploy";
import type { Deployment } from "./run-stack";

const CONFIG = {
  "aws:region": "eu-west-1",
  "opfleet:image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/opfleet:0.1.0",
  "opfleet:databaseUrl": "postgresql://opfleet:s3cret-pw@db.internal:5432/opfleet",
  "opfleet:supervisor": JSON.stringify({ desiredCount: 3, workers: 6, slots: 2, drainTimeoutS: 90 }),
};

interface Container {
  name: string;
  command: string[];
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  stopTimeout?: number;
  healthCheck?: { command: string[] };
  logConfiguration: { options: Record<string, string> };
}

function container(d: Deployment, task: string): Container {
  const td = one(d, "aws:ecs/taskDefinition:TaskDefinition", `opfleet-test-${task}`);
  const defs = JSON.parse(String(td.inputs["containerDefinitions"])) as Container[];
  assert.equal(defs.length, 1);
  return defs[0] as Container;
}

function env(c: Container): Record<string, string> {
  return Object.fromEntries(c.environment.map((e) => [e.name, e.value]));
}

describe("the stack on AWS with ECS", () => {
  let d: Deployment;
  before(() => {
    d = deployInChild("test", CONFIG);
  });

  it("creates the FIFO task queue with a redrive policy to its FIFO DLQ", () => {
    const q = one(d, "aws:sqs/queue:Queue", "opfleet-test-tasks").inputs;
    const dlq = one(d, "aws:sqs/queue:Queue", "opfleet-test-dlq").inputs;
    assert.equal(q["name"], "opfleet-test-tasks.fifo");
    assert.equal(q["fifoQueue"], true);
    assert.equal(q["contentBasedDeduplication"], false);
    assert.equal(q["deduplicationScope"], "messageGroup");
    assert.equal(q["fifoThroughputLimit"], "perMessageGroupId");
    assert.equal(q["visibilityTimeoutSeconds"], 60);
    assert.deepEqual(JSON.parse(String(q["redrivePolicy"])), {
      deadLetterTargetArn: "arn:aws:sqs:eu-west-1:123456789012:opfleet-test-tasks-dlq.fifo",
      maxReceiveCount: 5,
    });
    assert.equal(dlq["name"], "opfleet-test-tasks-dlq.fifo");
    assert.equal(dlq["fifoQueue"], true);
    assert.equal(dlq["messageRetentionSeconds"], 1209600);
    const allow = ofType(d, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy");
    assert.equal(allow.length, 1);
    assert.deepEqual(JSON.parse(String(allow[0]?.inputs["redriveAllowPolicy"])), {
      redrivePermission: "byQueue",
      sourceQueueArns: ["arn:aws:sqs:eu-west-1:123456789012:opfleet-test-tasks.fifo"],
    });
  });

  it("creates the cluster, three services and four task definitions", () => {
    assert.equal(one(d, "aws:ecs/cluster:Cluster", "opfleet-test").inputs["name"], "opfleet-test");
    const services = ofType(d, "aws:ecs/service:Service").map((s) => s.inputs["name"]).sort();
    assert.deepEqual(services, ["opfleet-test-scaler", "opfleet-test-scheduler", "opfleet-test-supervisor"]);
    const families = ofType(d, "aws:ecs/taskDefinition:TaskDefinition").map((t) => t.inputs["family"]).sort();
    assert.deepEqual(families, ["opfleet-test-migrate", "opfleet-test-scaler", "opfleet-test-scheduler", "opfleet-test-supervisor"]);
    const supervisor = one(d, "aws:ecs/service:Service", "opfleet-test-supervisor").inputs;
    assert.equal(supervisor["desiredCount"], 3);
    assert.equal(supervisor["launchType"], "FARGATE");
    assert.equal(supervisor["deploymentMinimumHealthyPercent"], 100);
    assert.equal(one(d, "aws:ecs/service:Service", "opfleet-test-scaler").inputs["deploymentMaximumPercent"], 100);
    // No subnets configured: the default VPC's, and an egress-only security group.
    const net = supervisor["networkConfiguration"] as { subnets: string[]; securityGroups: string[] };
    assert.deepEqual(net.subnets, ["subnet-default-a", "subnet-default-b"]);
    const sg = one(d, "aws:ec2/securityGroup:SecurityGroup", "opfleet-test-tasks").inputs;
    assert.equal(sg["vpcId"], "vpc-default");
    assert.equal(sg["ingress"], undefined);
  });

  it("runs the right command in each task, with the drain inside the stop timeout", () => {
    const sup = container(d, "supervisor");
    assert.deepEqual(sup.command, [
      "supervise", "--instance", "ecs", "--workers", "6", "--slots", "2", "--drain-timeout-s", "90",
      "--http-listen", "127.0.0.1:9464",
    ]);
    assert.equal(sup.stopTimeout, 120);
    assert.deepEqual(sup.healthCheck?.command, ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9464/healthz"]);
    const scaler = container(d, "scaler");
    assert.deepEqual(scaler.command, ["scale", "--run", "--actuator", "ecs", "--http-listen", "127.0.0.1:9188"]);
    assert.deepEqual(scaler.healthCheck?.command, ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9188/healthz"]);
    assert.deepEqual(container(d, "scheduler").command, ["schedule"]);
    assert.deepEqual(container(d, "migrate").command, ["migrate"]);
  });

  it("configures the tasks through OPFLEET_* variables, the database URL from Secrets Manager only", () => {
    const sup = env(container(d, "supervisor"));
    assert.equal(sup["OPFLEET_QUEUE_NAME"], "opfleet-test-tasks.fifo");
    assert.equal(sup["OPFLEET_DLQ_NAME"], "opfleet-test-tasks-dlq.fifo");
    assert.equal(sup["OPFLEET_REGION"], "eu-west-1");
    assert.equal(sup["OPFLEET_SQS_ENDPOINT"], undefined, "AWS: the default endpoint");
    const scaler = env(container(d, "scaler"));
    assert.equal(scaler["OPFLEET_ECS_CLUSTER"], "opfleet-test");
    assert.equal(scaler["OPFLEET_ECS_SERVICE"], "opfleet-test-supervisor");
    const secretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:opfleet/test/database-url-AbCdEf";
    for (const task of ["supervisor", "scaler", "scheduler", "migrate"]) {
      const c = container(d, task);
      assert.deepEqual(c.secrets, [{ name: "OPFLEET_DATABASE_URL", valueFrom: secretArn }]);
      assert.equal(c.logConfiguration.options["awslogs-group"], `/opfleet/test/${task}`);
      for (const td of ofType(d, "aws:ecs/taskDefinition:TaskDefinition")) {
        assert.ok(!String(td.inputs["containerDefinitions"]).includes("s3cret-pw"), "password in a task definition");
      }
    }
  });

  it("gives each task its own role with its own policy; migrate gets none", () => {
    const roles = ofType(d, "aws:iam/role:Role").map((r) => r.inputs["name"]).sort();
    assert.deepEqual(roles, [
      "opfleet-test-execution", "opfleet-test-migrate", "opfleet-test-scaler", "opfleet-test-scheduler", "opfleet-test-supervisor",
    ]);
    const policies = ofType(d, "aws:iam/rolePolicy:RolePolicy").map((p) => p.inputs["name"]).sort();
    assert.deepEqual(policies, ["opfleet-test-execution", "opfleet-test-scaler", "opfleet-test-scheduler", "opfleet-test-supervisor"]);
    const td = one(d, "aws:ecs/taskDefinition:TaskDefinition", "opfleet-test-scheduler").inputs;
    assert.equal(td["taskRoleArn"], "arn:aws:iam::123456789012:role/opfleet-test-scheduler");
    assert.equal(td["executionRoleArn"], "arn:aws:iam::123456789012:role/opfleet-test-execution");
    const scheduler = JSON.parse(String(one(d, "aws:iam/rolePolicy:RolePolicy", "opfleet-test-scheduler").inputs["policy"]));
    assert.deepEqual(scheduler.Statement[0].Resource, "arn:aws:sqs:eu-west-1:123456789012:opfleet-test-tasks.fifo");
  });

  it("keeps log groups with the configured retention, and the secret out of plain text", () => {
    const groups = ofType(d, "aws:cloudwatch/logGroup:LogGroup");
    assert.equal(groups.length, 4);
    for (const g of groups) assert.equal(g.inputs["retentionInDays"], 14);
    const version = ofType(d, "aws:secretsmanager/secretVersion:SecretVersion");
    assert.equal(version.length, 1);
  });

  it("puts every resource on the stack's explicit AWS provider", () => {
    for (const r of d.resources) {
      if (r.type.startsWith("pulumi:providers:")) continue;
      assert.match(r.provider, /pulumi:providers:aws::opfleet-test-aws::/, `${r.type} ${r.name}`);
    }
    const provider = one(d, "pulumi:providers:aws", "opfleet-test-aws").inputs;
    assert.equal(provider["endpoints"], undefined, "AWS: no endpoint overrides");
  });

  it("outputs the queue URLs, endpoints and service names", () => {
    const o = d.outputs;
    assert.equal(o["queueUrl"], "https://sqs.eu-west-1.amazonaws.com/123456789012/opfleet-test-tasks.fifo");
    assert.equal(o["dlqUrl"], "https://sqs.eu-west-1.amazonaws.com/123456789012/opfleet-test-tasks-dlq.fifo");
    assert.equal(o["sqsEndpoint"], "https://sqs.eu-west-1.amazonaws.com");
    assert.equal(o["ecsEndpoint"], "https://ecs.eu-west-1.amazonaws.com");
    assert.equal(o["clusterName"], "opfleet-test");
    assert.deepEqual(o["serviceNames"], {
      supervisor: "opfleet-test-supervisor",
      scaler: "opfleet-test-scaler",
      scheduler: "opfleet-test-scheduler",
    });
    assert.equal(o["migrateTaskDefinition"], "opfleet-test-migrate");
  });
});

// The opfleet binary to hold the task commands against (scripts/check-packaging sets it to
// the packaged one); without it this test says so and checks nothing.
const BINARY = process.env["OPFLEET_BINARY"] ?? "";

describe("the task command lines", () => {
  it("and environments are accepted by the opfleet binary (OPFLEET_BINARY)", { skip: BINARY === "" ? "OPFLEET_BINARY is not set" : false }, () => {
    const d = deployInChild("test", CONFIG);
    for (const task of ["supervisor", "scaler", "scheduler", "migrate"]) {
      const c = container(d, task);
      const clean = { PATH: "/usr/bin:/bin" };
      // Every flag parses (--help exits 0 only after parsing them all)...
      const r = spawnSync(BINARY, [...c.command, "--help"], { encoding: "utf8", env: clean });
      assert.equal(r.status, 0, `${task}: opfleet ${c.command.join(" ")}: ${r.stderr}`);
      // ...and every OPFLEET_* variable is valid for the command.
      const show = spawnSync(BINARY, ["config", "show", "--for", c.command[0] as string, "--config", "/dev/null"], {
        encoding: "utf8",
        env: { ...clean, ...env(c) },
      });
      assert.equal(show.status, 0, `${task}: ${show.stderr}`);
    }
  });
});

describe("a refused configuration", () => {
  it("stops the program before any resource, naming the key", () => {
    const err = failingDeploy("test", { ...CONFIG, "opfleet:maxReceiveCount": "none" });
    assert.match(err, /opfleet:maxReceiveCount must be a whole number/);
  });
});
