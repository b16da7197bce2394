// Entry point of the Pulumi program (Pulumi.yaml): read the stack's parameters
// (Pulumi.<stack>.yaml), deploy, and export what operators and opfleet need to reach it.
import * as pulumi from "@pulumi/pulumi";

import { readSettings } from "./src/settings";
import { deploy } from "./src/stack";

const out = deploy(readSettings(pulumi.runtime.allConfig(), pulumi.getStack()));

export const environment = out.environment;
export const target = out.target;
export const region = out.region;
export const queueName = out.queueName;
export const queueUrl = out.queueUrl;
export const queueArn = out.queueArn;
export const dlqName = out.dlqName;
export const dlqUrl = out.dlqUrl;
export const dlqArn = out.dlqArn;
export const sqsEndpoint = out.sqsEndpoint;
export const ecsEndpoint = out.ecsEndpoint;
export const clusterName = out.clusterName;
export const serviceNames = out.serviceNames;
export const migrateTaskDefinition = out.migrateTaskDefinition;
export const logGroups = out.logGroups;
export const databaseSecretArn = out.databaseSecretArn;
