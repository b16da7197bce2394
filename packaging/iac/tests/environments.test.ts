// Every parameter file (Pulumi.<stack>.yaml) deploys under mocks: its keys are known,
// its values valid, and it creates what its environment is for.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { readSettings } from "../src/settings";
import { deployInChild, ofType, one, parameterFile, stacks } from "./deploy";

// What an operator sets with `pulumi config set [--secret]` before the first deployment
// of an AWS stack (the parameter files say so); everything else comes from the file.
const OPERATOR_SET: Record<string, string> = {
  "opfleet:databaseUrl": "postgresql://opfleet:pw@db.internal:5432/opfleet",
  "opfleet:image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/opfleet:0.1.0",
};

function config(stack: string): Record<string, string> {
  const file = parameterFile(stack);
  return file["opfleet:target"] === "aws" ? { ...OPERATOR_SET, ...file } : file;
}

describe("parameter files", () => {
  it("exist for LocalStack (Community and Pro) and AWS (dev and prod)", () => {
    assert.deepEqual(stacks(), ["dev", "localstack", "localstack-pro", "prod"]);
  });

  for (const stack of stacks()) {
    it(`${stack}: every key is known and every value valid`, () => {
      const s = readSettings(config(stack), stack);
      assert.equal(s.environment, parameterFile(stack)["opfleet:environment"]);
    });
  }

  it("localstack: the queues only, every call to LocalStack", () => {
    const d = deployInChild("localstack", config("localstack"));
    const types = [...new Set(d.resources.map((r) => r.type))].sort();
    assert.deepEqual(types, ["aws:sqs/queue:Queue", "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "pulumi:providers:aws"]);
    const provider = ofType(d, "pulumi:providers:aws")[0]?.inputs ?? {};
    const endpoints = JSON.parse(String(provider["endpoints"])) as Record<string, string>[];
    assert.equal(endpoints[0]?.["sqs"], "http://localhost:4566");
    assert.equal(provider["skipCredentialsValidation"], "true");
    assert.equal(d.outputs["queueName"], "opfleet-tasks.fifo");
    assert.equal(d.outputs["sqsEndpoint"], "http://localhost:4566");
    assert.equal(d.outputs["clusterName"], undefined);
  });

  it("localstack-pro: ECS too, tasks reaching LocalStack by service name", () => {
    const d = deployInChild("localstack-pro", config("localstack-pro"));
    assert.equal(ofType(d, "aws:ecs/service:Service").length, 3);
    const td = one(d, "aws:ecs/taskDefinition:TaskDefinition", "opfleet-localpro-supervisor");
    const env = JSON.parse(String(td.inputs["containerDefinitions"]))[0].environment as { name: string; value: string }[];
    assert.ok(env.some((e) => e.name === "OPFLEET_SQS_ENDPOINT" && e.value === "http://localstack:4566"));
    assert.equal(d.outputs["ecsEndpoint"], "http://localhost:4566");
    assert.deepEqual(d.outputs["serviceNames"], {
      supervisor: "opfleet-localpro-supervisor",
      scaler: "opfleet-localpro-scaler",
      scheduler: "opfleet-localpro-scheduler",
    });
  });

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: ECS on AWS, sized by its file`, () => {
      const d = deployInChild(stack, config(stack));
      const s = readSettings(config(stack), stack);
      const supervisor = one(d, "aws:ecs/service:Service", `opfleet-${stack}-supervisor`).inputs;
      assert.equal(supervisor["desiredCount"], s.supervisor.desiredCount);
      const provider = ofType(d, "pulumi:providers:aws")[0]?.inputs ?? {};
      assert.equal(provider["endpoints"], undefined);
      assert.equal(provider["region"], "eu-west-1");
      assert.equal(d.outputs["queueUrl"], `https://sqs.eu-west-1.amazonaws.com/123456789012/opfleet-${stack}-tasks.fifo`);
    });
  }
});
