import { expect, test } from "@playwright/test";

test("healthz reports the real Redis and S3 as reachable", async ({ request }) => {
  const res = await request.get("/healthz");
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.status).toBe("ok");
  expect(body.sessionStore).toMatchObject({ backend: "redis", ok: true });
  expect(body.blobStore).toMatchObject({ backend: "s3", ok: true });
  expect(body.alex).toMatchObject({ backend: "sandbox", ok: true });
  expect(res.headers()["content-security-policy"]).toContain("'wasm-unsafe-eval'");
  expect(res.headers()["x-content-type-options"]).toBe("nosniff");
});
