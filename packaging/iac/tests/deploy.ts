// Test helpers: run the program under mocks in a child process (run-stack.ts), and read a
// parameter file the way Pulumi hands its values to the program.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import * as yaml from "js-yaml";

import type { Deployment, RecordedResource } from "./run-stack";

export const IAC_DIR = path.resolve(__dirname, "..", "..");
const RUNNER = path.join(__dirname, "run-stack.js");

// Pulumi passes every config value as a string; structured values (lists, maps) as JSON.
export function parameterFile(stack: string): Record<string, string> {
  const file = path.join(IAC_DIR, `Pulumi.${stack}.yaml`);
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    out[key] = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  }
  return out;
}

export function stacks(): string[] {
  return fs
    .readdirSync(IAC_DIR)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function deployInChild(stack: string, config: Record<string, string>): Deployment {
  const out = execFileSync(process.execPath, [RUNNER, stack, JSON.stringify(config)], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as Deployment;
}

// A deployment expected to be refused: returns its error output.
export function failingDeploy(stack: string, config: Record<string, string>): string {
  const r = spawnSync(process.execPath, [RUNNER, stack, JSON.stringify(config)], { encoding: "utf8" });
  if (r.status === 0) throw new Error(`stack ${stack} deployed, but should have been refused`);
  return r.stderr;
}

export function ofType(d: Deployment, type: string): RecordedResource[] {
  return d.resources.filter((r) => r.type === type);
}

export function one(d: Deployment, type: string, name: string): RecordedResource {
  const found = d.resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${d.resources.map((r) => `${r.type} ${r.name}`).join(", ")})`);
  }
  return found[0] as RecordedResource;
}
