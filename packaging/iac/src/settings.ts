// The stack's parameters: every `opfleet:*` key of a Pulumi.<stack>.yaml file, read,
// defaulted and checked in one place, before any resource exists. This is a pure function
// of the raw configuration (Pulumi hands it over as strings, structured values as JSON) so
// the tests can feed it parameter files directly; a wrong key or value stops `pulumi up`
// with a message naming the key instead of failing half-way through a deployment.

export type Target = "aws" | "localstack";
export type LaunchType = "FARGATE" | "EC2";

// Sizes and counts of one ECS service.
export interface ServiceSettings {
  cpu: number; // task CPU units (1024 = one vCPU)
  memory: number; // task memory, MiB
  desiredCount: number;
  // Extra OPFLEET_* variables for the container (any option of the command, see
  // docs/configuration.md); values are not secret.
  environment: Record<string, string>;
}

export interface SupervisorSettings extends ServiceSettings {
  workers: number; // worker processes per task (`opfleet supervise --workers`)
  slots: number; // ops run at once per worker (`--slots`)
  // How long a stopping task lets in-flight ops finish before handing them back
  // (`--drain-timeout-s`); ECS waits stopTimeoutS before it SIGKILLs the container.
  drainTimeoutS: number;
  stopTimeoutS: number;
  metricsPort: number; // `--http-listen 127.0.0.1:PORT` (/healthz for the health check)
}

export interface Settings {
  project: string; // resource name prefix: opfleet-<environment>
  environment: string;
  target: Target;
  region: string;
  localstackEndpoint: string; // target localstack: where Pulumi's provider sends every call
  enableEcs: boolean; // false: queues, log groups and roles only (LocalStack without Pro)
  queue: {
    name: string;
    dlqName: string;
    visibilityTimeoutS: number;
    receiveWaitS: number;
    retentionS: number;
    dlqRetentionS: number;
    maxReceiveCount: number;
  };
  image: string;
  databaseUrl: string; // secret; stored in Secrets Manager, never in a task definition
  // The AWS endpoint the tasks call, as OPFLEET_SQS_ENDPOINT and OPFLEET_ECS_ENDPOINT ("" =
  // AWS's own; LocalStack: its address as seen from inside a task).
  endpointForTasks: string;
  ecrRepositoryArn: string; // "" = the image is not in ECR (no ECR pull permissions)
  launchType: LaunchType;
  subnetIds: string[]; // empty: the default VPC's subnets
  securityGroupIds: string[]; // empty: one egress-only group made here
  assignPublicIp: boolean;
  logRetentionDays: number;
  supervisor: SupervisorSettings;
  scaler: ServiceSettings;
  scheduler: ServiceSettings;
  tags: Record<string, string>;
}

export class SettingsError extends Error {}

// The keys a parameter file may set (without the "opfleet:" namespace).
export const KNOWN_KEYS = [
  "environment",
  "target",
  "localstackEndpoint",
  "enableEcs",
  "queueName",
  "dlqName",
  "visibilityTimeoutS",
  "receiveWaitS",
  "retentionS",
  "dlqRetentionS",
  "maxReceiveCount",
  "image",
  "databaseUrl",
  "endpointForTasks",
  "ecrRepositoryArn",
  "launchType",
  "subnetIds",
  "securityGroupIds",
  "assignPublicIp",
  "logRetentionDays",
  "supervisor",
  "scaler",
  "scheduler",
  "tags",
] as const;

const SERVICE_KEYS = ["cpu", "memory", "desiredCount", "environment"];
const SUPERVISOR_KEYS = [
  ...SERVICE_KEYS,
  "workers",
  "slots",
  "drainTimeoutS",
  "stopTimeoutS",
  "metricsPort",
];

// CloudWatch Logs accepts only these retention periods.
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
];

// Fargate's valid CPU units and, for each, the memory range (MiB) and step.
const FARGATE_SIZES: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 1024 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
};

// ECS caps a container's stopTimeout at 120 s (Fargate and the agent's default maximum).
const MAX_STOP_TIMEOUT_S = 120;

// Same rule as `opfleet provision` (sqs::default_dlq_name): "a.fifo" -> "a-dlq.fifo".
export function defaultDlqName(queueName: string): string {
  return queueName.endsWith(".fifo")
    ? `${queueName.slice(0, -".fifo".length)}-dlq.fifo`
    : `${queueName}-dlq`;
}

export function readSettings(raw: Record<string, string>, stack: string): Settings {
  const own: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!key.startsWith("opfleet:")) continue;
    const name = key.slice("opfleet:".length);
    if (!(KNOWN_KEYS as readonly string[]).includes(name)) {
      throw new SettingsError(
        `unknown configuration key 'opfleet:${name}' (known keys: ${KNOWN_KEYS.join(", ")})`,
      );
    }
    own[name] = value;
  }
  const r = new Reader(own);

  const environment = r.string("environment", stack);
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(environment)) {
    throw new SettingsError(
      `opfleet:environment '${environment}' must be 1-20 lower-case letters, digits or dashes, starting with a letter`,
    );
  }
  const target = r.choice("target", ["aws", "localstack"] as const, "aws");
  const enableEcs = r.bool("enableEcs", target === "aws");
  const region = raw["aws:region"] ?? "us-east-1";

  const queueName = r.string("queueName", `opfleet-${environment}-tasks.fifo`);
  checkQueueName("queueName", queueName);
  const dlqName = r.string("dlqName", defaultDlqName(queueName));
  checkQueueName("dlqName", dlqName);
  if (queueName.endsWith(".fifo") !== dlqName.endsWith(".fifo")) {
    throw new SettingsError("opfleet:queueName and opfleet:dlqName must both be FIFO or both standard");
  }

  const supervisorRaw = r.object("supervisor", SUPERVISOR_KEYS);
  const supervisor: SupervisorSettings = {
    ...service("supervisor", supervisorRaw, { cpu: 512, memory: 1024, desiredCount: 2 }),
    workers: int(supervisorRaw, "supervisor.workers", 4, 1, 64),
    slots: int(supervisorRaw, "supervisor.slots", 4, 1, 256),
    drainTimeoutS: int(supervisorRaw, "supervisor.drainTimeoutS", 100, 1, MAX_STOP_TIMEOUT_S),
    stopTimeoutS: int(supervisorRaw, "supervisor.stopTimeoutS", MAX_STOP_TIMEOUT_S, 2, MAX_STOP_TIMEOUT_S),
    metricsPort: int(supervisorRaw, "supervisor.metricsPort", 9464, 1, 65535),
  };
  // The container must outlive the drain, or ECS SIGKILLs ops the drain was finishing.
  if (supervisor.stopTimeoutS < supervisor.drainTimeoutS + 5) {
    throw new SettingsError(
      `opfleet:supervisor.stopTimeoutS (${supervisor.stopTimeoutS}) must be at least drainTimeoutS + 5 (${supervisor.drainTimeoutS + 5}), or ECS kills the container before the drain ends`,
    );
  }
  const scaler = service("scaler", r.object("scaler", SERVICE_KEYS), {
    cpu: 256,
    memory: 512,
    desiredCount: 1,
  });
  const scheduler = service("scheduler", r.object("scheduler", SERVICE_KEYS), {
    cpu: 256,
    memory: 512,
    desiredCount: 1,
  });
  const launchType = r.choice("launchType", ["FARGATE", "EC2"] as const, "FARGATE");
  if (launchType === "FARGATE") {
    for (const [name, s] of [["supervisor", supervisor], ["scaler", scaler], ["scheduler", scheduler]] as const) {
      checkFargateSize(name, s.cpu, s.memory);
    }
  }

  const image = r.string("image", "");
  const databaseUrl = r.string("databaseUrl", "");
  if (enableEcs) {
    if (image === "") throw new SettingsError("opfleet:image is required when opfleet:enableEcs is true");
    if (databaseUrl === "") {
      throw new SettingsError(
        "opfleet:databaseUrl is required when opfleet:enableEcs is true (set it with `pulumi config set --secret opfleet:databaseUrl postgresql://...`)",
      );
    }
  }
  if (databaseUrl !== "" && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new SettingsError("opfleet:databaseUrl must be a postgresql:// URL");
  }

  const localstackEndpoint = r.string("localstackEndpoint", "http://localhost:4566");
  checkUrl("localstackEndpoint", localstackEndpoint);
  const endpointForTasks = r.string("endpointForTasks", "");
  if (endpointForTasks !== "") checkUrl("endpointForTasks", endpointForTasks);
  const ecrRepositoryArn = r.string("ecrRepositoryArn", "");
  if (ecrRepositoryArn !== "" && !/^arn:[a-z-]+:ecr:[a-z0-9-]+:\d{12}:repository\/.+/.test(ecrRepositoryArn)) {
    throw new SettingsError(`opfleet:ecrRepositoryArn '${ecrRepositoryArn}' is not an ECR repository ARN`);
  }

  const logRetentionDays = r.int("logRetentionDays", 14, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new SettingsError(
      `opfleet:logRetentionDays ${logRetentionDays} is not a CloudWatch retention period (${LOG_RETENTION_DAYS.join(", ")})`,
    );
  }

  const settings: Settings = {
    project: `opfleet-${environment}`,
    environment,
    target,
    region,
    localstackEndpoint,
    enableEcs,
    queue: {
      name: queueName,
      dlqName,
      // Defaults are `opfleet provision`'s, so provision run against these queues agrees.
      visibilityTimeoutS: r.int("visibilityTimeoutS", 60, 0, 43200),
      receiveWaitS: r.int("receiveWaitS", 20, 0, 20),
      retentionS: r.int("retentionS", 4 * 24 * 3600, 60, 1209600),
      dlqRetentionS: r.int("dlqRetentionS", 14 * 24 * 3600, 60, 1209600),
      maxReceiveCount: r.int("maxReceiveCount", 5, 1, 1000),
    },
    image,
    databaseUrl,
    endpointForTasks,
    ecrRepositoryArn,
    launchType,
    subnetIds: r.stringList("subnetIds"),
    securityGroupIds: r.stringList("securityGroupIds"),
    assignPublicIp: r.bool("assignPublicIp", false),
    logRetentionDays,
    supervisor,
    scaler,
    scheduler,
    tags: r.stringMap("tags"),
  };
  return settings;
}

function checkQueueName(key: string, name: string): void {
  if (!/^[A-Za-z0-9_-]{1,75}(\.fifo)?$/.test(name) || name.length > 80) {
    throw new SettingsError(
      `opfleet:${key} '${name}' is not an SQS queue name (1-80 of A-Z a-z 0-9 - _, FIFO names end in .fifo)`,
    );
  }
}

function checkUrl(key: string, value: string): void {
  if (!/^https?:\/\/[^\s/]+/.test(value)) {
    throw new SettingsError(`opfleet:${key} '${value}' must be an http:// or https:// URL`);
  }
}

function checkFargateSize(name: string, cpu: number, memory: number): void {
  const size = FARGATE_SIZES[cpu];
  if (size === undefined) {
    throw new SettingsError(
      `opfleet:${name}.cpu ${cpu} is not a Fargate size (${Object.keys(FARGATE_SIZES).join(", ")})`,
    );
  }
  if (memory < size.min || memory > size.max || (memory - size.min) % size.step !== 0) {
    throw new SettingsError(
      `opfleet:${name}.memory ${memory} does not fit Fargate cpu ${cpu} (${size.min}-${size.max} MiB in steps of ${size.step})`,
    );
  }
}

function service(
  name: string,
  raw: Record<string, unknown>,
  defaults: { cpu: number; memory: number; desiredCount: number },
): ServiceSettings {
  const environment = raw["environment"] ?? {};
  if (typeof environment !== "object" || environment === null || Array.isArray(environment)) {
    throw new SettingsError(`opfleet:${name}.environment must be a map of OPFLEET_* variables`);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(environment as Record<string, unknown>)) {
    // Only opfleet's own variables: AWS credentials or the database URL in plain task
    // definition text would be readable by anyone allowed to describe the task.
    if (!/^OPFLEET_[A-Z0-9_]+$/.test(k) || k === "OPFLEET_DATABASE_URL") {
      throw new SettingsError(
        `opfleet:${name}.environment.${k}: only OPFLEET_* variables other than OPFLEET_DATABASE_URL may be set here`,
      );
    }
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new SettingsError(`opfleet:${name}.environment.${k} must be a string`);
    }
    env[k] = String(v);
  }
  return {
    cpu: int(raw, `${name}.cpu`, defaults.cpu, 128, 16384),
    memory: int(raw, `${name}.memory`, defaults.memory, 128, 122880),
    desiredCount: int(raw, `${name}.desiredCount`, defaults.desiredCount, 0, 1000),
    environment: env,
  };
}

function int(raw: Record<string, unknown>, path: string, fallback: number, min: number, max: number): number {
  const key = path.split(".").pop() as string;
  const value = raw[key];
  if (value === undefined) return fallback;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SettingsError(`opfleet:${path} must be a whole number from ${min} to ${max}, not '${String(value)}'`);
  }
  return n;
}

// Typed access to the flat `opfleet:*` strings.
class Reader {
  constructor(private readonly raw: Record<string, string>) {}

  string(key: string, fallback: string): string {
    return this.raw[key] ?? fallback;
  }

  int(key: string, fallback: number, min: number, max: number): number {
    return int(this.raw, key, fallback, min, max);
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    throw new SettingsError(`opfleet:${key} must be true or false, not '${value}'`);
  }

  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    if (!(choices as readonly string[]).includes(value)) {
      throw new SettingsError(`opfleet:${key} must be one of ${choices.join(", ")}, not '${value}'`);
    }
    return value as T;
  }

  private json(key: string): unknown {
    const value = this.raw[key];
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value);
    } catch {
      throw new SettingsError(`opfleet:${key} must be a structured value (a YAML list or map)`);
    }
  }

  stringList(key: string): string[] {
    const value = this.json(key);
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && v !== "")) {
      throw new SettingsError(`opfleet:${key} must be a list of non-empty strings`);
    }
    return value as string[];
  }

  stringMap(key: string): Record<string, string> {
    const value = this.json(key);
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new SettingsError(`opfleet:${key} must be a map`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = String(v);
    return out;
  }

  object(key: string, allowed: string[]): Record<string, unknown> {
    const value = this.json(key);
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new SettingsError(`opfleet:${key} must be a map`);
    }
    for (const k of Object.keys(value as object)) {
      if (!allowed.includes(k)) {
        throw new SettingsError(`unknown key '${k}' in opfleet:${key} (known: ${allowed.join(", ")})`);
      }
    }
    return value as Record<string, unknown>;
  }
}
