// Runs the Unleash Proxy (npm @unleash/proxy) in front of Liftoff's client API on 127.0.0.1, for
// tests/test_unleash_proxy.py. Reads its job as JSON on stdin, prints "listening <port>" once bound,
// and runs until killed. The proxy's own start() listens on every interface; this binds loopback only.
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const job = JSON.parse(Buffer.concat(chunks).toString());
  const { createApp } = require(job.module);
  const app = createApp({
    unleashUrl: job.url,
    unleashApiToken: job.token,
    clientKeys: [job.clientKey],
    refreshInterval: job.refreshInterval,
    metricsInterval: 3600000,
    environment: "production",
    logLevel: "error",
  });
  const server = app.listen(0, "127.0.0.1", () => {
    console.log(`listening ${server.address().port}`);
  });
});
