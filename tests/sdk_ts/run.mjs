// Calls every method of OpenRouter's TypeScript SDK (@openrouter/sdk) that maps to a route the gateway
// serves, against a running gateway, and prints one JSON object: each call's result (as the SDK parsed
// it) or its error. The SDK validates every response with its zod schemas, so a field the gateway
// leaves out or types wrongly shows up here as a ResponseValidationError.
//
// Usage: node run.mjs '<plan JSON>'   plan = {url, key, limitedKey, adminKey, chatModel, embedModel,
//                                             bareModel: [author, slug], externalKey,
//                                             failedGeneration}
// Exit status: 0 when every call succeeded, 1 otherwise (the output says which failed and why).

import { HTTPClient, OpenRouter } from "@openrouter/sdk";

const plan = JSON.parse(process.argv[2]);
const gateway = new URL(plan.url);

// The SDK must talk to the gateway only: any request elsewhere (the default server is openrouter.ai)
// fails the run instead of leaving the machine.
const loopbackOnly = new HTTPClient({
  fetcher: (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.host !== gateway.host) {
      throw new Error(`the SDK tried to reach ${url.origin}, not the gateway`);
    }
    return init == null ? fetch(input) : fetch(input, init);
  },
});

function client(apiKey) {
  return new OpenRouter({
    apiKey,
    serverURL: `${plan.url}/api/v1`,
    httpClient: loopbackOnly,
    retryConfig: { strategy: "none" },
    timeoutMs: 20000,
  });
}

const results = {};
let failed = false;

function plain(value) {
  // Dates, Maps and class instances as JSON: what the caller of the SDK would see.
  return JSON.parse(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? Number(v) : v)));
}

async function call(name, fn) {
  try {
    results[name] = { ok: plain(await fn()) };
  } catch (err) {
    failed = true;
    const detail = typeof err.pretty === "function" ? err.pretty() : String(err.stack || err);
    results[name] = { error: err.name || "Error", message: detail };
  }
  return results[name].ok;
}

async function expectError(name, fn) {
  // Error answers must parse too: the SDK maps the envelope to its own error class by status.
  try {
    await fn();
    failed = true;
    results[name] = { error: "NoError", message: "the call succeeded but an error was expected" };
  } catch (err) {
    const parsed = err.constructor && err.constructor.name;
    if (err.name === "ResponseValidationError" || err.name === "SDKValidationError" || !("statusCode" in err)) {
      failed = true;
      results[name] = { error: err.name, message: typeof err.pretty === "function" ? err.pretty() : String(err) };
    } else {
      results[name] = { raised: parsed, status: err.statusCode, message: err.message };
    }
  }
}

async function pages(iterator) {
  const out = [];
  for await (const page of await iterator) {
    out.push(page.result ?? page);
    if (out.length > 50) throw new Error("pagination does not end");
  }
  return out;
}

const user = client(plan.key);
const limited = client(plan.limitedKey);
const admin = client(plan.adminKey);
const messages = [{ role: "user", content: "What is the capital of France?" }];

// Inference
const reply = await call("chat.send", () => user.chat.send({ chatRequest: { model: plan.chatModel, messages } }));
await call("chat.send(stream)", async () => {
  const stream = await user.chat.send({ chatRequest: { model: plan.chatModel, messages, stream: true } });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
});
await call("embeddings.generate", () =>
  user.embeddings.generate({ requestBody: { model: plan.embedModel, input: "hello" } }));

// Catalogue
await call("models.list", () => pages(user.models.list()));
await call("models.list(limit=1)", () => pages(user.models.list({ limit: 1 })));
await call("models.count", () => user.models.count());
await call("models.get", () => user.models.get({ author: plan.chatModel.split("/")[0], slug: plan.chatModel.split("/")[1] }));
await call("models.listForUser", () => pages(user.models.listForUser({ bearer: plan.key })));
await call("embeddings.listModels", () => pages(user.embeddings.listModels()));
await call("endpoints.list", () => user.endpoints.list({ author: plan.chatModel.split("/")[0], slug: plan.chatModel.split("/")[1] }));
await call("endpoints.list(bare model)", () => user.endpoints.list({ author: plan.bareModel[0], slug: plan.bareModel[1] }));
await call("endpoints.list(embedding model)", () =>
  user.endpoints.list({ author: plan.embedModel.split("/")[0], slug: plan.embedModel.split("/")[1] }));
// the router model (switchpoint/auto) has no endpoints of its own and is priced per the model it picks
await call("models.get(router)", () => user.models.get({ author: "switchpoint", slug: "auto" }));
await call("endpoints.list(router)", () => user.endpoints.list({ author: "switchpoint", slug: "auto" }));
await call("providers.list", () => user.providers.list());
await expectError("models.get(unknown)", () => user.models.get({ author: "no", slug: "such-model" }));

// Accounting
if (reply) {
  await call("generations.getGeneration", () => user.generations.getGeneration({ id: reply.id }));
}
await call("generations.getGeneration(no provider served)", () =>
  user.generations.getGeneration({ id: plan.failedGeneration }));
await call("apiKeys.getCurrentKeyMetadata", () => user.apiKeys.getCurrentKeyMetadata());
await call("apiKeys.getCurrentKeyMetadata(limited)", () => limited.apiKeys.getCurrentKeyMetadata());
await call("credits.getCredits", () => user.credits.getCredits());
await call("credits.getCredits(limited)", () => limited.credits.getCredits());
await call("credits.getCredits(admin)", () => admin.credits.getCredits());
await call("analytics.getUserActivity", () => user.analytics.getUserActivity());
await call("analytics.getUserActivity(admin)", () => admin.analytics.getUserActivity());
await call("analytics.getUserActivity(date)", () =>
  admin.analytics.getUserActivity({ date: new Date().toISOString().slice(0, 10) }));
await expectError("chat.send(wrong key)", () =>
  client("sk-sp-v1-wrong-key-0000000000000000").chat.send({ chatRequest: { model: plan.chatModel, messages } }));

// Key management (the admin key)
const created = await call("apiKeys.create", () =>
  admin.apiKeys.create({ requestBody: { name: "from the TypeScript SDK", limit: 3, limitReset: "weekly" } }));
await call("apiKeys.create(no limit)", () => admin.apiKeys.create({ requestBody: { name: "unlimited" } }));
await call("apiKeys.create(external)", () => admin.apiKeys.create({
  requestBody: {
    name: "for a partner's user", expiresAt: new Date(Date.now() + 86400000),
    external: { user: "end-user-7", apiKey: plan.externalKey },
  },
}));
await call("apiKeys.list", () => admin.apiKeys.list());
if (created) {
  const hash = created.data.hash;
  await call("apiKeys.get", () => admin.apiKeys.get({ hash }));
  await call("apiKeys.update", () =>
    admin.apiKeys.update({ hash, requestBody: { name: "renamed", disabled: true, limit: 4 } }));
  await call("apiKeys.list(include disabled)", () => admin.apiKeys.list({ includeDisabled: true }));
  await call("apiKeys.delete", () => admin.apiKeys.delete({ hash }));
  await expectError("apiKeys.get(deleted)", () => admin.apiKeys.get({ hash }));
}

process.stdout.write(JSON.stringify(results));
process.exitCode = failed ? 1 : 0;
