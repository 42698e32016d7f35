// Drives the official server-side Node SDK, unleash-client, against a live Liftoff's client API.
//
// Usage: node tests/server_sdk.cjs < job.json, where job.json is
//   {"module": ".../node_modules/unleash-client", "url": "http://127.0.0.1:PORT/api", "token": "...",
//    "feature": "key", "users": ["id", ...]}
// Prints one JSON line: {"variants": {user: variant name}, "payloads": {user: payload value or null}}
"use strict";

const fs = require("node:fs");

async function main() {
  const watchdog = setTimeout(() => {
    process.stderr.write("server_sdk.cjs: not synchronised within 60 s\n");
    process.exit(2);
  }, 60000);
  watchdog.unref();
  const job = JSON.parse(fs.readFileSync(0, "utf8"));
  const { Unleash } = require(job.module);
  const client = new Unleash({
    url: job.url,
    appName: "liftoff-node-server-test",
    customHeaders: { Authorization: job.token },
    disableMetrics: true,
    refreshInterval: 3600000,
  });
  client.on("error", (error) => process.stderr.write(String(error && (error.message || error)) + "\n"));
  await new Promise((resolve) => client.once("synchronized", resolve));
  const variants = {};
  const payloads = {};
  for (const user of job.users) {
    const variant = client.getVariant(job.feature, { userId: user });
    variants[user] = variant.name;
    payloads[user] = variant.payload ? variant.payload.value : null;
  }
  client.destroy();
  process.stdout.write(JSON.stringify({ variants, payloads }) + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
    process.exit(1);
  },
);
