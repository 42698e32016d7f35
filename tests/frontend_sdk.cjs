// Drives the official unleash-proxy-client (the browser SDK) from Node.js against a live Liftoff.
//
// Usage: node tests/frontend_sdk.cjs < job.json, where job.json is
//   {"module": ".../node_modules/unleash-proxy-client", "url": "http://127.0.0.1:PORT/api/frontend",
//    "token": "...", "features": ["key", ...], "users": ["id", ...], "post": false}
// Prints one JSON line: {"answers": {user: {feature: isEnabled}}, "variants": {user: {feature: name}},
//                        "errors": [...], "metricsSent": n}
"use strict";

const fs = require("node:fs");

async function main() {
  const watchdog = setTimeout(() => {
    process.stderr.write("frontend_sdk.cjs: no answer within 120 s\n");
    process.exit(2);
  }, 120000);
  watchdog.unref();
  const job = JSON.parse(fs.readFileSync(0, "utf8"));
  const { UnleashClient, InMemoryStorageProvider } = require(job.module);
  const errors = [];
  let metricsSent = 0;
  const client = new UnleashClient({
    url: job.url,
    clientKey: job.token,
    appName: "liftoff-node-test",
    disableRefresh: true, // each updateContext fetches; no timer keeps the process alive
    metricsInterval: 3600,
    metricsIntervalInitial: 0, // no delayed first send that stop() could not cancel
    storageProvider: new InMemoryStorageProvider(),
    usePOSTrequests: Boolean(job.post),
  });
  client.on("error", (error) => errors.push(String(error && (error.code || error.message || error))));
  client.on("sent", () => { metricsSent += 1; });
  await client.start();
  const answers = {};
  const variants = {};
  for (const user of job.users) {
    // Once a fetch has failed (a refused token) the SDK's updateContext waits for a "ready" that
    // never comes; its answers are then its empty defaults, which is what the test looks at.
    if (client.isReady()) await client.updateContext({ userId: user });
    answers[user] = {};
    variants[user] = {};
    for (const feature of job.features) {
      answers[user][feature] = client.isEnabled(feature);
      variants[user][feature] = client.getVariant(feature).name;
    }
  }
  await client.sendMetrics(); // to <url>/client/metrics, as a browser does every interval
  client.stop();
  process.stdout.write(JSON.stringify({ answers, variants, errors, metricsSent }) + "\n");
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
    process.exit(1);
  },
);
