import { expect, test } from "@playwright/test";

// The public port tells a probe only whether to send traffic; the detail
// (mode, version, each dependency) is on the metrics listener.
test("the public probe is a bare status; the metrics listener reports the real Redis and S3", async ({
  request,
}) => {
  const res = await request.get("/readyz");
  expect(res.status()).toBe(200);
  expect(await res.json()).toEqual({ status: "ready" });
  expect(res.headers()["content-security-policy"]).toContain("'wasm-unsafe-eval'");
  expect(res.headers()["x-content-type-options"]).toBe("nosniff");

  const metrics = process.env.METRICS_URL;
  test.skip(!metrics, "METRICS_URL names the app's metrics listener (scripts/test.sh sets it)");
  const detail = await request.get(`${metrics}/healthz`);
  expect(detail.status()).toBe(200);
  const body = await detail.json();
  expect(body.status).toBe("ok");
  expect(body.sessionStore).toMatchObject({ backend: "redis", ok: true });
  expect(body.blobStore).toMatchObject({ backend: "s3", ok: true });
  expect(body.alex).toMatchObject({ backend: "sandbox", ok: true });
});
