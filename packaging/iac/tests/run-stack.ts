// Runs the Pulumi program (index.ts) once under Pulumi's mocks, with no engine, no CLI
// and no cloud: `node out/tests/run-stack.js STACK CONFIG_JSON` prints the resources the
// program registered (type, name, inputs, provider) and its stack outputs as JSON.
// A process per deployment, because a Pulumi program registers its resources once per
// process (deploy.ts runs this through deployInChild()).
import * as pulumi from "@pulumi/pulumi";

export const ACCOUNT = "123456789012";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider: string;
}

export interface Deployment {
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
}

// What AWS would compute for a resource: ARNs, URLs, ids.
function computed(type: string, name: string, inputs: Record<string, unknown>, region: string): Record<string, unknown> {
  const n = String(inputs["name"] ?? inputs["family"] ?? name);
  switch (type) {
    case "aws:sqs/queue:Queue":
      return {
        arn: `arn:aws:sqs:${region}:${ACCOUNT}:${n}`,
        url: `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${n}`,
      };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { arn: `arn:aws:logs:${region}:${ACCOUNT}:log-group:${n}` };
    case "aws:secretsmanager/secret:Secret":
      return { arn: `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${n}-AbCdEf` };
    case "aws:ecs/cluster:Cluster":
      return { arn: `arn:aws:ecs:${region}:${ACCOUNT}:cluster/${n}` };
    case "aws:ecs/taskDefinition:TaskDefinition":
      return { arn: `arn:aws:ecs:${region}:${ACCOUNT}:task-definition/${n}:1`, revision: 1 };
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::${ACCOUNT}:role/${n}` };
    default:
      return {};
  }
}

async function main(): Promise<void> {
  const [stack, configJson] = process.argv.slice(2);
  if (stack === undefined || configJson === undefined) throw new Error("usage: run-stack STACK CONFIG_JSON");
  const config = JSON.parse(configJson) as Record<string, string>;
  const region = config["aws:region"] ?? "us-east-1";
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider ?? "" });
        const state = { ...args.inputs, ...computed(args.type, args.name, args.inputs, region) };
        const id = String(state["url"] ?? state["arn"] ?? `${args.name}-id`);
        return { id, state };
      },
      call(args) {
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: "test" };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
          case "aws:ec2/getVpc:getVpc":
            return { id: "vpc-default", cidrBlock: "172.31.0.0/16" };
          case "aws:ec2/getSubnets:getSubnets":
            return { ids: ["subnet-default-a", "subnet-default-b"] };
          default:
            throw new Error(`unexpected call ${args.token}`);
        }
      },
    },
    "opfleet",
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(config, Object.keys(config).filter((k) => k === "opfleet:databaseUrl"));

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../index") as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) {
    // pulumi.output() unwraps nested outputs too (serviceNames is a map of them).
    const out = pulumi.output(value as pulumi.Input<object>) as pulumi.Output<unknown>;
    outputs[key] = await new Promise((resolve) => {
      out.apply((v) => {
        resolve(v);
        return v;
      });
    });
  }
  await pulumi.runtime.disconnect(); // every registration has reached the mocks
  process.stdout.write(JSON.stringify({ resources, outputs } satisfies Deployment));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
