// The OpenID Provider the web IDE's sign-in tests talk to:
// node-oidc-provider (OpenID Certified), with its development login and
// consent pages (any login and password is accepted), a public client
// `rat-ide` that must use PKCE, and ID tokens that carry the profile,
// email and groups claims the scopes ask for.
//
//   node issuer.mjs   prints {"issuer": URL} once it listens (a free port)
//   POST URL/test/client {"redirect_uri": ...}   registers rat's callback
//
// The redirect URI is registered after start because rat's port is only
// known once rat, configured with this issuer, is listening.
import http from "node:http";
import Provider from "oidc-provider";

let provider = null;
let issuer = null;

function configure(redirectUri) {
  const next = new Provider(issuer, {
    clients: [
      {
        client_id: "rat-ide",
        token_endpoint_auth_method: "none",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    scopes: ["openid", "profile", "email", "groups"],
    claims: { openid: ["sub"], profile: ["name"], email: ["email"], groups: ["groups"] },
    // The claims the scopes grant go into the ID token (rat reads it).
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, name: `${id} (test)`, email: `${id}@example.com`, groups: ["admin"] }),
    }),
    cookies: { keys: ["test-only-cookie-key-0123456789"] },
    features: { devInteractions: { enabled: true } },
  });
  next.on("server_error", (_ctx, error) => console.error(error));
  provider = next;
}

const server = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/test/client") {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      configure(JSON.parse(body).redirect_uri);
      res.end("ok");
    });
    return;
  }
  if (!provider) {
    res.statusCode = 503;
    res.end("no client registered yet: POST /test/client");
    return;
  }
  provider.callback()(req, res);
});

server.listen(0, "127.0.0.1", () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ issuer }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
