// A local OpenID Connect provider for the dashboard's single sign-on tests: oidc-provider (OpenID
// Certified) with its built-in login and consent pages. Run by tests/dashboard/sso_support.py:
//   node idp.mjs '{"port": 12345, "client": {...}, "users": {"alice": {"email": ..., "groups": [...]}}}'
// Any password is accepted at the login page; the login names a user of the plan.
import Provider from "oidc-provider";

const plan = JSON.parse(process.argv[2]);
const users = plan.users;

const provider = new Provider(`http://localhost:${plan.port}`, {
  clients: [{
    client_id: plan.client.client_id,
    client_secret: plan.client.client_secret,
    redirect_uris: plan.client.redirect_uris,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
    team: ["team"],
  },
  pkce: { required: () => true },
  cookies: { keys: ["switchpoint-tests-idp-cookie-key"] },
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: user.name || id, email: user.email, email_verified: user.email_verified ?? true,
                 groups: user.groups || [], team: user.team };
      },
    };
  },
});
provider.on("server_error", (ctx, err) => console.error("idp server_error", err));
const server = provider.listen(plan.port, "127.0.0.1", () => console.log(`READY ${plan.port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
// The test's process group may die without signalling us: stop when stdin closes.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
