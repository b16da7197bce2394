// Starts the fauxqs SQS emulator bound to 127.0.0.1 only.
// fauxqs 2.4.1 hard-codes listen({host: "0.0.0.0"}); we rewrite the host of every
// listen() call in this process before importing it, so the emulator is never
// reachable from outside the machine.
//   node fauxqs-loopback.mjs --port N [--port-file FILE]    (N = 0 picks a free port)
import net from "node:net";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
function arg(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const port = parseInt(arg("--port", "0"), 10);
const portFile = arg("--port-file", "");
const modulesDir = arg("--modules", process.env.OPFLEET_FAUXQS_MODULES || "");

const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...listenArgs) {
  if (listenArgs.length > 0 && typeof listenArgs[0] === "object" && listenArgs[0] !== null) {
    listenArgs[0] = { ...listenArgs[0], host: "127.0.0.1" };
  } else if (typeof listenArgs[0] === "number" || typeof listenArgs[0] === "string") {
    if (typeof listenArgs[1] === "string") listenArgs[1] = "127.0.0.1";
    else listenArgs.splice(1, 0, "127.0.0.1");
  }
  return originalListen.apply(this, listenArgs);
};

if (!modulesDir) {
  console.error("fauxqs-loopback: --modules DIR (the node_modules holding fauxqs) is required");
  process.exit(2);
}
const entry = pathToFileURL(path.join(modulesDir, "fauxqs", "dist", "app.js")).href;
const { startFauxqs } = await import(entry);
const server = await startFauxqs({ port, logger: process.env.FAUXQS_LOGGER === "true", host: "127.0.0.1" });
const actual = server.port;
if (portFile) {
  fs.writeFileSync(portFile + ".tmp", String(actual));
  fs.renameSync(portFile + ".tmp", portFile);
}
console.log(`fauxqs listening on http://127.0.0.1:${actual}`);
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    try { await server.stop(); } catch (e) { /* exiting anyway */ }
    process.exit(0);
  });
}
