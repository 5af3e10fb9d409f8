#!/usr/bin/env node
// npm `@openid4vc/openid4vp` 0.4.6 as an OpenID4VP wallet, for verifier/tests/openid4vp_peer.rs
// (direction 2: Tessera's verifier asks, the peer answers).
//
//   node openid4vp_wallet.mjs CONFIG.json
//
// CONFIG: {"wallet_url": what the QR code holds, "x509_roots": [base64 DER] (the federation
//          CA roots the request object's x5c must chain to), "credential": an issued SD-JWT VC
//          (JWT~disclosures~), "holder_key": private P-256 JWK (its cnf key),
//          "tamper": null | "kb_aud" | "kb_nonce" (make the KB-JWT for another audience or
//          nonce, on purpose), "trust_anchor": entity id (openid_federation client ids),
//          "federation_fallback": null | "x5c" (when @openid-federation/core refuses the RP's
//          chain, trust the request object's x5c instead: a workaround, reported)}
// A request_uri with request_uri_method=post is POSTed by the library as it does it: an empty
// form (it sends neither wallet_metadata nor wallet_nonce unless given wallet metadata).
//
// Steps, each with the library: parse the URL; resolve it (fetch the request object, verify
// its signature and x5c through our verifyJwt callback, the x509_hash client id against the
// leaf, the request parameters); present the credential with @sd-jwt/sd-jwt-vc (KB-JWT aud =
// the client_id, nonce = the request's; the claims the DCQL query names, top-level paths);
// create the response encrypted to the verifier's key from client_metadata (ECDH-ES,
// direct_post.jwt); submit it. The library has no DCQL matcher (the separate `dcql` package
// is one): this script answers the first Credential Query with the one credential it holds.
// Stdout, one JSON document per line:
//   {"event":"resolved","client":{"prefix","identifier","effective"},"version","send_by","signer","response_mode","response_uri","query_id","disclosed"}
//   {"event":"federation_fallback","reason"}    when the x5c workaround was taken
//   {"event":"submitted","status","body"}
//   {"event":"error","error","error_response"}  on any failure (exit 1)
// Exit 0 when the verifier answered 2xx, 1 otherwise (the reason on stderr), 2 on usage.
import { createPublicKey, verify } from 'node:crypto';
import { resolveTrustChains } from '@openid-federation/core';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { callbacks, emit, now, random, readJson, verifyX5c } from './openid4vp_common.mjs';

if (process.argv.length !== 3) {
  process.stderr.write('usage: openid4vp_wallet.mjs CONFIG.json\n');
  process.exit(2);
}
const cfg = readJson(process.argv[2]);

// openid_federation client ids: the library makes a `federation` signer (kid, and a
// trust_chain read from the request object's payload, where IT-Wallet puts it in the header)
// and leaves trust entirely to the callback. Ours resolves the RP's chain to
// cfg.trust_anchor with @openid-federation/core and takes the key by kid from the resolved
// openid_credential_verifier metadata, which the response then needs (clientMetadata).
let federationMetadata;
async function federation(signer, { header, payload }) {
  if (!cfg.trust_anchor) throw new Error('no trust_anchor configured for openid_federation');
  const entityId = payload.client_id.replace(/^openid_federation:/, '');
  const verifyJwtCallback = async ({ header: h, jwk, data, signature }) => {
    if (h.alg !== 'ES256') throw new Error(`unsupported alg ${h.alg}`);
    return verify('sha256', data, { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature);
  };
  let md;
  try {
    const chains = await resolveTrustChains({ entityId, trustAnchorEntityIds: [cfg.trust_anchor], verifyJwtCallback });
    md = chains[0]?.resolvedLeafMetadata?.openid_credential_verifier;
    if (!md) throw new Error(`no chain with openid_credential_verifier metadata from ${entityId} to ${cfg.trust_anchor}`);
  } catch (e) {
    if (cfg.federation_fallback !== 'x5c' || !header.x5c) throw e;
    // Workaround (cfg.federation_fallback = "x5c"): trust the request object's x5c (chained
    // to the federation CA) instead, and take the metadata from its client_metadata.
    emit({ event: 'federation_fallback', reason: describe(e) });
    federationMetadata = payload.client_metadata;
    return verifyX5c(header.x5c, cfg.x509_roots ?? []).publicKey.export({ format: 'jwk' });
  }
  const key = md.jwks?.keys?.find((k) => k.kid === signer.kid);
  if (!key) throw new Error(`kid ${signer.kid} not in the RP's openid_credential_verifier jwks`);
  federationMetadata = md;
  return key;
}
const cb = callbacks({ x509Roots: cfg.x509_roots ?? [], federation });
const client = new Openid4vpClient({ callbacks: cb });

async function main() {
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: cfg.wallet_url });
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params });
  const request = resolved.authorizationRequestPayload;
  const query = resolved.dcql?.query?.credentials?.[0];
  if (!query) throw new Error('no DCQL Credential Query in the request');
  const names = (query.claims ?? []).map((c) => c.path?.[0]).filter((n) => typeof n === 'string');

  const holder = new SDJwtVcInstance({ hasher: digest, kbSigner: await ES256.getSigner(cfg.holder_key), kbSignAlg: 'ES256' });
  const disclosed = names.length > 0 ? names : await holder.presentableKeys(cfg.credential);
  const kbPayload = { iat: now(), aud: request.client_id, nonce: request.nonce };
  if (cfg.tamper === 'kb_aud') kbPayload.aud = 'x509_hash:another-verifier';
  if (cfg.tamper === 'kb_nonce') kbPayload.nonce = random(32);
  const presentation = await holder.present(cfg.credential, Object.fromEntries(disclosed.map((k) => [k, true])), { kb: { payload: kbPayload } });
  emit({
    event: 'resolved',
    client: { prefix: resolved.client.prefix, identifier: resolved.client.identifier, effective: resolved.client.effective },
    version: resolved.version,
    send_by: resolved.jar?.sendBy,
    signer: resolved.jar?.signer?.method,
    response_mode: request.response_mode,
    response_uri: request.response_uri,
    query_id: query.id,
    disclosed,
  });

  const response = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    clientMetadata: resolved.client.prefix === 'openid_federation' ? federationMetadata : undefined,
    authorizationResponsePayload: { vp_token: { [query.id]: [presentation] } },
    jarm: {
      encryption: { nonce: random(16) },
      serverMetadata: {
        authorization_signing_alg_values_supported: ['ES256'],
        authorization_encryption_alg_values_supported: ['ECDH-ES'],
        authorization_encryption_enc_values_supported: ['A256GCM', 'A128GCM'],
      },
    },
  });
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: request,
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
  });
  const text = await submitted.response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  emit({ event: 'submitted', status: submitted.response.status, body });
  return submitted.response.ok;
}

// An error and its causes (the libraries wrap: Oauth2Error <- OpenIdFederationError <- ZodError).
function describe(e) {
  const parts = [];
  for (let c = e, depth = 0; c && depth < 6; c = c.cause, depth++) {
    if (Array.isArray(c.issues)) parts.push(JSON.stringify(c.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))));
    else parts.push(`${c.message ?? c}`);
  }
  return parts.join(' <- ');
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (e) => {
    process.stderr.write(`openid4vp_wallet: ${e?.stack ?? e}${e?.errorResponse ? ` ${JSON.stringify(e.errorResponse)}` : ''}\n`);
    emit({ event: 'error', error: describe(e), error_response: e?.errorResponse });
    process.exit(1);
  },
);
