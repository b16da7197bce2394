// IAM policy documents, least privilege: each role gets exactly the calls its process
// makes, on exactly the resources it touches. Pure functions of ARNs so the tests can read
// every statement; the action lists mirror the code (sqs/client.h, ecs/client.h,
// supervisor/ecs_protection.h) and docs/ecs.md.

export interface Statement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: Statement[];
}

// Where the ARNs of one deployment come from.
export interface Arns {
  partition: string;
  region: string;
  account: string;
  queueArn: string;
  dlqArn: string;
  clusterName: string;
  supervisorServiceName: string;
  logGroupArns: string[]; // every log group the tasks write to
  databaseSecretArn: string;
}

function doc(statements: Statement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

function ecsArn(a: Arns, resource: string): string {
  return `arn:${a.partition}:ecs:${a.region}:${a.account}:${resource}`;
}

export function clusterArn(a: Arns): string {
  return ecsArn(a, `cluster/${a.clusterName}`);
}

// ECS may assume the task roles. A trust policy has a Principal and no Resource (so it is
// not a Statement above); the source-account condition stops a confused deputy in another
// account from having ECS assume these roles for it.
export function assumeRolePolicyJson(account: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": account } },
      },
    ],
  });
}

// Used by ECS itself to start a task: write its logs, read the database URL secret.
// Image pulls from a public registry need nothing; an ECR image needs the ECR read
// actions, added when `ecrRepositoryArn` is given.
export function executionPolicy(a: Arns, ecrRepositoryArn?: string): PolicyDocument {
  const statements: Statement[] = [
    {
      Sid: "WriteLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: a.logGroupArns.map((arn) => `${arn}:log-stream:*`),
    },
    {
      Sid: "ReadDatabaseUrl",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: a.databaseSecretArn,
    },
  ];
  if (ecrRepositoryArn !== undefined) {
    statements.push(
      {
        // GetAuthorizationToken has no resource-level permissions.
        Sid: "EcrLogin",
        Effect: "Allow",
        Action: ["ecr:GetAuthorizationToken"],
        Resource: "*",
      },
      {
        Sid: "EcrPull",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        Resource: ecrRepositoryArn,
      },
    );
  }
  return doc(statements);
}

// `opfleet supervise` and its workers: consume the task queue, send downstream steps,
// move poison messages to the DLQ, hand back a dead worker's messages, and hold ECS task
// scale-in protection while ops are in flight.
export function supervisorPolicy(a: Arns): PolicyDocument {
  return doc([
    {
      Sid: "ConsumeTaskQueue",
      Effect: "Allow",
      Action: [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
      ],
      Resource: a.queueArn,
    },
    {
      Sid: "PoisonToDlq",
      Effect: "Allow",
      Action: ["sqs:SendMessage", "sqs:GetQueueUrl"],
      Resource: a.dlqArn,
    },
    {
      // The task scale-in protection endpoint ($ECS_AGENT_URI/task-protection/v1/state)
      // is served by the ECS agent, which calls these APIs with the task's role.
      Sid: "TaskScaleInProtection",
      Effect: "Allow",
      Action: ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"],
      Resource: ecsArn(a, `task/${a.clusterName}/*`),
    },
  ]);
}

// The scaler with the ECS actuator: read queue depth, read and set the supervisor
// service's desired count, and the failure simulation (stop a task, drain an instance).
export function scalerPolicy(a: Arns): PolicyDocument {
  const inCluster = { ArnEquals: { "ecs:cluster": clusterArn(a) } };
  return doc([
    {
      Sid: "ReadQueueDepth",
      Effect: "Allow",
      Action: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
      Resource: [a.queueArn, a.dlqArn],
    },
    {
      Sid: "SizeSupervisorService",
      Effect: "Allow",
      Action: ["ecs:DescribeServices", "ecs:UpdateService"],
      Resource: ecsArn(a, `service/${a.clusterName}/${a.supervisorServiceName}`),
    },
    {
      // ListTasks is authorised on container instances; the cluster condition scopes it.
      Sid: "ListClusterTasks",
      Effect: "Allow",
      Action: ["ecs:ListTasks"],
      Resource: "*",
      Condition: inCluster,
    },
    {
      Sid: "StopClusterTasks",
      Effect: "Allow",
      Action: ["ecs:DescribeTasks", "ecs:StopTask"],
      Resource: ecsArn(a, `task/${a.clusterName}/*`),
      Condition: inCluster,
    },
    {
      Sid: "DrainContainerInstances",
      Effect: "Allow",
      Action: ["ecs:ListContainerInstances", "ecs:UpdateContainerInstancesState"],
      Resource: [clusterArn(a), ecsArn(a, `container-instance/${a.clusterName}/*`)],
    },
  ]);
}

// `opfleet schedule`: submits runs, i.e. sends their root steps to the task queue.
export function schedulerPolicy(a: Arns): PolicyDocument {
  return doc([
    {
      Sid: "SubmitRuns",
      Effect: "Allow",
      Action: ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
      Resource: a.queueArn,
    },
  ]);
}
