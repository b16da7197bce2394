// The opfleet deployment: the SQS FIFO task queue and its DLQ, and (enableEcs) the ECS
// cluster, the supervisor, scaler and scheduler services with their task definitions, a
// one-off migrate task definition, least-privilege IAM roles, log groups and the database
// URL secret. The same program deploys to AWS or LocalStack (settings.target).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import { ContainerInputs, SCRATCH_VOLUME, ServiceName, containerDefinition } from "./containers";
import {
  Arns,
  PolicyDocument,
  assumeRolePolicyJson,
  executionPolicy,
  scalerPolicy,
  schedulerPolicy,
  supervisorPolicy,
} from "./policies";
import { makeProvider } from "./provider";
import type { ServiceSettings, Settings } from "./settings";

export interface StackOutputs {
  environment: string;
  target: string;
  region: string;
  queueName: string;
  queueUrl: pulumi.Output<string>;
  queueArn: pulumi.Output<string>;
  dlqName: string;
  dlqUrl: pulumi.Output<string>;
  dlqArn: pulumi.Output<string>;
  // Where opfleet reaches SQS and ECS: `--sqs-endpoint` / `--ecs-endpoint`.
  sqsEndpoint: string;
  ecsEndpoint: string;
  clusterName?: pulumi.Output<string>;
  serviceNames?: Record<"supervisor" | "scaler" | "scheduler", pulumi.Output<string>>;
  migrateTaskDefinition?: pulumi.Output<string>;
  logGroups?: Record<ServiceName, pulumi.Output<string>>;
  databaseSecretArn?: pulumi.Output<string>;
}

const SERVICES = ["supervisor", "scaler", "scheduler"] as const;
const TASKS: readonly ServiceName[] = [...SERVICES, "migrate"];

export function deploy(s: Settings): StackOutputs {
  const provider = makeProvider(s);
  const opts: pulumi.CustomResourceOptions = { provider };
  const p = s.project;
  const fifo = s.queue.name.endsWith(".fifo");

  // ---- Queues -----------------------------------------------------------------------
  // Attributes as `opfleet provision` sets them (sqs/provision.h), so provision run
  // against this stack's queues finds nothing to change.
  const dlq = new aws.sqs.Queue(
    `${p}-dlq`,
    {
      name: s.queue.dlqName,
      fifoQueue: fifo,
      messageRetentionSeconds: s.queue.dlqRetentionS,
      sqsManagedSseEnabled: true,
    },
    opts,
  );
  const queue = new aws.sqs.Queue(
    `${p}-tasks`,
    {
      name: s.queue.name,
      fifoQueue: fifo,
      // opfleet sets MessageDeduplicationId (key + attempt) itself: a retried step must
      // not be taken for a duplicate of its first attempt, as a body hash would be.
      contentBasedDeduplication: fifo ? false : undefined,
      // MessageGroupId is the idempotency key, so there are as many groups as steps:
      // high-throughput FIFO (quotas per group, not per queue).
      deduplicationScope: fifo ? "messageGroup" : undefined,
      fifoThroughputLimit: fifo ? "perMessageGroupId" : undefined,
      visibilityTimeoutSeconds: s.queue.visibilityTimeoutS,
      receiveWaitTimeSeconds: s.queue.receiveWaitS,
      messageRetentionSeconds: s.queue.retentionS,
      redrivePolicy: dlq.arn.apply((arn) =>
        JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: s.queue.maxReceiveCount }),
      ),
      sqsManagedSseEnabled: true,
    },
    opts,
  );
  // Only the task queue may use the DLQ as its dead-letter queue.
  new aws.sqs.RedriveAllowPolicy(
    `${p}-dlq-redrive-allow`,
    {
      queueUrl: dlq.url,
      redriveAllowPolicy: queue.arn.apply((arn) =>
        JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [arn] }),
      ),
    },
    opts,
  );

  const outputs: StackOutputs = {
    environment: s.environment,
    target: s.target,
    region: s.region,
    queueName: s.queue.name,
    queueUrl: queue.url,
    queueArn: queue.arn,
    dlqName: s.queue.dlqName,
    dlqUrl: dlq.url,
    dlqArn: dlq.arn,
    sqsEndpoint: s.target === "localstack" ? s.localstackEndpoint : `https://sqs.${s.region}.amazonaws.com`,
    ecsEndpoint: s.target === "localstack" ? s.localstackEndpoint : `https://ecs.${s.region}.amazonaws.com`,
  };
  if (!s.enableEcs) return outputs;

  // ---- ECS: logs, secret, cluster ------------------------------------------------------
  const identity = aws.getCallerIdentityOutput({}, { provider });
  const partition = aws.getPartitionOutput({}, { provider });

  const logGroups = {} as Record<ServiceName, aws.cloudwatch.LogGroup>;
  for (const task of TASKS) {
    logGroups[task] = new aws.cloudwatch.LogGroup(
      `${p}-${task}`,
      { name: `/opfleet/${s.environment}/${task}`, retentionInDays: s.logRetentionDays },
      opts,
    );
  }

  const secret = new aws.secretsmanager.Secret(
    `${p}-database-url`,
    {
      name: `opfleet/${s.environment}/database-url`,
      description: "PostgreSQL URL of the opfleet ledger (OPFLEET_DATABASE_URL of every task)",
      // LocalStack stacks are thrown away and recreated: a 30-day recovery window would
      // keep the name taken.
      recoveryWindowInDays: s.target === "localstack" ? 0 : 30,
    },
    opts,
  );
  new aws.secretsmanager.SecretVersion(
    `${p}-database-url`,
    { secretId: secret.id, secretString: pulumi.secret(s.databaseUrl) },
    opts,
  );

  const cluster = new aws.ecs.Cluster(
    p,
    { name: p, settings: [{ name: "containerInsights", value: "enabled" }] },
    opts,
  );
  const serviceName = (svc: string) => `${p}-${svc}`;

  // ---- IAM ----------------------------------------------------------------------------
  const arns: pulumi.Output<Arns> = pulumi
    .all([
      partition.partition,
      identity.accountId,
      queue.arn,
      dlq.arn,
      secret.arn,
      pulumi.all(TASKS.map((t) => logGroups[t].arn)),
    ])
    .apply(([part, account, queueArn, dlqArn, secretArn, logArns]) => ({
      partition: part,
      region: s.region,
      account,
      queueArn,
      dlqArn,
      clusterName: p,
      supervisorServiceName: serviceName("supervisor"),
      logGroupArns: logArns,
      databaseSecretArn: secretArn,
    }));

  const role = (name: string, description: string, policy?: pulumi.Output<PolicyDocument>) => {
    const r = new aws.iam.Role(
      `${p}-${name}`,
      {
        name: `${p}-${name}`,
        description,
        assumeRolePolicy: identity.accountId.apply(assumeRolePolicyJson),
      },
      opts,
    );
    const attached =
      policy === undefined
        ? undefined
        : new aws.iam.RolePolicy(
            `${p}-${name}`,
            { name: `${p}-${name}`, role: r.id, policy: policy.apply((d) => JSON.stringify(d)) },
            opts,
          );
    return { role: r, policy: attached };
  };

  const execution = role(
    "execution",
    "ECS starts opfleet tasks: writes their logs, reads the database URL secret",
    arns.apply((a) => executionPolicy(a, s.ecrRepositoryArn === "" ? undefined : s.ecrRepositoryArn)),
  );
  const taskRoles = {
    supervisor: role("supervisor", "opfleet supervise: consume the task queue", arns.apply(supervisorPolicy)),
    scaler: role("scaler", "opfleet scaler: queue depth, supervisor service size", arns.apply(scalerPolicy)),
    scheduler: role("scheduler", "opfleet schedule: submit runs", arns.apply(schedulerPolicy)),
    // `opfleet migrate` talks to PostgreSQL only: a role with no permissions at all.
    migrate: role("migrate", "opfleet migrate: no AWS permissions"),
  };

  // ---- Network --------------------------------------------------------------------------
  let subnets: pulumi.Input<pulumi.Input<string>[]> = s.subnetIds;
  let vpcId: pulumi.Output<string> | undefined;
  if (s.subnetIds.length === 0) {
    vpcId = aws.ec2.getVpcOutput({ default: true }, { provider }).id;
    subnets = aws.ec2.getSubnetsOutput(
      { filters: [{ name: "vpc-id", values: [vpcId] }] },
      { provider },
    ).ids;
  }
  let securityGroups: pulumi.Input<pulumi.Input<string>[]> = s.securityGroupIds;
  if (s.securityGroupIds.length === 0) {
    // Egress only: the tasks call SQS, ECS, Secrets Manager, CloudWatch and PostgreSQL;
    // nothing calls them (health checks run inside the task).
    const sg = new aws.ec2.SecurityGroup(
      `${p}-tasks`,
      {
        name: `${p}-tasks`,
        description: "opfleet tasks: outbound only",
        vpcId,
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      },
      opts,
    );
    securityGroups = [sg.id];
  }

  // ---- Task definitions and services -------------------------------------------------------
  const taskDefinition = (task: ServiceName, size: { cpu: number; memory: number }) => {
    const inputs: pulumi.Output<ContainerInputs> = pulumi
      .all([logGroups[task].name, secret.arn, cluster.name])
      .apply(([logGroupName, databaseSecretArn, clusterName]) => ({
        logGroupName,
        databaseSecretArn,
        clusterName,
        supervisorServiceName: serviceName("supervisor"),
      }));
    return new aws.ecs.TaskDefinition(
      `${p}-${task}`,
      {
        family: `${p}-${task}`,
        requiresCompatibilities: [s.launchType],
        networkMode: "awsvpc",
        cpu: String(size.cpu),
        memory: String(size.memory),
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
        executionRoleArn: execution.role.arn,
        taskRoleArn: taskRoles[task].role.arn,
        volumes: [{ name: SCRATCH_VOLUME }],
        containerDefinitions: inputs.apply((c) => JSON.stringify([containerDefinition(task, s, c)])),
      },
      opts,
    );
  };

  const services = {} as Record<(typeof SERVICES)[number], aws.ecs.Service>;
  for (const svc of SERVICES) {
    const size: ServiceSettings = s[svc];
    const td = taskDefinition(svc, size);
    const supervisor = svc === "supervisor";
    const dependsOn = [execution.policy, taskRoles[svc].policy].filter(
      (r): r is aws.iam.RolePolicy => r !== undefined,
    );
    services[svc] = new aws.ecs.Service(
      `${p}-${svc}`,
      {
        name: serviceName(svc),
        cluster: cluster.arn,
        taskDefinition: td.arn,
        desiredCount: size.desiredCount,
        launchType: s.launchType,
        networkConfiguration: { subnets, securityGroups, assignPublicIp: s.assignPublicIp },
        // Supervisors: start the new tasks before the old ones drain, so capacity never
        // drops during a deployment. Scaler: never two at once, or they fight over the
        // desired count. Scheduler: two at once are harmless (a tick is recorded once).
        deploymentMinimumHealthyPercent: supervisor ? 100 : 0,
        deploymentMaximumPercent: svc === "scaler" ? 100 : 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        enableEcsManagedTags: true,
        propagateTags: "SERVICE",
      },
      {
        ...opts,
        dependsOn,
        // After creation the scaler owns the supervisors' desired count; a later
        // `pulumi up` must not reset it.
        ignoreChanges: supervisor ? ["desiredCount"] : [],
      },
    );
  }
  const migrate = taskDefinition("migrate", s.scheduler);

  outputs.clusterName = cluster.name;
  outputs.serviceNames = {
    supervisor: services.supervisor.name,
    scaler: services.scaler.name,
    scheduler: services.scheduler.name,
  };
  outputs.migrateTaskDefinition = migrate.family;
  outputs.logGroups = Object.fromEntries(TASKS.map((t) => [t, logGroups[t].name])) as Record<
    ServiceName,
    pulumi.Output<string>
  >;
  outputs.databaseSecretArn = secret.arn;
  return outputs;
}
