// ECS container definitions of the opfleet services: which `opfleet` command each task
// runs, its configuration (OPFLEET_* variables, docs/configuration.md), where its logs go,
// how ECS checks and stops it. Pure functions of plain values, so tests read them as JSON.

import type { Settings } from "./settings";

export type ServiceName = "supervisor" | "scaler" | "scheduler" | "migrate";

export interface ContainerInputs {
  logGroupName: string;
  databaseSecretArn: string;
  clusterName: string;
  supervisorServiceName: string;
}

interface KeyValue {
  name: string;
  value: string;
}

export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  command: string[];
  environment: KeyValue[];
  secrets: { name: string; valueFrom: string }[];
  logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
  stopTimeout?: number;
  healthCheck?: {
    command: string[];
    interval: number;
    timeout: number;
    retries: number;
    startPeriod: number;
  };
  linuxParameters: { initProcessEnabled: boolean };
  readonlyRootFilesystem: boolean;
  mountPoints: { sourceVolume: string; containerPath: string; readOnly: boolean }[];
}

// Where the scaler serves /healthz inside its task.
export const SCALER_HEALTH_PORT = 9188;

// The scratch volume every task mounts on /tmp, since the root file system is read-only.
export const SCRATCH_VOLUME = "scratch";

export function commandFor(service: ServiceName, s: Settings): string[] {
  switch (service) {
    case "supervisor":
      return [
        "supervise",
        "--instance",
        "ecs",
        "--workers",
        String(s.supervisor.workers),
        "--slots",
        String(s.supervisor.slots),
        "--drain-timeout-s",
        String(s.supervisor.drainTimeoutS),
        // Loopback only: the health check runs inside the task, and nothing outside the
        // task needs /metrics until a scraper is deployed next to it.
        "--http-listen",
        `127.0.0.1:${s.supervisor.metricsPort}`,
      ];
    case "scaler":
      // `scale --run`: the control loop (plain `scale --workers N` sets one local
      // supervisor's count). /healthz on loopback, for the task's health check.
      return ["scale", "--run", "--actuator", "ecs", "--http-listen", `127.0.0.1:${SCALER_HEALTH_PORT}`];
    case "scheduler":
      return ["schedule"];
    case "migrate":
      return ["migrate"];
  }
}

function environmentFor(service: ServiceName, s: Settings, c: ContainerInputs): KeyValue[] {
  const env: Record<string, string> = {
    OPFLEET_LOG_FORMAT: "json", // one JSON object per line: CloudWatch Logs Insights parses it
    OPFLEET_REGION: s.region,
  };
  if (service !== "migrate") {
    env["OPFLEET_QUEUE_NAME"] = s.queue.name;
    env["OPFLEET_DLQ_NAME"] = s.queue.dlqName;
    if (s.endpointForTasks !== "") env["OPFLEET_SQS_ENDPOINT"] = s.endpointForTasks;
  }
  if (service === "scaler") {
    env["OPFLEET_ECS_CLUSTER"] = c.clusterName;
    env["OPFLEET_ECS_SERVICE"] = c.supervisorServiceName;
    if (s.endpointForTasks !== "") env["OPFLEET_ECS_ENDPOINT"] = s.endpointForTasks;
  }
  if (service === "supervisor" || service === "scaler" || service === "scheduler") {
    Object.assign(env, s[service].environment);
  }
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name] as string }));
}

function healthCheck(port: number): NonNullable<ContainerDefinition["healthCheck"]> {
  return {
    command: ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${port}/healthz`],
    interval: 15,
    timeout: 5,
    retries: 3,
    startPeriod: 30,
  };
}

export function containerDefinition(service: ServiceName, s: Settings, c: ContainerInputs): ContainerDefinition {
  const def: ContainerDefinition = {
    name: service,
    image: s.image,
    essential: true,
    command: commandFor(service, s),
    environment: environmentFor(service, s, c),
    // The URL carries the database password: ECS fetches it from Secrets Manager when the
    // task starts, so it never appears in the task definition.
    secrets: [{ name: "OPFLEET_DATABASE_URL", valueFrom: c.databaseSecretArn }],
    logConfiguration: {
      logDriver: "awslogs",
      options: {
        "awslogs-group": c.logGroupName,
        "awslogs-region": s.region,
        "awslogs-stream-prefix": service,
      },
    },
    // An init process as PID 1 reaps orphans of `command` ops and forwards signals, so
    // the supervisor is not PID 1 (which ignores signals it has no handler for).
    linuxParameters: { initProcessEnabled: true },
    readonlyRootFilesystem: true,
    mountPoints: [{ sourceVolume: SCRATCH_VOLUME, containerPath: "/tmp", readOnly: false }],
  };
  if (service === "supervisor") {
    // SIGTERM starts the drain; ECS SIGKILLs after stopTimeout, which settings.ts keeps
    // above the drain timeout.
    def.stopTimeout = s.supervisor.stopTimeoutS;
    def.healthCheck = healthCheck(s.supervisor.metricsPort);
  }
  if (service === "scaler") def.healthCheck = healthCheck(SCALER_HEALTH_PORT);
  return def;
}
