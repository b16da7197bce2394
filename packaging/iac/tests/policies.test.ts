// Least privilege, statement by statement: each role may make exactly the calls its
// process makes, on this deployment's resources only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  Arns,
  PolicyDocument,
  assumeRolePolicyJson,
  executionPolicy,
  scalerPolicy,
  schedulerPolicy,
  supervisorPolicy,
} from "../src/policies";

const A: Arns = {
  partition: "aws",
  region: "eu-west-1",
  account: "123456789012",
  queueArn: "arn:aws:sqs:eu-west-1:123456789012:opfleet-dev-tasks.fifo",
  dlqArn: "arn:aws:sqs:eu-west-1:123456789012:opfleet-dev-tasks-dlq.fifo",
  clusterName: "opfleet-dev",
  supervisorServiceName: "opfleet-dev-supervisor",
  logGroupArns: ["arn:aws:logs:eu-west-1:123456789012:log-group:/opfleet/dev/supervisor"],
  databaseSecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:opfleet/dev/database-url-AbCdEf",
};

// Every (action, resource) pair the document allows.
function grants(doc: PolicyDocument): Set<string> {
  const out = new Set<string>();
  for (const st of doc.Statement) {
    assert.equal(st.Effect, "Allow");
    const resources = Array.isArray(st.Resource) ? st.Resource : [st.Resource];
    for (const action of st.Action) for (const r of resources) out.add(`${action} ${r}`);
  }
  return out;
}

function actions(doc: PolicyDocument): string[] {
  return [...new Set(doc.Statement.flatMap((s) => s.Action))].sort();
}

describe("IAM policies", () => {
  it("supervisor: consumes the task queue, sends poison to the DLQ, holds task protection", () => {
    const doc = supervisorPolicy(A);
    assert.deepEqual(actions(doc), [
      "ecs:GetTaskProtection",
      "ecs:UpdateTaskProtection",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]);
    const g = grants(doc);
    assert.ok(g.has(`sqs:ReceiveMessage ${A.queueArn}`));
    assert.ok(!g.has(`sqs:ReceiveMessage ${A.dlqArn}`), "the DLQ is not consumed");
    assert.ok(g.has(`sqs:SendMessage ${A.dlqArn}`));
    assert.ok(g.has("ecs:UpdateTaskProtection arn:aws:ecs:eu-west-1:123456789012:task/opfleet-dev/*"));
  });

  it("scaler: reads queue depth and sizes only the supervisor service", () => {
    const doc = scalerPolicy(A);
    const g = grants(doc);
    const service = "arn:aws:ecs:eu-west-1:123456789012:service/opfleet-dev/opfleet-dev-supervisor";
    assert.ok(g.has(`ecs:UpdateService ${service}`));
    assert.ok(g.has(`ecs:DescribeServices ${service}`));
    assert.ok(![...g].some((x) => x.startsWith("sqs:ReceiveMessage") || x.startsWith("sqs:SendMessage")));
    assert.ok(![...g].some((x) => x.startsWith("ecs:UpdateService") && !x.endsWith(service)));
    // The calls whose resource is "*" are held to the cluster by a condition.
    for (const st of doc.Statement) {
      if (st.Resource === "*") {
        assert.deepEqual(st.Condition, { ArnEquals: { "ecs:cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/opfleet-dev" } });
      }
    }
    assert.deepEqual(actions(doc), [
      "ecs:DescribeServices",
      "ecs:DescribeTasks",
      "ecs:ListContainerInstances",
      "ecs:ListTasks",
      "ecs:StopTask",
      "ecs:UpdateContainerInstancesState",
      "ecs:UpdateService",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]);
  });

  it("scheduler: only submits to the task queue", () => {
    assert.deepEqual(
      [...grants(schedulerPolicy(A))].sort(),
      ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"].map((a) => `${a} ${A.queueArn}`),
    );
  });

  it("execution role: logs into the stack's groups and reads the one secret; ECR only when asked", () => {
    const g = grants(executionPolicy(A));
    assert.deepEqual([...g].sort(), [
      `logs:CreateLogStream ${A.logGroupArns[0]}:log-stream:*`,
      `logs:PutLogEvents ${A.logGroupArns[0]}:log-stream:*`,
      `secretsmanager:GetSecretValue ${A.databaseSecretArn}`,
    ]);
    const repo = "arn:aws:ecr:eu-west-1:123456789012:repository/opfleet";
    const withEcr = grants(executionPolicy(A, repo));
    assert.ok(withEcr.has(`ecr:BatchGetImage ${repo}`));
    assert.ok(withEcr.has("ecr:GetAuthorizationToken *"), "no resource-level permission exists for it");
  });

  it("no role gets a wildcard action or a wildcard resource without a condition", () => {
    for (const doc of [supervisorPolicy(A), scalerPolicy(A), schedulerPolicy(A), executionPolicy(A)]) {
      for (const st of doc.Statement) {
        assert.ok(st.Action.every((a) => !a.includes("*")), `wildcard action in ${st.Sid}`);
        if (st.Resource === "*") assert.ok(st.Condition !== undefined, `unconditioned * in ${st.Sid}`);
      }
    }
  });

  it("trust policy: ECS tasks of this account only", () => {
    const doc = JSON.parse(assumeRolePolicyJson(A.account));
    assert.deepEqual(doc.Statement, [
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": A.account } },
      },
    ]);
  });
});
