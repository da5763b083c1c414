// A small app on the official Inngest JS SDK (v4), served with `inngest/node`. The test
// executor calls it exactly as the Dev Server would; tests/testing/test_js_sdk.py drives it.
import http from "node:http";

import { Inngest } from "inngest";
import { serve } from "inngest/node";

const inngest = new Inngest({
  id: "js-app",
  isDev: true,
  baseUrl: process.env.INNGEST_BASE_URL,
});

let flakyAttempts = 0;

const scenario = inngest.createFunction(
  { id: "scenario", triggers: [{ event: "js/start" }], retries: 2 },
  async ({ event, step }) => {
    const doubled = await step.run("double", () => event.data.n * 2);
    const retried = await step.run("flaky", () => {
      flakyAttempts += 1;
      if (flakyAttempts < 2) {
        throw new Error(`attempt ${flakyAttempts} failed`);
      }
      return flakyAttempts;
    });
    await step.sleep("nap", "1s");
    const parallel = await Promise.all([
      step.run("left", () => "L"),
      step.run("right", () => "R"),
    ]);
    const paid = await step.waitForEvent("paid", {
      event: "js/paid",
      timeout: "1h",
      if: "async.data.order == event.data.order",
    });
    await step.sendEvent("notify", { name: "js/done", data: { order: event.data.order } });
    return { doubled, retried, parallel, paid: paid ? paid.data.amount : null };
  },
);

const server = http.createServer(serve({ client: inngest, functions: [scenario] }));
server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
